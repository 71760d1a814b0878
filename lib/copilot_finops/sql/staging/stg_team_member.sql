-- grain: snapshot_day, team_id, user_id
-- Team rosters: the members of each team on each day a teams snapshot was taken (child teams' members included,
-- as GitHub lists them).
SELECT snapshot_day, team_id, user_id, team_slug, user_login
FROM team_member
