-- grain: day, user_id
-- Alias of int_user_day_usage, with the columns it had under this name before the SQL was layered: notebooks and
-- queries of your own that read stg_user_day_usage keep working. New code reads int_user_day_usage.
SELECT * EXCLUDE (prompts, requests, user_login, adoption_phase) FROM int_user_day_usage
