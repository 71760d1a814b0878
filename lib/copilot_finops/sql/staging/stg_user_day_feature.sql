-- grain: day, user_id, feature
-- The users report's totals_by_feature, one row per user, day and Copilot feature (IDE surfaces: code_completion,
-- chat_inline, agent_edit, chat_panel_*_mode). Counters as GitHub reports them (NULL where it omits one).
SELECT day, user_id, feature,
       user_initiated_interaction_count AS interactions,
       code_generation_activity_count AS generations,
       code_acceptance_activity_count AS acceptances,
       loc_suggested_to_add_sum AS loc_suggested,
       loc_suggested_to_delete_sum AS loc_suggested_to_delete,
       loc_added_sum AS loc_added,
       loc_deleted_sum AS loc_deleted
FROM user_day_feature
