-- grain: user_id, week_start
-- The team each user-week is judged and reported under: the team the user was on for most days
-- of the ISO week in int_team_member_day (GitHub's per-day rule, roster fallback for small teams);
-- ties go to the first slug in name order, so a user on two teams is counted once per week.
-- team_count says how many teams the user was on that week.
WITH team_days AS (
    SELECT user_id, date_trunc('week', day)::DATE AS week_start, team_slug, count(DISTINCT day) AS days_on_team
    FROM int_team_member_day
    GROUP BY ALL
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY user_id, week_start ORDER BY days_on_team DESC, team_slug) AS rank,
           count(*) OVER (PARTITION BY user_id, week_start) AS team_count
    FROM team_days
)
SELECT user_id, week_start, team_slug, days_on_team, team_count
FROM ranked
WHERE rank = 1
