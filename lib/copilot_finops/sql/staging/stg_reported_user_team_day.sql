-- grain: day, user_id, team_id
-- The user-teams report (user-teams-1-day) as GitHub serves it: who was on which team each day. It leaves out
-- teams with fewer than five seated users; int_user_team_day adds them from the team rosters.
-- team_slug is the slug the report gives (it may be missing: int_user_team_day falls back to the team's).
SELECT day, user_id, team_id, team_slug, user_login
FROM user_team_day
