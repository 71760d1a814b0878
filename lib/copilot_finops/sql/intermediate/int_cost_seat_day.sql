-- grain: day, user_id
-- materialized: table (the calendar spans every seat; see warehouse.refresh_materialized)
-- Paid Copilot seats per user and day, rebuilt from the seat snapshots (the seats API has no history).
-- A seat counts from its created_at day until its pending cancellation date (GitHub bills a cancelled seat to the
-- end of the billing cycle) or, without one, until the first snapshot it is missing from. Seats still in the latest
-- snapshot run to the end of that month, so a month's seat cost is known before the month ends. The calendar spans
-- the months the snapshots and the usage reports cover. A seat removed and later re-added counts as one interval.
WITH snapshots AS (SELECT DISTINCT snapshot_day FROM stg_seat),
latest AS (SELECT max(snapshot_day) AS day FROM stg_seat),
per_user AS (
    SELECT user_id,
           min(coalesce(seat_created_day, snapshot_day)) AS seat_start,
           max(snapshot_day) AS last_seen,
           arg_max(pending_cancellation_date, snapshot_day) AS pending_cancellation,
           arg_max(plan_type, snapshot_day) AS plan_type
    FROM stg_seat
    GROUP BY user_id
),
intervals AS (
    SELECT p.user_id, p.plan_type, p.seat_start,
           CASE WHEN p.pending_cancellation IS NOT NULL THEN p.pending_cancellation
                WHEN p.last_seen = l.day THEN (date_trunc('month', l.day) + INTERVAL 1 MONTH)::DATE
                ELSE (SELECT min(s.snapshot_day) FROM snapshots s WHERE s.snapshot_day > p.last_seen)
           END AS seat_end  -- exclusive
    FROM per_user p CROSS JOIN latest l
),
bounds AS (
    SELECT date_trunc('month', least((SELECT min(snapshot_day) FROM stg_seat), (SELECT min(day) FROM stg_user_day)))::DATE AS first_day,
           (date_trunc('month', greatest((SELECT max(snapshot_day) FROM stg_seat), (SELECT max(day) FROM stg_user_day)))
            + INTERVAL 1 MONTH - INTERVAL 1 DAY)::DATE AS last_day
),
calendar AS (
    SELECT unnest(generate_series(b.first_day, b.last_day, INTERVAL 1 DAY))::DATE AS day FROM bounds b
)
SELECT c.day, i.user_id, coalesce(lower(i.plan_type), 'unknown') AS plan_type
FROM intervals i
JOIN calendar c ON c.day >= i.seat_start AND c.day < i.seat_end
