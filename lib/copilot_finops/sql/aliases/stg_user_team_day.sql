-- grain: day, user_id, team_id
-- Alias of int_user_team_day (team membership per day, with the roster fallback), its name before the SQL was
-- layered: notebooks and queries of your own that read stg_user_team_day keep working. New code reads
-- int_user_team_day, or int_team_member_day for the membership by team slug.
SELECT * FROM int_user_team_day
