-- grain: day, user_id
-- materialized: table (the per-feature sums read every feature row; see warehouse.refresh_materialized)
-- One row per user and day with the usage measures every mart builds on: stg_user_day's measures plus the
-- per-feature sums. Acceptance measures leave out agent_edit: agent edits never carry acceptances, so counting
-- their generations would make heavy agent users look as if they reject everything.
-- (Known before the SQL was layered as stg_user_day_usage, which is kept as an alias.)
WITH features AS (
    SELECT day, user_id,
           sum(generations) FILTER (WHERE feature <> 'agent_edit') AS generations_excl_agent_edit,
           sum(acceptances) FILTER (WHERE feature <> 'agent_edit') AS acceptances_excl_agent_edit,
           sum(interactions) FILTER (WHERE feature LIKE 'chat%') AS chat_interactions,
           sum(generations) FILTER (WHERE feature = 'agent_edit') AS agent_edit_generations
    FROM stg_user_day_feature
    GROUP BY day, user_id
)
SELECT u.day, u.user_id, u.active, u.interactions, u.generations, u.acceptances,
       coalesce(f.generations_excl_agent_edit, 0) AS generations_excl_agent_edit,
       coalesce(f.acceptances_excl_agent_edit, 0) AS acceptances_excl_agent_edit,
       coalesce(f.chat_interactions, 0) AS chat_interactions,
       coalesce(f.agent_edit_generations, 0) AS agent_edit_generations,
       u.loc_suggested, u.loc_added, u.loc_deleted, u.used_chat, u.used_agent, u.used_cli,
       u.cli_sessions, u.cli_requests, u.cli_prompts, u.cli_prompt_tokens, u.cli_output_tokens,
       u.ai_credits_used, u.ai_credits_reported, u.prompts, u.requests, u.user_login, u.adoption_phase
FROM stg_user_day u
LEFT JOIN features f USING (day, user_id)
