-- grain: team_slug, day
-- materialized: table (every team, each day: what the guardrail forecast reads; see warehouse.refresh_materialized)
-- Team cost quantities per day, joined per day as GitHub prescribes (a user on two teams counts in both): members,
-- the seats they hold by plan, and the AI credits and premium requests they used on days they were on the team.
-- Quantities only: cost.py prices them from params (seat prices, credit price, the included pool).
SELECT m.team_slug, m.day,
       count(*) AS members,
       count(s.user_id) AS seats,
       count(s.user_id) FILTER (WHERE s.plan_type = 'business') AS business_seats,
       count(s.user_id) FILTER (WHERE s.plan_type = 'enterprise') AS enterprise_seats,
       count(c.user_id) FILTER (WHERE c.active) AS active_users,
       coalesce(sum(c.ai_credits), 0) AS ai_credits,
       coalesce(sum(c.ai_credits) FILTER (WHERE c.credit_signal = 'telemetry'), 0) AS ai_credits_from_telemetry,
       coalesce(sum(c.premium_requests), 0) AS premium_requests
FROM int_team_member_day m
LEFT JOIN int_cost_seat_day s USING (day, user_id)
LEFT JOIN int_cost_user_day c USING (day, user_id)
GROUP BY m.team_slug, m.day
