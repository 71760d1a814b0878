"""What ingest knows about each kind of raw file: the kinds, and the parse schema of each NDJSON report.

A schema is written as DuckDB's `from_json` takes it (dicts for objects, one-item lists for arrays);
`required` names the keys a record must carry, with what they should look like, for quarantine messages.
"""
from __future__ import annotations

import functools

NDJSON_KINDS = ("users-28-day", "organization-28-day", "enterprise-28-day", "users-1-day", "user-teams-1-day",
                "organization-1-day", "enterprise-1-day")
DOC_KINDS = ("seats", "teams", "ai-credit-usage", "premium-request-usage")
DELIVERY_KINDS = ("pulls", "reviews", "pull-files", "deployments", "deployment-statuses", "issues")
ATTRIBUTION_KINDS = ("team-map", "cost-centers", "repos-1-day", "billing-usage")  # loaded by ingest/attribution.py
KINDS = NDJSON_KINDS + DOC_KINDS + DELIVERY_KINDS + ATTRIBUTION_KINDS  # in load order: 28-day before 1-day
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
_WINDOW = {"report_start_day": "DATE", "report_end_day": "DATE"}  # a 28-day report's own bounds
USER_28_SCHEMA = {**USER_SCHEMA, **_WINDOW}
ORG_28_SCHEMA = {"organization_id": "VARCHAR", "enterprise_id": "VARCHAR", **_WINDOW, "day_totals": [_ORG_DAY]}
# kind -> (parse schema, keys a record must have, with what they should look like)
NDJSON_SCHEMAS = {
    "users-1-day": (USER_SCHEMA, {"user_id": "integer", "day": "YYYY-MM-DD"}),
    "users-28-day": (USER_28_SCHEMA, {"user_id": "integer", "day": "YYYY-MM-DD"}),
    "user-teams-1-day": (USER_TEAM_SCHEMA, {"user_id": "integer", "day": "YYYY-MM-DD", "team_id": "integer"}),
    "organization-1-day": (_ORG_DAY, {"day": "YYYY-MM-DD"}),
    "organization-28-day": (ORG_28_SCHEMA, {"day": "YYYY-MM-DD"}),
    "enterprise-1-day": (_ORG_DAY, {"day": "YYYY-MM-DD"}),
    "enterprise-28-day": (ORG_28_SCHEMA, {"day": "YYYY-MM-DD"}),
}

# Fields that tell a record from its neighbours: the fast parse numbers records by their order, and a sample of
# lines read by number must show the same values (see reports.ReportLoader._parse_typed).
WITNESS = {
    "users-1-day": ("user_id", "day"), "users-28-day": ("user_id", "day"),
    "user-teams-1-day": ("user_id", "team_id", "day"),
    "organization-1-day": ("day", "organization_id"), "enterprise-1-day": ("day", "enterprise_id"),
    "organization-28-day": ("organization_id", "report_end_day"), "enterprise-28-day": ("enterprise_id", "report_end_day"),
}

