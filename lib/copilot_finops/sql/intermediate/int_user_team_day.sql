-- grain: day, user_id, team_id
-- Team membership per user and day, following GitHub's join rule: a day's user-teams report says who was on which
-- team that day. GitHub drops teams with fewer than five seated users from that report; for those (and for days
-- without a report) the nearest roster snapshot (on or before the day, else the first one) stands in, marked as
-- such in membership_source. A slug the report leaves out is the team's own.
-- (Known before the SQL was layered as stg_user_team_day, which is kept as an alias.)
WITH reported AS (
    SELECT r.day, r.user_id, r.team_id, coalesce(r.team_slug, t.team_slug) AS team_slug,
           'user-teams-report' AS membership_source
    FROM stg_reported_user_team_day r LEFT JOIN stg_team t USING (team_id)
),
report_days AS (SELECT DISTINCT day FROM stg_user_day),
snapshots AS (SELECT DISTINCT snapshot_day FROM stg_team_member),
day_snapshot AS (
    SELECT d.day,
           coalesce(max(s.snapshot_day) FILTER (WHERE s.snapshot_day <= d.day), min(s.snapshot_day)) AS snapshot_day
    FROM report_days d CROSS JOIN snapshots s
    GROUP BY d.day
),
reported_team_days AS (SELECT DISTINCT day, team_id FROM stg_reported_user_team_day)
SELECT day, user_id, team_id, team_slug, membership_source FROM reported
UNION ALL
SELECT ds.day, m.user_id, m.team_id, coalesce(m.team_slug, t.team_slug), 'team-roster'
FROM day_snapshot ds
JOIN stg_team_member m USING (snapshot_day)
LEFT JOIN stg_team t USING (team_id)
WHERE NOT EXISTS (SELECT 1 FROM reported_team_days r WHERE r.day = ds.day AND r.team_id = m.team_id)
