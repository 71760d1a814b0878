-- grain: day, user_id
-- The users report (users-1-day, or the 28-day bootstrap), one row per user and day, with missing counters as 0
-- and missing flags as false so that sums never turn NULL. Derived per row:
-- active: the user did something with Copilot that day (a prompt, an output, or CLI use).
-- prompts: what people asked, IDE prompts + CLI prompts, the one definition every prompts figure sums (the
-- 'per active developer' figure of the reports).
-- requests: IDE prompts + CLI requests, which count the CLI agent's automatic follow-ups too: the one definition
-- every requests figure sums.
-- ai_credits_reported: the row carries GitHub's ai_credits_used (reported since 2026-06-19); ai_credits_used is 0
-- where it does not. adoption_phase: GitHub's ai_adoption_phase.phase_number (NULL where not reported).
SELECT day, user_id, user_login,
       (coalesce(user_initiated_interaction_count, 0) > 0 OR coalesce(code_generation_activity_count, 0) > 0
        OR coalesce(used_cli, false)) AS active,
       coalesce(user_initiated_interaction_count, 0) AS interactions,
       coalesce(code_generation_activity_count, 0) AS generations,
       coalesce(code_acceptance_activity_count, 0) AS acceptances,
       coalesce(loc_suggested_to_add_sum, 0) AS loc_suggested,
       coalesce(loc_added_sum, 0) AS loc_added,
       coalesce(loc_deleted_sum, 0) AS loc_deleted,
       coalesce(used_chat, false) AS used_chat,
       coalesce(used_agent, false) AS used_agent,
       coalesce(used_cli, false) AS used_cli,
       coalesce(cli_sessions, 0) AS cli_sessions,
       coalesce(cli_requests, 0) AS cli_requests,
       coalesce(cli_prompts, 0) AS cli_prompts,
       coalesce(cli_prompt_tokens, 0) AS cli_prompt_tokens,
       coalesce(cli_output_tokens, 0) AS cli_output_tokens,
       coalesce(ai_credits_used, 0) AS ai_credits_used,
       ai_credits_used IS NOT NULL AS ai_credits_reported,
       coalesce(user_initiated_interaction_count, 0) + coalesce(cli_prompts, 0) AS prompts,
       coalesce(user_initiated_interaction_count, 0) + coalesce(cli_requests, 0) AS requests,
       adoption_phase
FROM user_day
