-- grain: path
-- The raw files ingest has loaded, with the report day a daily report's file is for: the YYYY-MM-DD folder of its
-- path (metrics/<kind>/<day>/part-<n>.ndjson, as fetch and the demo generator lay them out); NULL for a file
-- without one (a document, or a report imported by hand).
SELECT path, kind,
       try_cast(nullif(regexp_extract(path, '(^|/)(\d{4}-\d{2}-\d{2})/', 2), '') AS DATE) AS report_day,
       coalesce(rows, 0) AS rows, coalesce(quarantined, 0) AS lines_quarantined, ingested_at
FROM ingest_file
