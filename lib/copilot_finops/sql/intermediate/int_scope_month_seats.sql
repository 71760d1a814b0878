-- grain: team_slug, period
-- materialized: table (org-wide: the org and every team, each month; see warehouse.refresh_materialized)
-- nullable: team_slug (NULL is the whole org)
-- Seat-months per calendar month (period YYYY-MM) and scope, the one definition: seat-days over the days of the
-- month, so joiners and leavers are prorated. team_slug NULL is the whole org, each seat counted once; otherwise a
-- team, counting its members' seats on the days they were on it (a user on two teams counts in both). By plan too.
-- Scopes without a seat-day in a month have no row.
WITH scoped AS (
    SELECT NULL::VARCHAR AS team_slug, s.day, s.plan_type FROM int_cost_seat_day s
    UNION ALL
    SELECT m.team_slug, s.day, s.plan_type FROM int_team_member_day m JOIN int_cost_seat_day s USING (day, user_id)
)
SELECT team_slug, strftime(day, '%Y-%m') AS period,
       day(last_day(min(day))) AS days_in_month,
       count(*) AS seat_days,
       count(*) / day(last_day(min(day))) AS seat_months,
       count(*) FILTER (WHERE plan_type = 'business') / day(last_day(min(day))) AS business_seat_months,
       count(*) FILTER (WHERE plan_type = 'enterprise') / day(last_day(min(day))) AS enterprise_seat_months
FROM scoped
GROUP BY team_slug, strftime(day, '%Y-%m')
