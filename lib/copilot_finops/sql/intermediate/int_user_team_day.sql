-- grain: day, user_id, team_id
-- materialized: table (the roster fallback reads every day of the org; see warehouse.refresh_materialized)
-- Team membership per user and day, from the team source params chose (stg_team_source; github when none is
-- recorded). github follows GitHub's join rule: a day's user-teams report says who was on which team that day.
-- GitHub drops teams with fewer than five seated users from that report; for those (and for days without a report)
-- the nearest roster snapshot (on or before the day, else the first one) stands in, marked as such in
-- membership_source. A slug the report leaves out is the team's own. csv and cost_centers take the nearest snapshot
-- of that source's assignments the same way, people found by login (int_user_login); their team ids are negative,
-- derived from the slug, so they never meet a GitHub team id. When the chosen source has no membership at all (a
-- users report imported alone), everyone in the reports or holding a seat is on one team, whole-org (team id 0).
-- (Known before the SQL was layered as stg_user_team_day, which is kept as an alias.)
WITH chosen AS (SELECT coalesce(max(team_source), 'github') AS source FROM stg_team_source),
reported AS (
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
reported_team_days AS (SELECT DISTINCT day, team_id FROM stg_reported_user_team_day),
github AS (
    SELECT day, user_id, team_id, team_slug, membership_source FROM reported
    UNION ALL
    SELECT ds.day, m.user_id, m.team_id, coalesce(m.team_slug, t.team_slug), 'team-roster'
    FROM day_snapshot ds
    JOIN stg_team_member m USING (snapshot_day)
    LEFT JOIN stg_team t USING (team_id)
    WHERE NOT EXISTS (SELECT 1 FROM reported_team_days r WHERE r.day = ds.day AND r.team_id = m.team_id)
),
assignments AS (SELECT a.* FROM stg_team_assignment a WHERE a.source = (SELECT source FROM chosen)),
assignment_day AS (
    SELECT d.day,
           coalesce(max(a.snapshot_day) FILTER (WHERE a.snapshot_day <= d.day), min(a.snapshot_day)) AS snapshot_day
    FROM report_days d CROSS JOIN (SELECT DISTINCT snapshot_day FROM assignments) a
    GROUP BY d.day
),
assigned AS (
    SELECT ad.day, l.user_id, -1 - (hash(a.team_slug) % 1000000000000)::BIGINT AS team_id, a.team_slug,
           a.source AS membership_source
    FROM assignment_day ad
    JOIN assignments a USING (snapshot_day)
    JOIN int_user_login l USING (login)
),
from_source AS (
    SELECT * FROM github WHERE (SELECT source FROM chosen) = 'github'
    UNION ALL
    SELECT * FROM assigned
)
SELECT day, user_id, team_id, team_slug, membership_source FROM from_source
UNION ALL
SELECT DISTINCT p.day, p.user_id, 0, 'whole-org', 'whole-org'
FROM (SELECT day, user_id FROM stg_user_day
      UNION ALL
      SELECT s.day, s.user_id FROM int_cost_seat_day s JOIN report_days d USING (day)) p
WHERE NOT EXISTS (SELECT 1 FROM from_source)
