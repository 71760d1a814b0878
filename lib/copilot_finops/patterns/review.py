"""Analysts teach the detector: a team's flagged pattern-week is confirmed or dismissed, and weighs on similar weeks.

A review names a team, a week and a pattern (no user, no reviewer) and is kept in the warehouse
(`pattern_review`), which ingest never touches, so reviews survive any re-ingest. With it goes the
week's shape: the median robust z, over the team's flagged user-weeks, of the features the pattern
reads. A later flagged user-week of the same pattern gets a weight from the reviews of similar
shapes (a Gaussian kernel of width KERNEL_WIDTH robust z):

    weight = (1 + sum of confirmed similarities) / (1 + sum of confirmed + sum of dismissed similarities)

1 with no review nearby; a week shaped like two dismissals and no confirmation weighs about 1/3.
Weeks under `patterns.review_min_weight` are not reported, and a pattern-week dismissed itself
never is. The org's confirmed precision per pattern and month is what notebook 04 shows.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import duckdb
import numpy as np
import pandas as pd

from ..errors import UserError
from .catalog import NO_PATTERN, PATTERN_BY_NAME, week_month

VERDICTS = ("confirmed", "dismissed")
KERNEL_WIDTH = 1.0  # robust z: shapes closer than about one segment spread count as alike


def features_of(pattern: str) -> list[str]:
    """The features a pattern's conditions read, in catalog order, once each."""
    return list(dict.fromkeys(c.feature for c in PATTERN_BY_NAME[pattern].conditions))


def review_id(team: str, week: date, pattern: str) -> str:
    """The id an analyst names a team's pattern-week by: 'team/YYYY-MM-DD/pattern'."""
    return f"{team}/{week.isoformat()}/{pattern}"


def parse_review_id(text: str) -> tuple[str, date, str]:
    """(team, week Monday, pattern) of an id; UserError naming the id and the expected form otherwise."""
    parts = text.strip().split("/")
    try:
        team, week, pattern = parts
        day = date.fromisoformat(week)
    except ValueError:
        raise UserError(f"review id {text!r}: write it as TEAM/YYYY-MM-DD/PATTERN, as `patterns review` lists it "
                        "(e.g. platform-sre/2026-10-05/off_window)") from None
    if pattern not in PATTERN_BY_NAME:
        raise UserError(f"review id {text!r}: unknown pattern {pattern!r}; patterns: {', '.join(PATTERN_BY_NAME)}")
    if day.weekday() != 0:
        raise UserError(f"review id {text!r}: {week} is not a Monday; weeks are named by their Monday")
    return team, day, pattern


def team_shapes(labelled: pd.DataFrame) -> pd.DataFrame:
    """One row per team, week and pattern flagged in `labelled`: user_weeks and shape (feature -> median z)."""
    flagged = labelled[labelled["pattern"] != NO_PATTERN] if not labelled.empty else labelled
    rows = []
    for (team, week, pattern), group in flagged.groupby(["team_slug", "week_start", "pattern"], sort=True):
        shape = {f: round(float(group[f"z_{f}"].median()), 3) for f in features_of(pattern)}
        rows.append({"team_slug": team, "week_start": week, "pattern": pattern, "user_weeks": int(len(group)),
                     "users": int(group["user_login"].nunique()), "shape": shape})
    return pd.DataFrame(rows, columns=["team_slug", "week_start", "pattern", "user_weeks", "users", "shape"])


def record(con: duckdb.DuckDBPyConnection, team: str, week: date, pattern: str, verdict: str,
           shape: dict | None, note: str | None = None) -> None:
    """Store (or replace) the review of one team's pattern-week. `con` must be writable."""
    if verdict not in VERDICTS:
        raise UserError(f"review verdict {verdict!r}: use one of {', '.join(VERDICTS)}")
    con.execute("DELETE FROM pattern_review WHERE team_slug = ? AND week_start = ? AND pattern = ?", [team, week, pattern])
    con.execute("INSERT INTO pattern_review VALUES (?, ?, ?, ?, ?, ?, ?)",
                [team, week, pattern, verdict, json.dumps(shape or {}, sort_keys=True), note,
                 datetime.now(timezone.utc).replace(tzinfo=None)])


def reviews(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every stored review: team_slug, week_start (date), pattern, verdict, shape (dict), note, reviewed_at."""
    frame = con.execute("SELECT * FROM pattern_review ORDER BY week_start, team_slug, pattern").df()
    frame["week_start"] = pd.to_datetime(frame["week_start"]).dt.date
    frame["shape"] = [json.loads(s) if s else {} for s in frame["shape"]]
    return frame


def weights(labelled: pd.DataFrame, reviewed: pd.DataFrame) -> pd.Series:
    """Each labelled user-week's weight from the reviews of its pattern (1.0 for weeks without a pattern).

    A user-week of a pattern-week dismissed itself weighs 0.
    """
    out = pd.Series(1.0, index=labelled.index)
    if reviewed.empty or labelled.empty:
        return out
    dismissed = {(t, w, p) for t, w, p, v in zip(reviewed["team_slug"], reviewed["week_start"], reviewed["pattern"],
                                                 reviewed["verdict"]) if v == "dismissed"}
    for pattern, group in labelled[labelled["pattern"] != NO_PATTERN].groupby("pattern"):
        mine = reviewed[reviewed["pattern"] == pattern]
        if mine.empty:
            continue
        feats = features_of(pattern)
        points = group[[f"z_{f}" for f in feats]].to_numpy(dtype=float)
        shapes = np.array([[s.get(f, np.nan) for f in feats] for s in mine["shape"]], dtype=float)
        d2 = np.nansum((points[:, None, :] - shapes[None, :, :]) ** 2, axis=2)
        sim = np.exp(-d2 / (2 * KERNEL_WIDTH ** 2))
        confirmed = (mine["verdict"] == "confirmed").to_numpy()
        w = (1 + sim[:, confirmed].sum(axis=1)) / (1 + sim.sum(axis=1))
        own = [(t, wk, pattern) in dismissed for t, wk in zip(group["team_slug"], group["week_start"])]
        out.loc[group.index] = np.where(own, 0.0, w)
    return out.round(4)


def confirmed_precision(reviewed: pd.DataFrame) -> pd.DataFrame:
    """The org's confirmed precision per pattern and month: confirmed / reviewed pattern-weeks.

    Columns: month (the month of the week's Thursday), pattern, confirmed, dismissed, precision.
    """
    columns = ["month", "pattern", "confirmed", "dismissed", "precision"]
    if reviewed.empty:
        return pd.DataFrame(columns=columns)
    frame = reviewed.assign(month=[week_month(w) for w in reviewed["week_start"]])
    table = (frame.groupby(["month", "pattern"])["verdict"].value_counts().unstack(fill_value=0)
             .reindex(columns=list(VERDICTS), fill_value=0).reset_index())
    table["precision"] = (table["confirmed"] / (table["confirmed"] + table["dismissed"])).round(3)
    return table[columns].sort_values(["month", "pattern"], ignore_index=True)
