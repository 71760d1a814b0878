-- grain: snapshot_day, user_id
-- Copilot seats as each seats snapshot listed them. seat_created_day: the day the seat was assigned (created_at).
SELECT snapshot_day, user_id, user_login, plan_type,
       created_at::DATE AS seat_created_day,
       pending_cancellation_date,
       last_activity_at,
       assigning_team_slug
FROM seat
