-- grain: team_slug, day, user_id
-- materialized: table (every team figure joins it; see warehouse.refresh_materialized)
-- Who was on which team each day, by team slug: the one membership every team figure joins to (GitHub's per-day
-- join rule, with the roster fallback of int_user_team_day). A user on two teams has a row in each, so counts in
-- both; rows without a slug are left out, and two team ids with one slug count once.
SELECT DISTINCT team_slug, day, user_id
FROM int_user_team_day
WHERE team_slug IS NOT NULL
