-- grain: team_slug, day
-- Team usage per day: users joined to their teams per day (GitHub's join rule). A user on two
-- teams counts in both; the org view (mart_org_day_usage) counts each user once.
SELECT * FROM int_scope_day_usage WHERE team_slug IS NOT NULL
