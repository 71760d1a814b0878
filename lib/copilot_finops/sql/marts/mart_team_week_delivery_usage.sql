-- grain: team_slug, week_start
-- materialized: table (every team, each week: the delivery window; see warehouse.refresh_materialized)
-- Copilot usage per team and week (weeks start on Monday), the usage side of the delivery
-- correlation (delivery_usage.py). Membership is per day (GitHub's join rule): a user counts for
-- a team only on days they were on it. members: distinct users on the team that week;
-- workday_adoption: the average, over the week's workdays (Mon-Fri), of the share of that day's
-- members who were active (DevLake's adoption %, per team). Requests are IDE prompts plus CLI
-- requests (stg_user_day); the acceptance measures leave out agent_edit (see int_user_day_usage). AI credits
-- are NULL in weeks GitHub did not report them yet (before 2026-06-19). Float figures are added in
-- exact decimals and ratios rounded, so a rerun gives the same bits whatever order DuckDB adds in.
WITH member_day AS (
    SELECT m.team_slug, m.day, m.user_id,
           coalesce(u.active, false) AS active,
           coalesce(u.requests, 0) AS requests,
           coalesce(u.acceptances_excl_agent_edit, 0) AS acceptances_excl_agent_edit,
           coalesce(u.generations_excl_agent_edit, 0) AS generations_excl_agent_edit,
           u.ai_credits_used, coalesce(u.ai_credits_reported, false) AS ai_credits_reported
    FROM int_team_member_day m
    LEFT JOIN int_user_day_usage u USING (day, user_id)
),
team_day AS (
    SELECT team_slug, day, count(*) AS members, count(*) FILTER (WHERE active) AS active_users
    FROM member_day GROUP BY team_slug, day
)
SELECT w.team_slug, w.week_start, w.days_reported, w.members, w.active_developers, w.active_developer_days,
       a.workday_adoption, w.requests, w.acceptances_excl_agent_edit, w.generations_excl_agent_edit,
       w.ai_credits_used
FROM (
    SELECT team_slug, CAST(date_trunc('week', day) AS DATE) AS week_start,
           count(DISTINCT day) AS days_reported,
           count(DISTINCT user_id) AS members,
           count(DISTINCT user_id) FILTER (WHERE active) AS active_developers,
           count(*) FILTER (WHERE active) AS active_developer_days,
           sum(requests) AS requests,
           sum(acceptances_excl_agent_edit) AS acceptances_excl_agent_edit,
           sum(generations_excl_agent_edit) AS generations_excl_agent_edit,
           CASE WHEN bool_or(ai_credits_reported)
                THEN CAST(sum(CAST(ai_credits_used AS DECIMAL(18, 4))) FILTER (WHERE ai_credits_reported) AS DOUBLE) END
               AS ai_credits_used
    FROM member_day
    GROUP BY team_slug, CAST(date_trunc('week', day) AS DATE)
) w
LEFT JOIN (
    SELECT team_slug, CAST(date_trunc('week', day) AS DATE) AS week_start,
           round(avg(active_users / members) FILTER (WHERE isodow(day) <= 5), 9) AS workday_adoption
    FROM team_day
    GROUP BY team_slug, CAST(date_trunc('week', day) AS DATE)
) a USING (team_slug, week_start)
