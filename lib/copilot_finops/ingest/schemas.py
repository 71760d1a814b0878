"""What ingest knows about each kind of raw file: the kinds, and the parse schema of each NDJSON report.

A schema is written as DuckDB's `from_json` takes it (dicts for objects, one-item lists for arrays);
`required` names the keys a record must carry, with what they should look like, for quarantine messages.
"""
from __future__ import annotations

NDJSON_KINDS = ("users-28-day", "organization-28-day", "enterprise-28-day", "users-1-day", "user-teams-1-day",
                "organization-1-day", "enterprise-1-day")
DOC_KINDS = ("seats", "teams", "ai-credit-usage", "premium-request-usage")
DELIVERY_KINDS = ("pulls", "reviews", "pull-files", "deployments", "deployment-statuses", "issues")
KINDS = NDJSON_KINDS + DOC_KINDS + DELIVERY_KINDS  # in load order: 28-day before 1-day, so 1-day rows win
IGNORED_NAMES = {"manifest.jsonl", "ground_truth.json"}

COUNTERS = (
    "user_initiated_interaction_count", "code_generation_activity_count", "code_acceptance_activity_count",
    "loc_suggested_to_add_sum", "loc_suggested_to_delete_sum", "loc_added_sum", "loc_deleted_sum",
)
_C = {c: "BIGINT" for c in COUNTERS}
_C6 = {c: "BIGINT" for c in COUNTERS[1:]}
USER_SCHEMA = {
    "user_id": "BIGINT", "user_login": "VARCHAR", "day": "DATE", "organization_id": "VARCHAR",
    "enterprise_id": "VARCHAR", **_C,
    "used_agent": "BOOLEAN", "used_chat": "BOOLEAN", "used_cli": "BOOLEAN",
    "used_copilot_code_review_active": "BOOLEAN", "used_copilot_code_review_passive": "BOOLEAN",
    "used_copilot_coding_agent": "BOOLEAN", "used_copilot_cloud_agent": "BOOLEAN",
    "ai_credits_used": "DOUBLE", "ai_adoption_phase": {"phase_number": "INTEGER"},
    "totals_by_ide": [{"ide": "VARCHAR", **_C}],
    "totals_by_feature": [{"feature": "VARCHAR", **_C}],
    "totals_by_language_feature": [{"language": "VARCHAR", "feature": "VARCHAR", **_C6}],
    "totals_by_model_feature": [{"model": "VARCHAR", "feature": "VARCHAR", **_C}],
    "totals_by_cli": {"session_count": "BIGINT", "request_count": "BIGINT", "prompt_count": "BIGINT",
                      "token_usage": {"output_tokens_sum": "BIGINT", "prompt_tokens_sum": "BIGINT"},
                      "last_known_cli_version": {"cli_version": "VARCHAR"}},
}
USER_TEAM_SCHEMA = {"user_id": "BIGINT", "user_login": "VARCHAR", "day": "DATE", "organization_id": "VARCHAR",
                    "team_id": "BIGINT", "slug": "VARCHAR"}
_ORG_DAY = {
    "day": "DATE", "organization_id": "VARCHAR", "enterprise_id": "VARCHAR",
    "daily_active_users": "BIGINT", "weekly_active_users": "BIGINT", "monthly_active_users": "BIGINT",
    "monthly_active_chat_users": "BIGINT", "monthly_active_agent_users": "BIGINT", "daily_active_cli_users": "BIGINT",
    **_C,
    "totals_by_cli": {"session_count": "BIGINT", "request_count": "BIGINT", "prompt_count": "BIGINT",
                      "token_usage": {"output_tokens_sum": "BIGINT", "prompt_tokens_sum": "BIGINT"}},
    "pull_requests": {"total_created": "BIGINT", "total_reviewed": "BIGINT", "total_merged": "BIGINT",
                      "median_minutes_to_merge": "DOUBLE", "total_created_by_copilot": "BIGINT",
                      "total_reviewed_by_copilot": "BIGINT", "total_merged_created_by_copilot": "BIGINT"},
}
ORG_28_SCHEMA = {"organization_id": "VARCHAR", "enterprise_id": "VARCHAR", "day_totals": [_ORG_DAY]}
# kind -> (parse schema, keys a record must have, with what they should look like)
NDJSON_SCHEMAS = {
    "users-1-day": (USER_SCHEMA, {"user_id": "integer", "day": "YYYY-MM-DD"}),
    "users-28-day": (USER_SCHEMA, {"user_id": "integer", "day": "YYYY-MM-DD"}),
    "user-teams-1-day": (USER_TEAM_SCHEMA, {"user_id": "integer", "day": "YYYY-MM-DD", "team_id": "integer"}),
    "organization-1-day": (_ORG_DAY, {"day": "YYYY-MM-DD"}),
    "organization-28-day": (ORG_28_SCHEMA, {"day": "YYYY-MM-DD"}),
    "enterprise-1-day": (_ORG_DAY, {"day": "YYYY-MM-DD"}),
    "enterprise-28-day": (ORG_28_SCHEMA, {"day": "YYYY-MM-DD"}),
}

# A check that a typed record was zipped with its own line: the line contains the record's key.
WITNESS = {
    "users-1-day": "contains(l.line, t.user_id::VARCHAR)", "users-28-day": "contains(l.line, t.user_id::VARCHAR)",
    "user-teams-1-day": "contains(l.line, t.user_id::VARCHAR)",
    "organization-1-day": "contains(l.line, t.day::VARCHAR)", "enterprise-1-day": "contains(l.line, t.day::VARCHAR)",
}


def _duckdb_type(spec) -> str:
    """A from_json-style schema (dicts for objects, one-item lists for arrays) as a DuckDB type."""
    if isinstance(spec, dict):
        return "STRUCT(" + ", ".join(f'"{k}" {_duckdb_type(v)}' for k, v in spec.items()) + ")"
    if isinstance(spec, list):
        return _duckdb_type(spec[0]) + "[]"
    return spec


def _columns_literal(schema: dict) -> str:
    """The `columns` argument of read_json for a schema."""
    return "{" + ", ".join(f"'{k}': '{_duckdb_type(v)}'" for k, v in schema.items()) + "}"
