-- grain: day, organization_id
-- The organization (or enterprise) aggregates report, one row per day. report_kind is the 1-day report the row
-- stands for (a 28-day bootstrap row fills a day the 1-day report lacks); active counts are 0 where not reported.
SELECT day, organization_id, source_kind, replace(source_kind, '-28-day', '-1-day') AS report_kind,
       coalesce(daily_active_users, 0) AS daily_active_users,
       coalesce(daily_active_cli_users, 0) AS daily_active_cli_users
FROM org_day
