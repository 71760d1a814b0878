"""Which warehouse column each parsed field fills: the one place a parser "knows" a field.

A column whose expression reads a field the kind's parse schema does not hold is NULL, and a rule on such a
field is not checked: a field is loaded once its parser knows it (schema and column), and `ingest --full`
then reads it from every raw file, since the raw zone keeps each record whole.
"""
from __future__ import annotations

import re

import duckdb

from .schemas import COUNTERS, NDJSON_SCHEMAS, field_paths

# Warehouse column -> the expression over the parsed record `r` that fills it.
USER_DAY_COLUMNS = {
    "day": "r.day", "user_id": "r.user_id", "user_login": "r.user_login", "organization_id": "r.organization_id",
    "enterprise_id": "r.enterprise_id", **{c: f"r.{c}" for c in COUNTERS},
    **{c: f"r.{c}" for c in ("used_agent", "used_chat", "used_cli", "used_copilot_code_review_active",
                             "used_copilot_code_review_passive", "ai_credits_used")},
    "used_copilot_cloud_agent": "coalesce(r.used_copilot_cloud_agent, r.used_copilot_coding_agent)",
    "cli_sessions": "r.totals_by_cli.session_count", "cli_requests": "r.totals_by_cli.request_count",
    "cli_prompts": "r.totals_by_cli.prompt_count", "cli_prompt_tokens": "r.totals_by_cli.token_usage.prompt_tokens_sum",
    "cli_output_tokens": "r.totals_by_cli.token_usage.output_tokens_sum",
    "cli_version": "r.totals_by_cli.last_known_cli_version.cli_version",
    "adoption_phase": "r.ai_adoption_phase.phase_number",
}
ORG_DAY_COLUMNS = {
    "day": "r.day", "enterprise_id": "r.enterprise_id",
    **{c: f"r.{c}" for c in ("daily_active_users", "weekly_active_users", "monthly_active_users",
                             "monthly_active_chat_users", "monthly_active_agent_users", "daily_active_cli_users")},
    **{c: f"r.{c}" for c in COUNTERS},
    "cli_sessions": "r.totals_by_cli.session_count", "cli_requests": "r.totals_by_cli.request_count",
    "cli_prompts": "r.totals_by_cli.prompt_count", "cli_prompt_tokens": "r.totals_by_cli.token_usage.prompt_tokens_sum",
    "cli_output_tokens": "r.totals_by_cli.token_usage.output_tokens_sum",
    **{f"pr_{c}": f"r.pull_requests.{c}" for c in (
        "total_created", "total_reviewed", "total_merged", "median_minutes_to_merge", "total_created_by_copilot",
        "total_reviewed_by_copilot", "total_merged_created_by_copilot")},
}
_FIELD_REF = re.compile(r"\br\.([\w.]+)")


# Breakdown table -> (list field of the users record, its key fields, its counters)
BREAKDOWNS = {
    "user_day_feature": ("totals_by_feature", ("feature",), COUNTERS),
    "user_day_model_feature": ("totals_by_model_feature", ("model", "feature"), COUNTERS),
    "user_day_language_feature": ("totals_by_language_feature", ("language", "feature"), COUNTERS[1:]),
    "user_day_ide": ("totals_by_ide", ("ide",), COUNTERS),
}


def record_fields(kind: str) -> set[str]:
    """The field paths of a parsed record `r` of `kind` (for 28-day aggregates: one element of day_totals)."""
    schema = NDJSON_SCHEMAS[kind][0]
    if kind.endswith("-28-day") and "day_totals" in schema:  # after the unnest, r is one element of day_totals
        schema = schema["day_totals"][0]
    return field_paths(schema)


def reads_known_fields(expression: str, kind: str) -> bool:
    """Whether every `r.<field>` the SQL expression reads is in the kind's parse schema."""
    known = record_fields(kind)
    return all(path in known for path in _FIELD_REF.findall(expression))


def select_list(columns: dict[str, str], kind: str) -> str:
    """The SELECT list filling `columns` from `r`; NULL for a column reading a field the parse schema lacks."""
    return ", ".join(f"{expr if reads_known_fields(expr, kind) else 'NULL'} AS {col}" for col, expr in columns.items())


def _repeats(field_: str, keys: tuple[str, ...]) -> str:
    """SQL: whether the record's breakdown list `field_` names a key twice (a missing key reads as 'unknown').

    Keys are compared by hash: two keys that merely collide send the record to the grouping path, which sums
    exactly what it finds, so a collision costs time, never a wrong row."""
    key = "hash(" + ", ".join(f"coalesce(x.{k}, 'unknown')" for k in keys) + ")"
    return (f"CASE WHEN len(r.{field_}) > 1 THEN list_unique(list_transform(r.{field_}, lambda x: {key})) "
            f"< len(r.{field_}) ELSE false END")


def repeats_condition() -> str:
    """SQL over a users record `r`: whether any of its breakdown lists names a key twice (`_repeats`)."""
    return " OR ".join(_repeats(f, k) for f, k, _ in BREAKDOWNS.values())


def repeated_lines(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[int, int]]:
    """(ord, line_no) of the records of `table` whose breakdown lists name a key twice (`_repeats`): usually none."""
    return con.execute(f"SELECT ord, line_no FROM {table} WHERE {repeats_condition()}").fetchall()
