-- One row per user and day with the usage measures every mart builds on.
-- active: the user did something with Copilot that day (a prompt, an output, or CLI use).
-- Acceptance measures leave out agent_edit: agent edits never carry acceptances, so counting
-- their generations would make heavy agent users look as if they reject everything.
WITH features AS (
    SELECT day, user_id,
           sum(code_generation_activity_count) FILTER (WHERE feature <> 'agent_edit') AS generations_excl_agent_edit,
           sum(code_acceptance_activity_count) FILTER (WHERE feature <> 'agent_edit') AS acceptances_excl_agent_edit,
           sum(user_initiated_interaction_count) FILTER (WHERE feature LIKE 'chat%') AS chat_interactions,
           sum(code_generation_activity_count) FILTER (WHERE feature = 'agent_edit') AS agent_edit_generations
    FROM user_day_feature
    GROUP BY day, user_id
)
SELECT u.day, u.user_id,
       (coalesce(u.user_initiated_interaction_count, 0) > 0 OR coalesce(u.code_generation_activity_count, 0) > 0
        OR coalesce(u.used_cli, false)) AS active,
       coalesce(u.user_initiated_interaction_count, 0) AS interactions,
       coalesce(u.code_generation_activity_count, 0) AS generations,
       coalesce(u.code_acceptance_activity_count, 0) AS acceptances,
       coalesce(f.generations_excl_agent_edit, 0) AS generations_excl_agent_edit,
       coalesce(f.acceptances_excl_agent_edit, 0) AS acceptances_excl_agent_edit,
       coalesce(f.chat_interactions, 0) AS chat_interactions,
       coalesce(f.agent_edit_generations, 0) AS agent_edit_generations,
       coalesce(u.loc_suggested_to_add_sum, 0) AS loc_suggested,
       coalesce(u.loc_added_sum, 0) AS loc_added,
       coalesce(u.loc_deleted_sum, 0) AS loc_deleted,
       coalesce(u.used_chat, false) AS used_chat,
       coalesce(u.used_agent, false) AS used_agent,
       coalesce(u.used_cli, false) AS used_cli,
       coalesce(u.cli_sessions, 0) AS cli_sessions,
       coalesce(u.cli_requests, 0) AS cli_requests,
       coalesce(u.cli_prompts, 0) AS cli_prompts,
       coalesce(u.cli_prompt_tokens, 0) AS cli_prompt_tokens,
       coalesce(u.cli_output_tokens, 0) AS cli_output_tokens,
       coalesce(u.ai_credits_used, 0) AS ai_credits_used,
       u.ai_credits_used IS NOT NULL AS ai_credits_reported
FROM user_day u
LEFT JOIN features f USING (day, user_id)
