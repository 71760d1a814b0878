-- grain: team_source
-- The team source params chose, as last recorded (github, csv or cost_centers); no row means github.
SELECT DISTINCT team_source FROM team_source
