-- grain: day
-- Org usage per day, each user counted once (teams overlap; the org does not).
SELECT * EXCLUDE (team_slug) FROM int_scope_day_usage WHERE team_slug IS NULL
