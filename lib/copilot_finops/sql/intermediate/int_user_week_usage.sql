-- grain: user_id, week_start
-- Copilot usage per user and ISO week (weeks start on Monday): the sums the high-burn detector
-- (patterns.py) builds its per-week features from. Acceptance sums leave out agent_edit, which
-- never carries acceptances. days_reported counts the days of the week with a users-1-day row.
SELECT u.user_id,
       arg_max(u.user_login, u.day) AS user_login,
       date_trunc('week', u.day)::DATE AS week_start,
       count(*) AS days_reported,
       count(*) FILTER (WHERE u.active) AS active_days,
       sum(u.interactions) AS interactions,
       sum(u.chat_interactions) AS chat_interactions,
       sum(u.generations) AS generations,
       sum(u.generations_excl_agent_edit) AS generations_excl_agent_edit,
       sum(u.acceptances_excl_agent_edit) AS acceptances_excl_agent_edit,
       sum(u.agent_edit_generations) AS agent_edit_generations,
       sum(u.loc_suggested) AS loc_suggested,
       sum(u.loc_added) AS loc_added,
       sum(u.cli_sessions) AS cli_sessions,
       sum(u.cli_requests) AS cli_requests,
       sum(u.cli_prompts) AS cli_prompts,
       sum(u.cli_prompt_tokens + u.cli_output_tokens) AS cli_tokens,
       CAST(sum(CAST(u.ai_credits_used AS DECIMAL(18, 4))) AS DOUBLE) AS ai_credits_used  -- exact: same bits every run
FROM int_user_day_usage u
GROUP BY u.user_id, date_trunc('week', u.day)
