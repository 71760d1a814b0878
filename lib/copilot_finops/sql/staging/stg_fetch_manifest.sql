-- grain: line
-- The raw zone's manifest as of the last ingest: one row per file fetched, and one per day GitHub had no report
-- for (no_report: a line without a file, status 204 or an answer without download links). fetched_at is UTC.
SELECT line, kind, day, part, parts, path, rows, fetched_at, path IS NULL AS no_report
FROM fetch_manifest
