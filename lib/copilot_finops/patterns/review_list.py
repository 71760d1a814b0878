"""What `patterns review` lists: a month's flagged pattern-weeks per team, for analysts to confirm or dismiss.

One row per team, week and pattern (never per person). Teams with fewer than k developers active
in the month are not listed; a pattern-week behind fewer than k developers shows no figures, only
that it exists, as its medians would describe one or two people.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from ..params import OrgParams
from ..period import Period
from . import review
from .catalog import PATTERN_BY_NAME, week_month
from .detect import active_developers_by_team, evidence_value, label_user_weeks, period_weeks, FEATURE_LABELS


def review_listing(con: duckdb.DuckDBPyConnection, params: OrgParams, period: Period, random_state: int = 0) -> dict:
    """{period, k, pattern_weeks: [...], teams_folded: [...]} for the month (see the module docstring).

    Each pattern-week: id, team_slug, week_start, pattern, pattern_title, user_weeks and evidence
    (None under k developers; evidence lists {feature, label, team_median, peer_median} in the
    reader's units), weight (median of its user-weeks'), review (confirmed, dismissed or None),
    and shape (what a review stores).
    """
    k = params.privacy.k_anonymity
    first, last = period_weeks(period)
    labelled = label_user_weeks(con, params, first, last, random_state=random_state)
    if labelled.empty:
        return {"period": period.label, "k": k, "pattern_weeks": [], "teams_folded": []}
    labelled = labelled[[week_month(w) == period.label for w in labelled["week_start"]]]
    sizes = active_developers_by_team(con, period)
    flagged_teams = set(labelled.loc[labelled["pattern"] != "", "team_slug"])
    folded = sorted(t for t in flagged_teams if sizes.get(t, 0) < k)
    shapes = review.team_shapes(labelled[~labelled["team_slug"].isin(folded)])
    done = review.reviews(con)
    verdicts = {(t, w, p): v for t, w, p, v in zip(done["team_slug"], done["week_start"], done["pattern"], done["verdict"])}
    rows = []
    for s in shapes.itertuples(index=False):
        group = labelled[(labelled["team_slug"] == s.team_slug) & (labelled["week_start"] == s.week_start)
                         & (labelled["pattern"] == s.pattern)]
        shown = s.users >= k
        evidence = None
        if shown:
            evidence = [{"feature": f, "label": FEATURE_LABELS.get(f, f),
                         "team_median": evidence_value(f, float(group[f].median())),
                         "peer_median": evidence_value(f, float(group[f"median_{f}"].median()))}
                        for f in review.features_of(s.pattern)]
        rows.append({"id": review.review_id(s.team_slug, s.week_start, s.pattern), "team_slug": s.team_slug,
                     "week_start": str(s.week_start), "pattern": s.pattern,
                     "pattern_title": PATTERN_BY_NAME[s.pattern].title,
                     "user_weeks": int(s.user_weeks) if shown else None, "evidence": evidence,
                     "weight": round(float(group["weight"].median()), 3),
                     "review": verdicts.get((s.team_slug, s.week_start, s.pattern)), "shape": s.shape})
    return {"period": period.label, "k": k, "pattern_weeks": rows, "teams_folded": folded}


def listing_text(listing: dict) -> str:
    """The listing as the command prints it: one line per pattern-week, then how to review."""
    rows = listing["pattern_weeks"]
    if not rows:
        return f"No flagged pattern-weeks to review in {listing['period']}."
    k = listing["k"]
    table = pd.DataFrame({
        "id": [r["id"] for r in rows],
        "user-weeks": [f"fewer than {k}" if r["user_weeks"] is None else r["user_weeks"] for r in rows],
        "weight": [r["weight"] for r in rows],
        "review": [r["review"] or "-" for r in rows],
        "evidence (team median; segment median)": [
            "not shown: fewer than k developers" if r["evidence"] is None else
            "; ".join(f"{e['label']} {e['team_median']} ({e['peer_median']})" for e in r["evidence"]) for r in rows],
    })
    lines = [f"Flagged pattern-weeks of {listing['period']} (weeks count in the month of their Thursday):", "",
             table.to_string(index=False), "",
             "Confirm or dismiss with --confirm ID / --dismiss ID (repeatable, optional --note)."]
    if listing["teams_folded"]:
        lines.append(f"Not listed: {len(listing['teams_folded'])} team(s) under {k} developers.")
    return "\n".join(lines)
