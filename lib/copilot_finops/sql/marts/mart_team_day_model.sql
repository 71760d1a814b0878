-- grain: team_slug, day, model
-- Team usage per day and model (chat, agent and completion models as GitHub attributes them).
SELECT m.team_slug, f.day, f.model,
       count(DISTINCT f.user_id) AS users,
       sum(f.interactions) AS interactions,
       sum(f.generations) AS generations,
       sum(f.acceptances) AS acceptances,
       sum(f.loc_added) AS loc_added
FROM int_team_member_day m
JOIN stg_user_day_model_feature f USING (day, user_id)
GROUP BY ALL
