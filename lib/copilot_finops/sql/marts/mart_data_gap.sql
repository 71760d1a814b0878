-- grain: kind, day
-- The report days the warehouse lacks or holds only in part: int_report_day without its complete days, so state is
-- missing, late or partial. Every report shows the gaps of its period in a banner, the usage as-of day is the last
-- complete users-1-day day, and the guardrail forecast treats usage on a gap day as unknown, not zero.
SELECT kind, day, state, records, files, lines_quarantined, parts_expected, last_asked_at, kind_fetched_at,
       no_report
FROM int_report_day
WHERE state <> 'complete'
