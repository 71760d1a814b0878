-- Team usage per day: users joined to their teams per day (GitHub's join rule). A user on two
-- teams counts in both; the org view (mart_org_day_usage) counts each user once.
SELECT m.team_slug, u.day,
       count(*) FILTER (WHERE u.active) AS active_users,
       count(*) FILTER (WHERE u.used_chat) AS chat_users,
       count(*) FILTER (WHERE u.used_agent) AS agent_users,
       count(*) FILTER (WHERE u.used_cli) AS cli_users,
       sum(u.interactions) AS interactions,
       sum(u.generations) AS generations,
       sum(u.acceptances) AS acceptances,
       sum(u.generations_excl_agent_edit) AS generations_excl_agent_edit,
       sum(u.acceptances_excl_agent_edit) AS acceptances_excl_agent_edit,
       sum(u.chat_interactions) AS chat_interactions,
       sum(u.loc_suggested) AS loc_suggested,
       sum(u.loc_added) AS loc_added,
       sum(u.loc_deleted) AS loc_deleted,
       sum(u.cli_sessions) AS cli_sessions,
       sum(u.cli_requests) AS cli_requests,
       sum(u.cli_prompts) AS cli_prompts,
       sum(u.cli_prompt_tokens) AS cli_prompt_tokens,
       sum(u.cli_output_tokens) AS cli_output_tokens,
       sum(u.ai_credits_used) AS ai_credits_used
FROM stg_user_team_day m
JOIN stg_user_day_usage u USING (day, user_id)
GROUP BY m.team_slug, u.day
