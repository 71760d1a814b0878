-- grain: kind, day
-- materialized: table (it counts every users and user-teams row per day; see warehouse.refresh_materialized)
-- Every day each daily usage report should have, and whether the warehouse has it. A kind's days run from the
-- first day it holds to the horizon, the last day any daily report holds or was asked for: a day GitHub reported
-- for one kind is expected of the others too.
-- state:
--   complete  the report is in: its files were loaded (an empty file is an idle day) or its rows are there.
--   partial   it is in, but lines of it could not be read (quarantine), or fewer of its shards were loaded than the
--             last fetch of the day listed (parts_expected).
--   late      it is not in, and the kind was last fetched (kind_fetched_at) before the day settled: GitHub publishes
--             a day within two full UTC days and finalises it within three, so a later fetch may still bring it.
--   missing   it is not in, and the kind was fetched after the day settled, or nothing records a fetch of it.
-- last_asked_at is when the day itself was last asked for (NULL when the manifest does not name it).
-- An absent day is judged only for kinds whose files are laid out by day (metrics/<kind>/<YYYY-MM-DD>/, as fetch
-- and the demo generator write them). For files imported by hand an idle day and a lost one look alike, so there a
-- users day counts as absent only when the org report of that day saw active users. A users day the org report
-- shows idle (no active user in the IDE or the CLI) is complete without a file.
WITH daily_kinds AS (
    SELECT unnest(['users-1-day', 'user-teams-1-day', 'organization-1-day', 'enterprise-1-day']) AS kind
),
records AS (
    SELECT 'users-1-day' AS kind, day, count(*) AS records FROM stg_user_day GROUP BY day
    UNION ALL
    SELECT 'user-teams-1-day' AS kind, day, count(*) AS records FROM stg_reported_user_team_day GROUP BY day
    UNION ALL
    SELECT report_kind AS kind, day, count(*) AS records FROM stg_org_day GROUP BY report_kind, day
),
files AS (
    SELECT kind, report_day AS day, count(*) AS files, sum(lines_quarantined) AS lines_quarantined
    FROM stg_ingest_file
    WHERE report_day IS NOT NULL AND kind IN (SELECT kind FROM daily_kinds)
    GROUP BY kind, report_day
),
present AS (
    SELECT kind, day, coalesce(r.records, 0) AS records, coalesce(f.files, 0) AS files,
           coalesce(f.lines_quarantined, 0) AS lines_quarantined
    FROM records r FULL OUTER JOIN files f USING (kind, day)
),
asked AS (
    SELECT kind, day, max(fetched_at) AS last_asked_at, arg_max(parts, fetched_at) AS parts_expected,
           arg_max(no_report, fetched_at) AS no_report
    FROM stg_fetch_manifest
    WHERE day IS NOT NULL AND kind IN (SELECT kind FROM daily_kinds)
    GROUP BY kind, day
),
kind_asked AS (SELECT kind, max(fetched_at) AS kind_fetched_at FROM stg_fetch_manifest GROUP BY kind),
horizon AS (SELECT max(day) AS last_day FROM (SELECT day FROM present UNION ALL SELECT day FROM asked)),
kinds AS (SELECT kind, min(day) AS first_day, bool_or(files > 0) AS by_file FROM present GROUP BY kind),
calendar AS (
    SELECT k.kind, k.by_file, unnest(generate_series(k.first_day, h.last_day, INTERVAL 1 DAY))::DATE AS day
    FROM kinds k CROSS JOIN horizon h
),
org_activity AS (
    SELECT day, bool_or(daily_active_users > 0 OR daily_active_cli_users > 0) AS active FROM stg_org_day GROUP BY day
)
SELECT c.kind, c.day, coalesce(p.records, 0) AS records, coalesce(p.files, 0) AS files,
       coalesce(p.lines_quarantined, 0) AS lines_quarantined, a.parts_expected,
       a.last_asked_at, ka.kind_fetched_at, coalesce(a.no_report, false) AS no_report,
       CASE
           WHEN p.day IS NOT NULL AND (p.lines_quarantined > 0 OR (p.files > 0 AND p.files < a.parts_expected))
               THEN 'partial'
           WHEN p.day IS NOT NULL THEN 'complete'
           WHEN c.kind = 'users-1-day' AND NOT coalesce(o.active, true) THEN 'complete'
           WHEN NOT c.by_file AND NOT (c.kind = 'users-1-day' AND coalesce(o.active, false)) THEN 'complete'
           WHEN ka.kind_fetched_at < c.day + INTERVAL 4 DAY THEN 'late'
           ELSE 'missing'
       END AS state
FROM calendar c
LEFT JOIN present p USING (kind, day)
LEFT JOIN asked a USING (kind, day)
LEFT JOIN kind_asked ka USING (kind)
LEFT JOIN org_activity o USING (day)
