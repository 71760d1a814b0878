-- grain: day, user_id, language, feature
-- The users report's totals_by_language_feature, one row per user, day, language and feature (the task-class rules
-- of segments.py read languages). Counters as GitHub reports them (NULL where it omits one).
SELECT day, user_id, language, feature,
       code_generation_activity_count AS generations,
       code_acceptance_activity_count AS acceptances,
       loc_suggested_to_add_sum AS loc_suggested,
       loc_suggested_to_delete_sum AS loc_suggested_to_delete,
       loc_added_sum AS loc_added,
       loc_deleted_sum AS loc_deleted
FROM user_day_language_feature
