-- grain: team_slug, day, feature
-- Team usage per day and Copilot feature (IDE surfaces; the CLI is reported apart by GitHub).
SELECT m.team_slug, f.day, f.feature,
       count(DISTINCT f.user_id) AS users,
       sum(f.interactions) AS interactions,
       sum(f.generations) AS generations,
       sum(f.acceptances) AS acceptances,
       sum(f.loc_suggested) AS loc_suggested,
       sum(f.loc_added) AS loc_added
FROM int_team_member_day m
JOIN stg_user_day_feature f USING (day, user_id)
GROUP BY ALL
