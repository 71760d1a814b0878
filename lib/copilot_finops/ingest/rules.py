"""Range and sanity rules per field of the NDJSON reports: a record that breaks one goes to quarantine with the rule.

Each kind's rules are one SQL CASE over the parsed record `r` (first rule broken wins), so checking every record
costs one vectorised pass inside DuckDB. The window a record's day must fall in comes from the report itself:
a 1-day report's folder names its day (`metrics/<kind>/<day>/`), a 28-day report carries `report_start_day`
and `report_end_day`. No day may be later than today (UTC): GitHub reports a day only after it ends.
"""
from __future__ import annotations

from datetime import datetime, timezone

import duckdb

from .columns import reads_known_fields
from .schemas import COUNTERS, NDJSON_SCHEMAS

# Besides `r`, the rules read `window_start` and `window_end`, the days the report covers (NULL when a file says
# neither, e.g. a hand import named without a day; equal for a 1-day report), and the parameter $today.
_LOGIN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}(\[bot\])?$"  # GitHub logins, enterprise-managed ones (_short) too


def _non_negative(fields: list[str]) -> list[tuple[str, str]]:
    return [(f"r.{f} < 0", f"'{f} must be 0 or more (found ' || r.{f} || ')'") for f in fields]


def _breakdowns_non_negative(lists: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    """A rule per breakdown list: no item has a negative counter."""
    rules = []
    for name, counters in lists.items():
        least = "least(" + ", ".join(f"b.{c}" for c in counters) + ")"
        rules.append((f"coalesce(list_min(list_transform(r.{name}, lambda b: {least})) < 0, false)",
                      f"'{name}[] counters must be 0 or more'"))
    return rules


def _day_rules() -> list[tuple[str, str]]:
    return [
        ("r.day > $today", "'day ' || r.day || ' is in the future (today is ' || $today || ' UTC)'"),
        ("window_start = window_end AND r.day <> window_start",
         "'day ' || r.day || ' is not the day of the report it sits in (' || window_start || ')'"),
        ("NOT r.day BETWEEN window_start AND window_end",
         "'day ' || r.day || ' is outside the report''s window, ' || window_start || ' to ' || window_end"),
    ]


_USER_BREAKDOWNS = {"totals_by_ide": COUNTERS, "totals_by_feature": COUNTERS,
                    "totals_by_language_feature": COUNTERS[1:], "totals_by_model_feature": COUNTERS}
_CLI = ["totals_by_cli.session_count", "totals_by_cli.request_count", "totals_by_cli.prompt_count",
        "totals_by_cli.token_usage.output_tokens_sum", "totals_by_cli.token_usage.prompt_tokens_sum"]

USER_RULES = [
    ("r.user_id <= 0", "'user_id must be a positive integer (found ' || r.user_id || ')'"),
    (f"NOT regexp_matches(r.user_login, '{_LOGIN}')", "'user_login is not a GitHub login: ' || to_json(r.user_login)"),
    *_day_rules(),
    *_non_negative(list(COUNTERS)),
    ("r.ai_credits_used < 0 OR isinf(r.ai_credits_used) OR isnan(r.ai_credits_used)",
     "'ai_credits_used must be a finite number, 0 or more (found ' || r.ai_credits_used || ')'"),
    *_non_negative(_CLI),
    *_breakdowns_non_negative(_USER_BREAKDOWNS),
]
USER_TEAM_RULES = [
    ("r.user_id <= 0", "'user_id must be a positive integer (found ' || r.user_id || ')'"),
    ("r.team_id <= 0", "'team_id must be a positive integer (found ' || r.team_id || ')'"),
    (f"NOT regexp_matches(r.user_login, '{_LOGIN}')", "'user_login is not a GitHub login: ' || to_json(r.user_login)"),
    *_day_rules(),
]
ORG_RULES = [
    *_day_rules(),
    *_non_negative(["daily_active_users", "weekly_active_users", "monthly_active_users", "monthly_active_chat_users",
                    "monthly_active_agent_users", "daily_active_cli_users", *COUNTERS, *_CLI,
                    "pull_requests.total_created", "pull_requests.total_reviewed", "pull_requests.total_merged",
                    "pull_requests.median_minutes_to_merge", "pull_requests.total_created_by_copilot",
                    "pull_requests.total_reviewed_by_copilot", "pull_requests.total_merged_created_by_copilot"]),
]
RULES = {
    "users-1-day": USER_RULES, "users-28-day": USER_RULES, "user-teams-1-day": USER_TEAM_RULES,
    "organization-1-day": ORG_RULES, "enterprise-1-day": ORG_RULES,
    "organization-28-day": ORG_RULES, "enterprise-28-day": ORG_RULES,
}


# Top-level numbers whose value must parse: the line-by-line parse (from_json) turns text such as "12" or "x"
# into NULL where DuckDB's reader refuses the file, so with the line at hand a value present but unparsed is
# a broken record, not a missing figure.
NUMBERS = {
    "users-1-day": ("ai_credits_used", *COUNTERS), "users-28-day": ("ai_credits_used", *COUNTERS),
    "organization-1-day": ("daily_active_users", *COUNTERS), "enterprise-1-day": ("daily_active_users", *COUNTERS),
}


def _unparsed(kind: str) -> list[tuple[str, str]]:
    return [(f"json_type(line, '$.{f}') NOT IN ('NULL') AND r.{f} IS NULL",
             f"'{f} must be a number (found ' || json_extract(line, '$.{f}') || ')'") for f in NUMBERS.get(kind, ())]


def problem_expression(kind: str, required: dict[str, str], with_line: bool = False) -> str:
    """SQL giving, per parsed record, why it cannot be loaded (NULL when it can): a missing key, then a broken rule.

    `required` maps the keys a record must have to what they should look like; `with_line`: the record's text is
    in the column `line` (the line-by-line parse), so values present but not parsed are caught too.
    """
    missing = " || ".join(f"CASE WHEN r.{c} IS NULL THEN ', {c} ({what})' ELSE '' END" for c, what in required.items())
    branches = [(" OR ".join(f"r.{c} IS NULL" for c in required), f"'missing or invalid ' || ltrim({missing}, ', ')")]
    branches += [(cond, msg) for cond, msg in RULES[kind] + (_unparsed(kind) if with_line else [])
                 if reads_known_fields(cond, kind)]
    return "CASE " + " ".join(f"WHEN coalesce({cond}, false) THEN {msg}" for cond, msg in branches) + " END"


def problems(con: duckdb.DuckDBPyConnection, table: str, kind: str, days: list, careful: bool,
             flag: str | None = None) -> list[tuple] | tuple[list[tuple], list[tuple[int, int]]]:
    """(ord, line_no, the first rule broken, the line when `careful`) of each record of `table` that cannot load;
    `days`: the day of each file of the batch (`ord` indexes it), None where its folder names none.

    With `flag`, an SQL condition over the record `r`, the same pass also finds the records it holds for (the
    nested lists are read once, not twice): returns (the problems, (ord, line_no) of the flagged records)."""
    required = NDJSON_SCHEMAS[kind][1]
    if kind.endswith("-28-day"):
        start, end = (("r.report_start_day", "r.report_end_day") if kind == "users-28-day"
                      else ("report_start", "report_end"))
        window = f"coalesce({start}, file_day - 27) AS window_start, coalesce({end}, file_day) AS window_end"
    else:
        window = "file_day AS window_start, file_day AS window_end"
    params = {"days": days, "today": datetime.now(timezone.utc).date()}
    rows = con.execute(f"""
        SELECT ord, line_no, min(problem), {'any_value(line)' if careful else 'NULL'}, bool_or(flagged) FROM (
            SELECT *, {problem_expression(kind, required, careful)} AS problem, {flag or 'false'} AS flagged FROM (
                SELECT *, {window} FROM (SELECT *, list_extract($days::DATE[], ord + 1) AS file_day FROM {table})))
        WHERE problem IS NOT NULL{' OR flagged' if flag else ''} GROUP BY ord, line_no
    """, params).fetchall()
    found = [row[:4] for row in rows if row[2] is not None]
    if flag is None:
        return found
    return found, [(o, ln) for o, ln, _, _, flagged in rows if flagged]
