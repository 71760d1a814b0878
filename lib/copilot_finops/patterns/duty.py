"""Incident and on-call duty: the days a developer's activity is tied to keeping production running.

Off-window use on these days is the job, not a habit to coach away, so the off-window measures
leave them out. A developer is on duty on a day when
- params declare them on call (`on_call.shifts` and `on_call.rotations`);
- they opened or are assigned an incident (an issue with the incident label) open that day, for at
  most its first `incident_days` days (an incident left open for weeks does not excuse weeks);
- they opened or merged that day a pull request carrying an incident label (`incident_pr_labels`:
  hotfix, rollback ...) or naming an incident of its repo (`#123` in its title or body);
- they created that day a deployment in a repo with an incident open (a deployment that restores service).
Incident work on an off-window day marks the whole stretch of off-window days around it (the
weekend, a holiday bridge): whoever handles an incident on a Saturday is on call that weekend.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import duckdb
import pandas as pd

from ..params import OrgParams

ISSUE_REF = re.compile(r"#(\d+)\b")


def _days(start: datetime, end: datetime) -> list[date]:
    day, out = start.date(), []
    while day <= end.date():
        out.append(day)
        day += timedelta(days=1)
    return out


def _whole_stretch(rows: list[tuple[str, date, str]], params: OrgParams, first: date, last: date) -> list[tuple]:
    """The other off-window days of each stretch of consecutive off-window days that holds incident work."""
    off = set(params.delivery_windows.off_window_days(first - timedelta(days=7), last + timedelta(days=7)))
    extra = []
    for login, day, reason in rows:
        if reason == "on call" or day not in off:
            continue
        for step in (-1, 1):
            other = day + timedelta(days=step)
            while other in off:
                extra.append((login, other, reason))
                other += timedelta(days=step)
    return extra


def duty_days(con: duckdb.DuckDBPyConnection, params: OrgParams, first: date, last: date) -> pd.DataFrame:
    """(user_login lower-cased, day) of every duty day from `first` to `last`, with its `reason`; one row per pair."""
    rules = params.patterns
    rows: list[tuple[str, date, str]] = []
    for login, days in params.on_call.days_by_login(first, last).items():
        rows += [(login, d, "on call") for d in days]
    lo = datetime.combine(first - timedelta(days=rules.incident_days), datetime.min.time())
    hi = datetime.combine(last + timedelta(days=1), datetime.min.time())
    incidents = con.execute("""
        SELECT repo, number, created_at, closed_at, author_login, assignees, labels FROM incident
        WHERE created_at < ? AND coalesce(closed_at, created_at) >= ?
    """, [hi, lo]).df()
    label = params.incident_label.lower()
    incidents = incidents[[any(str(x).lower() == label for x in (labels if labels is not None else []))
                           for labels in incidents["labels"]]]
    windows: dict[str, list[tuple[datetime, datetime]]] = {}
    numbers: dict[str, set[int]] = {}
    for inc in incidents.itertuples(index=False):
        cap = inc.created_at + timedelta(days=rules.incident_days)
        end = min(inc.closed_at, cap) if pd.notna(inc.closed_at) else cap
        windows.setdefault(inc.repo, []).append((inc.created_at, end))
        numbers.setdefault(inc.repo, set()).add(int(inc.number))
        people = {inc.author_login, *(inc.assignees if inc.assignees is not None else [])}
        rows += [(p.lower(), d, "incident") for p in people if p for d in _days(inc.created_at, end)]
    labels = [x.lower() for x in rules.incident_pr_labels]
    prs = con.execute("""
        SELECT repo, author_login, title, labels, created_at, merged_at, body
        FROM pull_request
        WHERE author_login IS NOT NULL AND created_at < ? AND coalesce(merged_at, created_at) >= ?
          -- only PRs that could be an incident fix (a label, or a '#' to refer to an issue); judged below
          AND (coalesce(len(labels), 0) > 0 OR contains(coalesce(title, '') || ' ' || coalesce(body, ''), '#'))
    """, [hi, lo]).df()
    for pr in prs.itertuples(index=False):
        tagged = any(str(x).lower() in labels for x in (pr.labels if pr.labels is not None else []))
        refs = {int(n) for n in ISSUE_REF.findall(f"{pr.title or ''} {pr.body or ''}")}
        if tagged or refs & numbers.get(pr.repo, set()):
            rows += [(pr.author_login.lower(), t.date(), "incident fix") for t in (pr.created_at, pr.merged_at)
                     if pd.notna(t)]
    deployments = con.execute("""
        SELECT repo, creator_login, created_at FROM deployment
        WHERE creator_login IS NOT NULL AND created_at >= ? AND created_at < ?
    """, [lo, hi]).df()
    for dep in deployments.itertuples(index=False):
        if any(start <= dep.created_at <= end for start, end in windows.get(dep.repo, [])):
            rows.append((dep.creator_login.lower(), dep.created_at.date(), "restoring deployment"))
    rows += _whole_stretch(rows, params, first, last)
    out = pd.DataFrame(rows, columns=["user_login", "day", "reason"])
    out = out[(out["day"] >= first) & (out["day"] <= last)]
    return out.drop_duplicates(["user_login", "day"]).sort_values(["user_login", "day"]).reset_index(drop=True)
