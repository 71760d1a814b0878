"""Data completeness: the report days the warehouse lacks, the as-of day of usage figures, and the gap banner.

GitHub's daily reports can arrive late or not at all. The `data_gap` view (sql/marts/mart_data_gap.sql, with the
rules in sql/intermediate/int_report_day.sql) lists, per report kind and day, what is missing, late or partial.
From it:

- the as-of day of usage figures is the last complete users-1-day day (`usage_as_of`), so a month in progress is
  never read past a day whose usage is not in;
- usage on a gap day is unknown, not zero: the guardrail forecast estimates it (`unknown_usage_days`);
- every report, the index, `guardrails --json` and `delivery --json` show the gaps of their period
  (`banner_markdown`, `banner_html`, `gaps_document`).
"""
from __future__ import annotations

import html
from datetime import date, timedelta

import duckdb
import pandas as pd

USAGE_KIND = "users-1-day"
STATES = ("missing", "late", "partial")
KIND_LABEL = {
    "users-1-day": "GitHub's users report (users-1-day)",
    "user-teams-1-day": "GitHub's user-teams report (user-teams-1-day)",
    "organization-1-day": "GitHub's organization report (organization-1-day)",
    "enterprise-1-day": "GitHub's enterprise report (enterprise-1-day)",
}
STATE_WORDS = {
    "missing": "is missing",
    "late": "has not arrived yet (GitHub may still publish it: a fetch after the day settles will pick it up)",
    "partial": "arrived incomplete (lines that could not be read, or shards missing)",
}
# What a gap of each kind does to the figures.
CONSEQUENCE = {
    "users-1-day": "usage and AI credits of those days are not in the figures, and forecasts treat them as unknown",
    "user-teams-1-day": "team membership on those days comes from the latest team roster",
    "organization-1-day": "org-wide daily totals of those days are not shown",
    "enterprise-1-day": "enterprise-wide daily totals of those days are not shown",
}


