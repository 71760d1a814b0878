-- Team usage per day and model (chat, agent and completion models as GitHub attributes them).
SELECT m.team_slug, f.day, f.model,
       count(DISTINCT f.user_id) AS users,
       sum(f.user_initiated_interaction_count) AS interactions,
       sum(f.code_generation_activity_count) AS generations,
       sum(f.code_acceptance_activity_count) AS acceptances,
       sum(f.loc_added_sum) AS loc_added
FROM stg_user_team_day m
JOIN user_day_model_feature f USING (day, user_id)
GROUP BY ALL
