-- Team cost and value quantities per calendar month (period YYYY-MM), joined per day as GitHub prescribes: a user
-- counts on the days they were on the team, and in both teams when on two. Seat-months are seat-days over the days
-- of the month, so joiners and leavers are prorated. Merged changes are pull requests merged by a member on a day
-- they were on the team. Requests = IDE prompts + CLI requests; the accepted-output ratio leaves agent_edit out.
WITH members AS (SELECT DISTINCT day, user_id, team_slug FROM stg_user_team_day WHERE team_slug IS NOT NULL),
member_days AS (
    SELECT m.team_slug, strftime(m.day, '%Y-%m') AS period, m.day, m.user_id,
           s.plan_type, u.active, u.interactions, u.cli_requests, u.generations_excl_agent_edit,
           u.acceptances_excl_agent_edit, c.ai_credits, c.premium_requests,
           day(last_day(m.day)) AS days_in_month
    FROM members m
    LEFT JOIN int_cost_seat_day s USING (day, user_id)
    LEFT JOIN stg_user_day_usage u USING (day, user_id)
    LEFT JOIN int_cost_user_day c USING (day, user_id)
),
merged AS (
    SELECT m.team_slug, strftime(p.merged_at::DATE, '%Y-%m') AS period, count(*) AS merged_prs  -- one row per PR: members is distinct per day
    FROM pull_request p
    JOIN members m ON m.user_id = p.author_id AND m.day = p.merged_at::DATE
    WHERE p.merged_at IS NOT NULL
    GROUP BY ALL
)
SELECT d.team_slug, d.period,
       min(d.days_in_month) AS days_in_month,
       count(DISTINCT d.user_id) AS members,
       count(DISTINCT d.user_id) FILTER (WHERE d.active) AS active_developers,
       count(d.plan_type) / min(d.days_in_month) AS seat_months,
       count(d.plan_type) FILTER (WHERE d.plan_type = 'business') / min(d.days_in_month) AS business_seat_months,
       count(d.plan_type) FILTER (WHERE d.plan_type = 'enterprise') / min(d.days_in_month) AS enterprise_seat_months,
       coalesce(sum(d.interactions), 0) + coalesce(sum(d.cli_requests), 0) AS requests,
       coalesce(sum(d.cli_requests), 0) AS cli_requests,
       coalesce(sum(d.generations_excl_agent_edit), 0) AS generations_excl_agent_edit,
       coalesce(sum(d.acceptances_excl_agent_edit), 0) AS acceptances_excl_agent_edit,
       coalesce(sum(d.ai_credits), 0) AS ai_credits,
       coalesce(sum(d.premium_requests), 0) AS premium_requests,
       coalesce(min(p.merged_prs), 0) AS merged_prs
FROM member_days d
LEFT JOIN merged p USING (team_slug, period)
GROUP BY d.team_slug, d.period
