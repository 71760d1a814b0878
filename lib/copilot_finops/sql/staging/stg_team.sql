-- grain: team_id
-- The org's teams, each as its newest snapshot described it.
SELECT team_id, slug AS team_slug, name AS team_name, parent_slug, last_seen_day
FROM team
