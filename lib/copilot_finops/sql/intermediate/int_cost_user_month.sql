-- grain: user_id, period
-- Premium requests per user and calendar month (period YYYY-MM) with the plan their allowance follows: the premium-
-- request allowance is per user and month, not pooled, and follows the plan of the user's last seat-day in the month
-- (plan_type NULL: no seat that month, so the org's plan). Billable requests are
-- greatest(premium_requests - allowance(plan_type), 0), spread over the user's requests in the month; the allowance
-- per plan is a price (params: prices.premium_requests_included_per_seat), so the caller applies it.
WITH plan AS (
    SELECT user_id, strftime(day, '%Y-%m') AS period, arg_max(plan_type, day) AS plan_type
    FROM int_cost_seat_day
    GROUP BY user_id, strftime(day, '%Y-%m')
)
SELECT c.user_id, c.period, any_value(p.plan_type) AS plan_type, sum(c.premium_requests) AS premium_requests
FROM int_cost_user_day c
LEFT JOIN plan p USING (user_id, period)
GROUP BY c.user_id, c.period
