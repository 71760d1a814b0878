-- grain: repo, number
-- Pull requests of the delivery repositories. merged_day: the UTC day it merged (NULL while unmerged).
SELECT repo, number, author_login, author_id, state, draft, created_at, closed_at, merged_at,
       merged_at::DATE AS merged_day
FROM pull_request
