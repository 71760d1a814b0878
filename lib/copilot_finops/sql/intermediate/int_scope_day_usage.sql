-- grain: team_slug, day
-- materialized: table (org-wide: the org and every team, each day; see warehouse.refresh_materialized)
-- nullable: team_slug (NULL is the whole org)
-- Usage per day and scope, the one definition of the daily usage measures: team_slug NULL is the
-- whole org, each user counted once; otherwise a team, with users joined to their teams per day
-- (GitHub's join rule), so a user on two teams counts in both. mart_org_day_usage and
-- mart_team_day_usage are its two halves.
WITH scoped AS (
    SELECT NULL::VARCHAR AS team_slug, u.* FROM int_user_day_usage u
    UNION ALL
    SELECT m.team_slug, u.* FROM int_team_member_day m JOIN int_user_day_usage u USING (day, user_id)
)
SELECT team_slug, day,
       count(*) FILTER (WHERE active) AS active_users,
       count(*) FILTER (WHERE used_chat) AS chat_users,
       count(*) FILTER (WHERE used_agent) AS agent_users,
       count(*) FILTER (WHERE used_cli) AS cli_users,
       sum(interactions) AS interactions,
       sum(prompts) AS prompts,
       sum(requests) AS requests,
       sum(generations) AS generations,
       sum(acceptances) AS acceptances,
       sum(generations_excl_agent_edit) AS generations_excl_agent_edit,
       sum(acceptances_excl_agent_edit) AS acceptances_excl_agent_edit,
       sum(chat_interactions) AS chat_interactions,
       sum(loc_suggested) AS loc_suggested,
       sum(loc_added) AS loc_added,
       sum(loc_deleted) AS loc_deleted,
       sum(cli_sessions) AS cli_sessions,
       sum(cli_requests) AS cli_requests,
       sum(cli_prompts) AS cli_prompts,
       sum(cli_prompt_tokens) AS cli_prompt_tokens,
       sum(cli_output_tokens) AS cli_output_tokens,
       sum(ai_credits_used) AS ai_credits_used
FROM scoped
GROUP BY team_slug, day
