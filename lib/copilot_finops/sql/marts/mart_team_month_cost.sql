-- grain: team_slug, period
-- materialized: table (every team, each month: what peers and trends are judged on; see warehouse.refresh_materialized)
-- Team cost and value quantities per calendar month (period YYYY-MM), joined per day as GitHub prescribes: a user
-- counts on the days they were on the team, and in both teams when on two. Seat-months come from
-- int_scope_month_seats (seat-days over the days of the month, so joiners and leavers are prorated). Merged changes
-- are pull requests merged by a member on a day they were on the team. Prompts and requests are stg_user_day's
-- (IDE prompts + CLI prompts; IDE prompts + CLI requests); the accepted-output ratio leaves agent_edit out.
WITH member_days AS (
    SELECT m.team_slug, strftime(m.day, '%Y-%m') AS period, m.day, m.user_id,
           u.active, u.used_cli, u.prompts, u.requests, u.cli_requests, u.generations_excl_agent_edit, u.acceptances_excl_agent_edit,
           c.ai_credits, c.premium_requests,
           day(last_day(m.day)) AS days_in_month
    FROM int_team_member_day m
    LEFT JOIN int_user_day_usage u USING (day, user_id)
    LEFT JOIN int_cost_user_day c USING (day, user_id)
),
team_months AS (
    SELECT team_slug, period,
           min(days_in_month) AS days_in_month,
           count(DISTINCT user_id) AS members,
           count(DISTINCT user_id) FILTER (WHERE active) AS active_developers,
           count(DISTINCT user_id) FILTER (WHERE used_cli) AS cli_developers,
           coalesce(sum(prompts), 0) AS prompts,
           coalesce(sum(requests), 0) AS requests,
           coalesce(sum(cli_requests), 0) AS cli_requests,
           coalesce(sum(generations_excl_agent_edit), 0) AS generations_excl_agent_edit,
           coalesce(sum(acceptances_excl_agent_edit), 0) AS acceptances_excl_agent_edit,
           coalesce(sum(ai_credits), 0) AS ai_credits,
           coalesce(sum(premium_requests), 0) AS premium_requests
    FROM member_days
    GROUP BY team_slug, period
),
merged AS (
    SELECT m.team_slug, strftime(p.merged_day, '%Y-%m') AS period, count(*) AS merged_prs  -- one row per PR: members is distinct per day
    FROM stg_pull_request p
    JOIN int_team_member_day m ON m.user_id = p.author_id AND m.day = p.merged_day
    WHERE p.merged_day IS NOT NULL
    GROUP BY ALL
)
SELECT t.team_slug, t.period, t.days_in_month, t.members, t.active_developers, t.cli_developers,
       coalesce(s.seat_months, 0) AS seat_months,
       coalesce(s.business_seat_months, 0) AS business_seat_months,
       coalesce(s.enterprise_seat_months, 0) AS enterprise_seat_months,
       t.prompts, t.requests, t.cli_requests, t.generations_excl_agent_edit, t.acceptances_excl_agent_edit,
       t.ai_credits, t.premium_requests,
       coalesce(p.merged_prs, 0) AS merged_prs
FROM team_months t
LEFT JOIN int_scope_month_seats s ON s.team_slug = t.team_slug AND s.period = t.period
LEFT JOIN merged p ON p.team_slug = t.team_slug AND p.period = t.period