# Fields GitHub documents that no parser loads into a column, on purpose: they stay in the raw zone (read them back
# with `show-record`) and are not reported as unknown. A name covers everything under it.
_LEFT_IN_RAW_USER = (
    "etl_id", "day_partition", "entity_id_partition", "report_start_day", "report_end_day",
    "ai_adoption_phase.phase", "ai_adoption_phase.version", "totals_by_ide[].last_known_ide_version",
    "totals_by_ide[].last_known_plugin_version", "totals_by_language_model",
    "totals_by_cli.token_usage.avg_tokens_per_request", "totals_by_cli.last_known_cli_version.sampled_at",
)
_LEFT_IN_RAW_ORG = (
    "etl_id", "day_partition", "entity_id_partition", "created_at", "report_start_day", "report_end_day",
    "totals_by_ide", "totals_by_feature", "totals_by_language_feature", "totals_by_language_model",
    "totals_by_model_feature", "totals_by_ai_adoption_phase", "totals_by_cli.token_usage.avg_tokens_per_request",
    "daily_active_copilot_cloud_agent_users", "weekly_active_copilot_cloud_agent_users",
    "monthly_active_copilot_cloud_agent_users", "daily_active_copilot_code_review_users",
    "weekly_active_copilot_code_review_users", "monthly_active_copilot_code_review_users",
    "daily_passive_copilot_code_review_users", "weekly_passive_copilot_code_review_users",
    "monthly_passive_copilot_code_review_users", "pull_requests.total_suggestions",
    "pull_requests.total_applied_suggestions", "pull_requests.total_merged_reviewed_by_copilot",
    "pull_requests.median_minutes_to_merge_copilot_authored", "pull_requests.median_minutes_to_merge_copilot_reviewed",
    "pull_requests.total_copilot_suggestions", "pull_requests.total_copilot_applied_suggestions",
    "pull_requests.copilot_suggestions_by_comment_type",
)
LEFT_IN_RAW = {
    "users-1-day": _LEFT_IN_RAW_USER, "users-28-day": _LEFT_IN_RAW_USER, "user-teams-1-day": ("enterprise_id",),
    "organization-1-day": _LEFT_IN_RAW_ORG, "enterprise-1-day": _LEFT_IN_RAW_ORG,
    "organization-28-day": _LEFT_IN_RAW_ORG + tuple(f"day_totals[].{f}" for f in _LEFT_IN_RAW_ORG),
    "enterprise-28-day": _LEFT_IN_RAW_ORG + tuple(f"day_totals[].{f}" for f in _LEFT_IN_RAW_ORG),
}


def field_paths(spec, prefix: str = "", out: set[str] | None = None) -> set[str]:
    """Every field path of a parse schema or a parsed JSON value: `a.b` for objects, `a[].b` for list items.
    (Into one set, `out`: a users record holds some three hundred values, and its sample is read per file.)"""
    if out is None:
        out = set()
    if isinstance(spec, dict):
        for key, value in spec.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.add(path)
            if isinstance(value, (dict, list)):
                field_paths(value, path, out)
    elif isinstance(spec, list):
        shapes: set[tuple] = set()  # the keys of the items seen
        for item in spec:
            if isinstance(item, dict):
                keys = tuple(item)
                if keys in shapes:  # its own paths are in `out` already: only what nests below its keys can differ
                    for key, value in item.items():
                        if isinstance(value, (dict, list)):
                            field_paths(value, f"{prefix}[].{key}", out)
                    continue
                shapes.add(keys)
            if isinstance(item, (dict, list)):
                field_paths(item, prefix + "[]", out)
    return out


_KNOWN: dict[str, tuple[dict, frozenset[str]]] = {}  # kind -> (its schema, the schema's paths)


def known_fields(kind: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """(paths a parser reads, prefixes of paths left in the raw zone on purpose) for an NDJSON kind."""
    schema = NDJSON_SCHEMAS[kind][0]
    cached = _KNOWN.get(kind)
    if cached is None or cached[0] is not schema:  # (a schema may be swapped whole: a test gives a parser less)
        cached = _KNOWN[kind] = (schema, frozenset(field_paths(schema)))
    return cached[1], LEFT_IN_RAW[kind]


@functools.lru_cache(maxsize=4096)
def _left_in_raw(path: str, left: tuple[str, ...]) -> bool:
    """Whether `path` is one of `left`, or lies under one (the same few paths recur in every record)."""
    return any(path == x or path.startswith(x + ".") or path.startswith(x + "[]") for x in left)


def unknown_fields(kind: str, record: dict) -> set[str]:
    """The field paths of `record` that no parser of `kind` knows and that are not left in the raw zone on purpose;
    of a new object or list, only its own path (what it holds is new by construction)."""
    known, left = known_fields(kind)
    new = {p for p in field_paths(record) - known if not _left_in_raw(p, left)}
    return {p for p in new if not any(p.startswith(q + ".") or p.startswith(q + "[]") for q in new)}


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
