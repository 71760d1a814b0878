-- grain: source, snapshot_day, login, team_slug
-- Team assignments from a team map (source 'csv') or the billing cost centers (source 'cost_centers'), one row per
-- snapshot day, login and team; login is lower case (GitHub logins are not case sensitive). Several files for one
-- day add up; their cost center is the first one named.
SELECT source, snapshot_day, lower(user_login) AS login, team_slug,
       min(team_name) AS team_name, min(cost_center) AS cost_center
FROM team_assignment
GROUP BY source, snapshot_day, lower(user_login), team_slug
