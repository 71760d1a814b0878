-- grain: author_login, week_start
-- Pull requests per author and ISO week (Monday start), matched to Copilot users by login
-- (pull_request.author_login = user_day.user_login). prs_opened counts the PRs created in the week;
-- of those, prs_opened_closed_unmerged were closed without merging and prs_opened_open are still
-- open when the data was fetched (the detector counts those as unmerged once old enough); prs_merged
-- counts the PRs merged in the week, whenever they were opened.
WITH opened AS (
    SELECT author_login, date_trunc('week', created_at)::DATE AS week_start,
           count(*) AS prs_opened,
           count(*) FILTER (WHERE merged_at IS NULL AND closed_at IS NOT NULL) AS prs_opened_closed_unmerged,
           count(*) FILTER (WHERE merged_at IS NULL AND closed_at IS NULL) AS prs_opened_open
    FROM stg_pull_request
    WHERE author_login IS NOT NULL AND created_at IS NOT NULL
    GROUP BY ALL
),
merged AS (
    SELECT author_login, date_trunc('week', merged_at)::DATE AS week_start, count(*) AS prs_merged
    FROM stg_pull_request
    WHERE author_login IS NOT NULL AND merged_at IS NOT NULL
    GROUP BY ALL
)
SELECT author_login, week_start,
       coalesce(o.prs_opened, 0) AS prs_opened,
       coalesce(o.prs_opened_closed_unmerged, 0) AS prs_opened_closed_unmerged,
       coalesce(o.prs_opened_open, 0) AS prs_opened_open,
       coalesce(m.prs_merged, 0) AS prs_merged
FROM opened o
FULL OUTER JOIN merged m USING (author_login, week_start)
