-- grain: login
-- materialized: table (it reads every users row and seat snapshot of the org; see warehouse.refresh_materialized)
-- Each GitHub login (lower case) the usage reports or the seats name, with its user id (the latest seen): how a team
-- map or cost center, which name people by login, finds them in the reports.
WITH seen AS (
    SELECT lower(user_login) AS login, user_id, day FROM stg_user_day WHERE user_login IS NOT NULL
    UNION ALL
    SELECT lower(user_login), user_id, snapshot_day FROM stg_seat WHERE user_login IS NOT NULL
)
SELECT login, arg_max(user_id, day) AS user_id
FROM seen
GROUP BY login