def gaps_between(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    """The data_gap rows from `start` to `end` (inclusive): kind, day (datetime.date), state and the evidence
    (records, files, lines_quarantined, parts_expected, last_asked_at, kind_fetched_at, no_report), ordered by kind
    and day."""
    frame = con.execute("""SELECT * FROM data_gap WHERE day BETWEEN ? AND ? ORDER BY kind, day""",
                        [start, end]).df()
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame


def last_complete_day(con: duckdb.DuckDBPyConnection, kind: str = USAGE_KIND) -> date | None:
    """The last day whose `kind` report is complete (None when the warehouse holds none)."""
    return con.execute("SELECT max(day) FROM int_report_day WHERE kind = ? AND state = 'complete'",
                       [kind]).fetchone()[0]


def usage_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The as-of day of usage figures: the last day the users report (users-1-day) is complete.

    Later days that other reports already cover are gaps of the users report (late or missing), not idle days.
    """
    return last_complete_day(con, USAGE_KIND)


def horizon(con: duckdb.DuckDBPyConnection) -> date | None:
    """The last day any daily report covers or was asked for."""
    return con.execute("SELECT max(day) FROM int_report_day").fetchone()[0]


def unknown_usage_days(con: duckdb.DuckDBPyConnection, start: date, end: date) -> set[date]:
    """Days from `start` to `end` whose usage is unknown: the users report is missing, late or partial."""
    frame = gaps_between(con, start, end)
    return set(frame.loc[frame["kind"] == USAGE_KIND, "day"])


# -- words ------------------------------------------------------------------------------------------------------
def day_ranges(days: list[date]) -> str:
    """Days as ranges in words: [19 Oct, 20 Oct, 23 Oct] -> '19–20 Oct and 23 Oct'."""
    days = sorted(set(days))
    runs: list[list[date]] = []
    for d in days:
        if runs and d - runs[-1][-1] == timedelta(days=1):
            runs[-1].append(d)
        else:
            runs.append([d])

    def one(d: date) -> str:
        return f"{d.day} {d:%b}"

    parts = []
    for run in runs:
        first, last = run[0], run[-1]
        if first == last:
            parts.append(one(first))
        elif (first.month, first.year) == (last.month, last.year):
            parts.append(f"{first.day}–{last.day} {last:%b}")
        else:
            parts.append(f"{one(first)}–{one(last)}")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def banner_sentences(frame: pd.DataFrame, as_of: date | None = None, through: date | None = None) -> list[str]:
    """The banner as plain sentences ([] when `frame`, a gaps_between result, is empty).

    `as_of` (the usage as-of day) is named when it falls before `through` (the last day the period reaches with
    data), as it then ends the usage figures early.
    """
    if frame.empty:
        return []
    sentences = []
    for kind in sorted(set(frame["kind"]), key=lambda k: (k != USAGE_KIND, k)):
        mine = frame[frame["kind"] == kind]
        label = KIND_LABEL.get(kind, kind)
        states = [f"{STATE_WORDS[s]} for {day_ranges(list(mine.loc[mine['state'] == s, 'day']))}"
                  for s in STATES if (mine["state"] == s).any()]
        sentences.append(f"{label} " + "; it ".join(states) + f": {CONSEQUENCE.get(kind, 'figures of those days are incomplete')}.")
    if as_of is not None and through is not None and as_of < through:
        sentences.append(f"Usage figures run to {as_of.day} {as_of:%b %Y}, the last day the users report is complete.")
    return sentences


def _period_banner(con: duckdb.DuckDBPyConnection, start: date, end: date) -> list[str]:
    frame = gaps_between(con, start, end)
    last = horizon(con)
    through = min(end, last) if last else None
    return banner_sentences(frame, usage_as_of(con), through)


def banner_markdown(con: duckdb.DuckDBPyConnection, start: date, end: date) -> str:
    """The gap banner of a report covering `start`..`end`, in Markdown ('' when its days are complete)."""
    sentences = _period_banner(con, start, end)
    if not sentences:
        return ""
    return "> **Incomplete data.** " + " ".join(sentences)


def banner_html(con: duckdb.DuckDBPyConnection, start: date, end: date) -> str:
    """The same banner as an HTML paragraph for the index page ('' when complete)."""
    sentences = _period_banner(con, start, end)
    if not sentences:
        return ""
    return ('<p class="gap-banner"><strong>Incomplete data.</strong> '
            + html.escape(" ".join(sentences)) + "</p>")


def gaps_document(con: duckdb.DuckDBPyConnection, start: date, end: date) -> list[dict]:
    """The `gaps` key of the commands' JSON: one entry per report kind and day with a gap, from `start` to `end`.

    Each entry: kind, day (ISO), state (missing / late / partial), and the evidence: records and files the
    warehouse holds for the day, lines_quarantined, parts_expected (shards the last fetch listed, or null),
    last_asked_at (when the day was last asked for) and kind_fetched_at (the kind's latest fetch), UTC ISO or null
    when no manifest records it.
    """
    frame = gaps_between(con, start, end)

    def iso(moment):
        return None if pd.isna(moment) else pd.Timestamp(moment).isoformat()

    return [{"kind": r["kind"], "day": r["day"].isoformat(), "state": r["state"], "records": int(r["records"]),
             "files": int(r["files"]), "lines_quarantined": int(r["lines_quarantined"]),
             "parts_expected": None if pd.isna(r["parts_expected"]) else int(r["parts_expected"]),
             "last_asked_at": iso(r["last_asked_at"]), "kind_fetched_at": iso(r["kind_fetched_at"])}
            for r in frame.to_dict("records")]


def entries_text(entries: list[dict]) -> str:
    """A `gaps` list of a command's JSON in words, as the banner says it ('' for none)."""
    frame = pd.DataFrame(entries, columns=["kind", "day", "state"])
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return " ".join(banner_sentences(frame))
