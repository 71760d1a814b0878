-- grain: day, user_id
-- materialized: table (the billing spread reads every user-month; see warehouse.refresh_materialized)
-- AI credits and premium requests per user and day: the quantities every cost figure is priced from.
-- ai_credits: GitHub's daily ai_credits_used where the day reports it (credit_signal 'telemetry'). Where the billing
-- API covers a user-month that the daily field does not (it arrived on 2026-06-19, billing began on 2026-06-01),
-- the billed credits not yet seen day by day are spread over the user's unreported days by activity (credit_signal
-- 'billing, spread by activity'). premium_requests: premium-request billing (before credits) is monthly only, so
-- it is spread over the user's active days the same way. Activity = chat interactions + agent edits + CLI requests
-- (completions are not billed); a user-month without any spreads evenly over its days.
WITH activity AS (
    SELECT u.day, u.user_id, u.user_login, strftime(u.day, '%Y-%m') AS period,
           u.active, u.ai_credits_used, u.ai_credits_reported,
           (u.chat_interactions + u.agent_edit_generations + u.cli_requests)::DOUBLE AS weight
    FROM int_user_day_usage u
),
user_month AS (
    SELECT user_id, period,
           arg_max(user_login, day) AS user_login,
           coalesce(sum(ai_credits_used) FILTER (WHERE ai_credits_reported), 0) AS reported_credits,
           coalesce(sum(weight) FILTER (WHERE NOT ai_credits_reported), 0) AS unreported_weight,
           count(*) FILTER (WHERE NOT ai_credits_reported) AS unreported_days,
           sum(weight) AS weight,
           count(*) AS days
    FROM activity
    GROUP BY user_id, period
),
billing AS (
    SELECT period, user_login,
           sum(quantity) FILTER (WHERE billing_kind = 'ai-credit-usage') AS billed_credits,
           sum(quantity) FILTER (WHERE billing_kind = 'premium-request-usage') AS billed_premium_requests
    FROM stg_credit_usage
    WHERE user_login <> ''
    GROUP BY period, user_login
)
SELECT a.day, a.user_id, a.period, a.active,
       CASE WHEN a.ai_credits_reported THEN a.ai_credits_used
            ELSE greatest(coalesce(b.billed_credits, 0) - m.reported_credits, 0)
                 * CASE WHEN m.unreported_weight > 0 THEN a.weight / m.unreported_weight ELSE 1.0 / m.unreported_days END
       END AS ai_credits,
       CASE WHEN a.ai_credits_reported THEN 'telemetry'
            WHEN coalesce(b.billed_credits, 0) > 0 THEN 'billing, spread by activity'
            ELSE 'none' END AS credit_signal,
       coalesce(b.billed_premium_requests, 0)
           * CASE WHEN m.weight > 0 THEN a.weight / m.weight ELSE 1.0 / m.days END AS premium_requests,
       coalesce(b.billed_premium_requests, 0) AS premium_requests_user_month
FROM activity a
JOIN user_month m USING (user_id, period)
LEFT JOIN billing b ON b.period = a.period AND b.user_login = m.user_login
