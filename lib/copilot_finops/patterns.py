"""High burn, low value: find the wasteful user-week patterns, explain them with evidence, coach.

`detect` is what the `patterns` command and notebook 04 share: it builds the per user-week
features (patterns_features), runs the scikit-learn pipeline (patterns_model: peer scaling within
the role segment, IsolationForest, Gaussian-mixture clusters named by pattern) and returns the
flagged user-weeks with their evidence and the coaching advice from `params/playbooks.yaml`.
Users appear only as pseudonyms; the detector never reads any ground truth.
"""
from __future__ import annotations

import hashlib
import hmac
import importlib
import os
from datetime import date, timedelta

import duckdb
import pandas as pd

from . import cache
from . import patterns_features as features_mod
from .errors import UserError
from .params import OrgParams, Playbooks
from .patterns_catalog import NO_PATTERN, PATTERN_BY_NAME, PATTERNS
from .usage import Period

PATTERN_NAMES = tuple(p.name for p in PATTERNS)
LOOKBACK_WEEKS = 26  # peers are judged over about half a year of weeks, ending with the period
SMALL_TEAMS = "(teams under k developers)"
DETECT_COLUMNS = ["user", "team_slug", "segment", "week_start", "pattern", "pattern_title", "score", "credits",
                  "evidence", "advice"]
FEATURE_LABELS = {
    "interactions": "prompts", "generations": "outputs generated", "acceptances": "outputs accepted",
    "accepted_output_ratio": "accepted-output ratio", "loc_suggested": "lines suggested",
    "loc_added": "lines added", "loc_added_per_suggested": "lines added per line suggested",
    "ai_credits_used": "AI credits", "credits_per_accepted_output": "AI credits per accepted output",
    "cli_requests": "CLI requests", "cli_requests_per_prompt": "CLI requests per prompt",
    "cli_tokens_per_accepted_output": "CLI tokens per accepted output",
    "activity": "prompts, outputs and CLI prompts", "off_window_share": "share of use outside delivery windows",
    "off_window_activity": "prompts, outputs and CLI prompts outside delivery windows",
    "prs_opened_unmerged": "PRs opened, not merged", "unmerged_share": "share of PRs opened that did not merge",
    "merged_prs_same_week": "PRs merged that week", "merged_prs_next_week": "PRs merged the week after",
    "duplicate_prs": "PRs repeating another author's work",
}
# Used only when no key is passed and COPILOT_FINOPS_PSEUDONYM_KEY is unset (demo data, tests, the
# evaluation): pseudonyms are then stable but anyone with this source can recompute them. Reports
# pass the org's key (privacy.key_for) instead.
_DEMO_KEY = b"copilot-finops-demo-pseudonym-key"


def default_pseudonym_key() -> bytes:
    """COPILOT_FINOPS_PSEUDONYM_KEY if set, else the fixed demo key (see above)."""
    return os.environ.get("COPILOT_FINOPS_PSEUDONYM_KEY", "").encode() or _DEMO_KEY


def pseudonym(login: str, key: bytes | None = None) -> str:
    """A stable pseudonymous id for a login, e.g. 'dev-3fa9c2d41b07' (keyed HMAC-SHA256 of the login).

    Uses `copilot_finops.privacy.pseudonym` when that module is installed, so every report names a
    person the same way; otherwise the same HMAC is computed here. `key` defaults to
    `default_pseudonym_key()`.
    """
    key = key or default_pseudonym_key()
    try:
        privacy = importlib.import_module("copilot_finops.privacy")
    except ModuleNotFoundError:
        privacy = None
    if privacy is not None and hasattr(privacy, "pseudonym"):
        return privacy.pseudonym(login, key)
    return "dev-" + hmac.new(key, str(login).casefold().encode(), hashlib.sha256).hexdigest()[:12]


def week_month(week_start: date) -> str:
    """The month a week is reported in: the month of its Thursday (ISO 8601), which holds most of its days."""
    return (week_start + timedelta(days=3)).strftime("%Y-%m")


def label_features(frame: pd.DataFrame, random_state: int = 0) -> pd.DataFrame:
    """Run the detector pipeline on user-week features (`user_week_features` output).

    Returns `frame` joined with score, flagged, cluster, pattern ("" if none), z_<feature> (peer
    distance) and median_<feature> (segment median, the feature's units).
    """
    from . import patterns_model  # scikit-learn: only when a fit is needed, not when it is memoised

    pipeline = patterns_model.build_pipeline(random_state=random_state)
    return frame.join(patterns_model.fit_predict_patterns(pipeline, frame))


@cache.memoised("patterns-labelled")  # org-wide (peers judge peers), the same for every team's report
def label_user_weeks(con: duckdb.DuckDBPyConnection, params: OrgParams, first_week: date | None = None,
                     last_week: date | None = None, random_state: int = 0) -> pd.DataFrame:
    """Features, peer distances and pattern labels of every user-week with activity in the full weeks given.

    The frame carries logins: it is the working table for `detect` and for evaluation, never for
    display. Columns: the `load_user_weeks` columns, the FEATURES, and what `label_features` adds.
    """
    weeks = features_mod.load_user_weeks(con, params, first_week, last_week)
    if weeks.empty:
        return weeks
    return label_features(features_mod.user_week_features(weeks), random_state=random_state)


def _number(x: float) -> float | None:
    if pd.isna(x):
        return None  # JSON has no NaN
    return round(float(x), 3) if abs(x) < 10 else round(float(x), 1)


def evidence(row: pd.Series, pattern: str, extra: int = 2, min_z: float = 3.0) -> list[dict]:
    """What sets a flagged week apart: the pattern's own features first, then up to `extra` other
    features at least `min_z` peer spreads from the segment median. Each item is
    {feature, value, peer_median} in the feature's units."""
    own = [c.feature for c in PATTERN_BY_NAME[pattern].conditions]
    others = [(abs(row[f"z_{f}"]), f) for f in features_mod.FEATURES if f not in own and abs(row[f"z_{f}"]) >= min_z]
    chosen = own + [f for _, f in sorted(others, key=lambda t: (-t[0], t[1]))[:extra]]
    return [{"feature": f, "value": _number(row[f]), "peer_median": _number(row[f"median_{f}"])} for f in chosen]


def evidence_text(items: list[dict]) -> str:
    """Evidence as one readable line: 'accepted-output ratio 0.012 (peers 0.31); prompts 133 (peers 30)'."""
    def number(x) -> str:
        return "n/a" if x is None else f"{x:g}"

    return "; ".join(f"{FEATURE_LABELS.get(e['feature'], e['feature'])} {number(e['value'])} "
                     f"(peers {number(e['peer_median'])})" for e in items)


def period_weeks(period: Period | None, lookback_weeks: int = LOOKBACK_WEEKS) -> tuple[date | None, date | None]:
    """(first, last) Monday of the weeks the detector is fitted on for a period (None: every week)."""
    if period is None:
        return None, None
    # The Monday of the last week whose Thursday falls in the period.
    last = period.end - timedelta(days=(period.end.weekday() - 3) % 7 + 3)
    return last - timedelta(weeks=lookback_weeks), last


def check_playbooks(playbooks: Playbooks | None) -> None:
    """Every pattern needs coaching advice, and every advice entry a pattern: raise UserError otherwise."""
    if playbooks is None:
        return
    missing = [name for name in PATTERN_NAMES if name not in playbooks.patterns]
    unknown = sorted(set(playbooks.patterns) - set(PATTERN_NAMES))
    if missing or unknown:
        raise UserError("playbooks.yaml: " + "; ".join(
            ([f"no advice for pattern(s) {', '.join(missing)}"] if missing else [])
            + ([f"unknown pattern(s) {', '.join(unknown)}"] if unknown else []))
            + f" (patterns: {', '.join(PATTERN_NAMES)})")


def flagged_weeks(labelled: pd.DataFrame, months: set[str] | None, playbooks: Playbooks | None = None,
                  key: bytes | None = None) -> pd.DataFrame:
    """The DETECT_COLUMNS frame of the labelled weeks that carry a pattern, in the given months (None: all)."""
    check_playbooks(playbooks)
    flagged = labelled[labelled["pattern"] != NO_PATTERN] if not labelled.empty else labelled
    if months is not None and not flagged.empty:
        flagged = flagged[[week_month(w) in months for w in flagged["week_start"]]]
    if flagged.empty:
        return pd.DataFrame(columns=DETECT_COLUMNS)
    advice = {name: (playbooks.patterns[name].advice if playbooks and name in playbooks.patterns else "")
              for name in PATTERN_NAMES}
    out = pd.DataFrame({
        "user": [pseudonym(login, key) for login in flagged["user_login"]],
        "team_slug": flagged["team_slug"].to_numpy(),
        "segment": flagged["segment"].to_numpy(),
        "week_start": flagged["week_start"].to_numpy(),
        "pattern": flagged["pattern"].to_numpy(),
        "pattern_title": [PATTERN_BY_NAME[p].title for p in flagged["pattern"]],
        "score": flagged["score"].round(4).to_numpy(),
        "credits": flagged["ai_credits_used"].fillna(0).round(2).to_numpy(),
        "evidence": [evidence(row, row["pattern"]) for _, row in flagged.iterrows()],
        "advice": [advice[p] for p in flagged["pattern"]],
    }, columns=DETECT_COLUMNS)
    return out.sort_values(["week_start", "pattern", "score"], ascending=[True, True, False], ignore_index=True)


def detect(con: duckdb.DuckDBPyConnection, params: OrgParams, period: Period | None = None,
           random_state: int = 0, playbooks: Playbooks | None = None,
           lookback_weeks: int = LOOKBACK_WEEKS, key: bytes | None = None) -> pd.DataFrame:
    """Flagged user-weeks of a month (or of all the data), with evidence and coaching advice.

    Parameters
    ----------
    con : open warehouse connection (read-only is enough).
    params : the org's parameters (segments for peer groups, delivery windows for off-window use).
    period : the month to report; weeks count in the month of their Thursday. The detector is fitted
        on the `lookback_weeks` full weeks before it as well, so peers are judged on more than a month.
        None: fit on and report every full week in the warehouse.
    random_state : seeds the IsolationForest and the Gaussian mixture; same data and seed, same result.
    playbooks : coaching advice per pattern (params.load_playbooks); None leaves `advice` empty.
    key : pseudonym key (privacy.key_for(params, params_dir) in reports); default_pseudonym_key() if None.

    Returns
    -------
    DataFrame, one row per flagged user-week, ordered by week, pattern and score: user (pseudonym),
    team_slug, segment, week_start (date), pattern, pattern_title, score (anomaly score, higher is
    more unusual), credits (AI credits used that week), evidence (list of {feature, value,
    peer_median}), advice. No logins.
    """
    first, last = period_weeks(period, lookback_weeks)
    labelled = label_user_weeks(con, params, first, last, random_state=random_state)
    return flagged_weeks(labelled, None if period is None else {period.label}, playbooks, key)


def detect_with_previous(con: duckdb.DuckDBPyConnection, params: OrgParams, period: Period, random_state: int = 0,
                         playbooks: Playbooks | None = None, lookback_weeks: int = LOOKBACK_WEEKS,
                         key: bytes | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`detect` for a month and the month before, from one fit (so the two months are judged alike)."""
    first, last = period_weeks(period, lookback_weeks)
    labelled = label_user_weeks(con, params, first, last, random_state=random_state)
    return (flagged_weeks(labelled, {period.label}, playbooks, key),
            flagged_weeks(labelled, {period.previous.label}, playbooks, key))


def active_developers_by_team(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, int]:
    """Developers active on each team in the period (per-day membership)."""
    rows = con.execute("""
        SELECT m.team_slug, count(DISTINCT u.user_id)
        FROM stg_user_team_day m JOIN stg_user_day_usage u USING (day, user_id)
        WHERE u.active AND u.day BETWEEN ? AND ? GROUP BY 1
    """, [period.start, period.end]).fetchall()
    return {team: int(n) for team, n in rows}


def pattern_table(flagged: pd.DataFrame, team_sizes: dict[str, int] | None = None, k: int = 5) -> pd.DataFrame:
    """Pattern x team: user-weeks, distinct users and AI credits of the flagged weeks.

    Teams with fewer than `k` active developers (`team_sizes`) are folded into one row per pattern
    named SMALL_TEAMS, so a pattern is never pinned on a team where it points at one of a handful
    of people. Rows are ordered by credits, largest first.
    """
    columns = ["pattern", "team_slug", "user_weeks", "users", "credits"]
    if flagged.empty:
        return pd.DataFrame(columns=columns)
    frame = flagged.copy()
    if team_sizes is not None:
        small = [team_sizes.get(t, 0) < k for t in frame["team_slug"]]
        frame.loc[small, "team_slug"] = SMALL_TEAMS
    table = (frame.groupby(["pattern", "team_slug"], as_index=False)
             .agg(user_weeks=("week_start", "size"), users=("user", "nunique"), credits=("credits", "sum")))
    table["credits"] = table["credits"].round(1)
    return table.sort_values(["credits", "pattern", "team_slug"], ascending=[False, True, True],
                             ignore_index=True)[columns]


def team_movement(current: pd.DataFrame, previous: pd.DataFrame, team: str) -> pd.DataFrame:
    """A team's patterns this month against last month: user-weeks and credits, and the change.

    One row per pattern seen in either month, in PATTERNS order.
    """
    def totals(frame: pd.DataFrame) -> pd.DataFrame:
        mine = frame[frame["team_slug"] == team]
        return mine.groupby("pattern").agg(user_weeks=("week_start", "size"), credits=("credits", "sum"))

    now, before = totals(current), totals(previous)
    rows = []
    for name in PATTERN_NAMES:
        if name not in now.index and name not in before.index:
            continue
        weeks_now = int(now["user_weeks"].get(name, 0))
        weeks_before = int(before["user_weeks"].get(name, 0))
        rows.append({"pattern": PATTERN_BY_NAME[name].title, "user_weeks": weeks_now,
                     "user_weeks_last_month": weeks_before, "credits": round(float(now["credits"].get(name, 0.0)), 1),
                     "credits_last_month": round(float(before["credits"].get(name, 0.0)), 1),
                     "change": "new" if not weeks_before else "gone" if not weeks_now
                     else "up" if weeks_now > weeks_before else "down" if weeks_now < weeks_before else "same"})
    return pd.DataFrame(rows, columns=["pattern", "user_weeks", "user_weeks_last_month", "credits",
                                       "credits_last_month", "change"])


def team_credits(con: duckdb.DuckDBPyConnection, team: str, period: Period) -> float:
    """AI credits the team used in the month (per-day membership), to put the flagged weeks' credits in proportion."""
    row = con.execute("""
        SELECT coalesce(sum(u.ai_credits_used), 0) FROM stg_user_day_usage u
        JOIN (SELECT DISTINCT day, user_id FROM stg_user_team_day WHERE team_slug = ?) m USING (day, user_id)
        WHERE u.day BETWEEN ? AND ?
    """, [team, period.start, period.end]).fetchone()
    return float(row[0])


@cache.memoised("org-team-weeks")
def org_team_weeks(con: duckdb.DuckDBPyConnection, params: OrgParams, period: Period) -> pd.DataFrame:
    """Every team's weeks of the period on the detector's team-week measures (`team_week_features`).

    Duplicate work is judged against every author's PRs, so the frame is built org-wide once and
    memoised: each team's report of the period takes its rows from the same frame.
    """
    _, last = period_weeks(period, lookback_weeks=0)
    weeks = features_mod.load_user_weeks(con, params, period.start - timedelta(days=3), last)
    return pd.DataFrame() if weeks.empty else features_mod.team_week_features(features_mod.user_week_features(weeks))


def team_week_table(con: duckdb.DuckDBPyConnection, params: OrgParams, team: str, period: Period,
                    k: int) -> pd.DataFrame:
    """The team's weeks in the period on the detector's team-week measures, for context.

    One row per week (weeks count in the month of their Thursday): developers active, accepted-output
    ratio, CLI requests per prompt, share of use outside delivery windows, PRs merged and PRs
    repeating another author's work. Weeks with fewer than `k` active developers are left blank.
    """
    columns = ["week of", "developers", "accepted-output ratio", "CLI requests per prompt",
               "share of use off-window", "PRs merged", "PRs repeating other work"]
    teams = org_team_weeks(con, params, period)
    if teams.empty:
        return pd.DataFrame(columns=columns)
    mine = teams[teams["team_slug"] == team]
    table = pd.DataFrame({
        "week of": [str(w) for w in mine["week_start"]], "developers": mine["users"].to_numpy(),
        "accepted-output ratio": mine["accepted_output_ratio"].round(3).to_numpy(),
        "CLI requests per prompt": mine["cli_requests_per_prompt"].round(1).to_numpy(),
        "share of use off-window": mine["off_window_share"].round(3).to_numpy(),
        "PRs merged": mine["merged_prs_same_week"].astype("int64").to_numpy(),
        "PRs repeating other work": mine["duplicate_prs"].astype("int64").to_numpy(),
    }, columns=columns)
    small = (table["developers"] < k).to_numpy()
    for column in columns[1:]:
        # object columns keep counts whole and let suppressed cells be NaN ("suppressed" in reports)
        table[column] = pd.Series([float("nan") if hide else value for hide, value in zip(small, table[column])],
                                  dtype=object, index=table.index)
    return table


def team_summary_markdown(team: str, period: Period, flagged: pd.DataFrame, credits_month: float, k: int) -> str:
    """The written summary of a team's high-burn month, built from the figures it quotes.

    When fewer than `k` developers are behind the flagged weeks, their count and credits are not
    quoted: they would describe a handful of people.
    """
    mine = flagged[flagged["team_slug"] == team]
    if mine.empty:
        return (f"**{team}, {period.label}.** No user-week of the team matched a high-burn pattern this month. "
                "Heavy use that is accepted and merged is not a pattern: it is what the assistant is for.")
    names = ", ".join(sorted({PATTERN_BY_NAME[p].title.lower() for p in mine["pattern"]}))
    credits = float(mine["credits"].sum())
    share = (f" ({credits / credits_month:.0%} of the team's {credits_month:,.0f} AI credits this month)"
             if credits_month else "")
    weeks, people = len(mine), mine["user"].nunique()
    if people < k:
        return (f"**{team}, {period.label}.** Some user-weeks of fewer than {k} developers matched a pattern: "
                f"{names}. Their counts and credits are not shown, as they would describe a handful of people; "
                "the patterns and their coaching below are what the team can act on together.")
    return (f"**{team}, {period.label}.** {weeks} user-week{'s' if weeks != 1 else ''} of "
            f"{people} developer{'s' if people != 1 else ''} matched a pattern: {names}. "
            f"Those weeks used {credits:,.0f} AI credits{share}. Each is a prompt for a process change, "
            "not a verdict on a person.")


def movement_for_display(movement: pd.DataFrame) -> pd.DataFrame:
    """A `team_movement` table for people: plain column names, whole credits."""
    return pd.DataFrame({
        "pattern": movement["pattern"], "user-weeks": movement["user_weeks"],
        "last month": movement["user_weeks_last_month"],
        "AI credits": [f"{c:,.0f}" for c in movement["credits"]],
        "AI credits last month": [f"{c:,.0f}" for c in movement["credits_last_month"]],
        "change": movement["change"],
    })


def movement_chart(movement: pd.DataFrame):
    """Bars of AI credits per pattern, this month against last month (an altair chart)."""
    import altair as alt

    data = pd.concat([
        pd.DataFrame({"pattern": movement["pattern"], "month": "this month", "credits": movement["credits"]}),
        pd.DataFrame({"pattern": movement["pattern"], "month": "last month",
                      "credits": movement["credits_last_month"]}),
    ], ignore_index=True)
    return (alt.Chart(data, title="AI credits in flagged weeks, by pattern")
            .mark_bar()
            .encode(y=alt.Y("pattern:N", title=None), x=alt.X("credits:Q", title="AI credits"),
                    yOffset=alt.YOffset("month:N", sort=["last month", "this month"]),
                    color=alt.Color("month:N", title=None, sort=["last month", "this month"],
                                    scale=alt.Scale(range=["#8c959f", "#1f6feb"]), legend=alt.Legend(orient="top")),
                    tooltip=["pattern:N", "month:N", alt.Tooltip("credits:Q", format=",.0f")])
            .properties(width=440, height=alt.Step(14)))


def flagged_for_display(flagged: pd.DataFrame) -> pd.DataFrame:
    """Flagged weeks as a table for people: pseudonym, week, pattern title, credits, evidence in words."""
    return pd.DataFrame({
        "user": flagged["user"], "week of": [str(w) for w in flagged["week_start"]],
        "pattern": flagged["pattern_title"], "AI credits": [f"{c:,.0f}" for c in flagged["credits"]],
        "evidence (value, peer median)": [evidence_text(e) for e in flagged["evidence"]],
    })


def table_for_display(table: pd.DataFrame, k: int) -> pd.DataFrame:
    """A `pattern_table` for people: pattern titles, plain column names, and rows over fewer than `k`
    developers shown without their figures."""
    small = table["users"] < k
    hidden = f"fewer than {k}"
    return pd.DataFrame({
        "pattern": [PATTERN_BY_NAME[p].title for p in table["pattern"]], "team": table["team_slug"],
        "user-weeks": [hidden if s else str(n) for s, n in zip(small, table["user_weeks"])],
        "developers": [hidden if s else str(n) for s, n in zip(small, table["users"])],
        "AI credits": ["suppressed" if s else f"{c:,.0f}" for s, c in zip(small, table["credits"])],
    })


def to_records(flagged: pd.DataFrame) -> list[dict]:
    """Flagged weeks as JSON-ready dicts (dates as ISO strings)."""
    records = flagged.to_dict(orient="records")
    for r in records:
        r["week_start"] = str(r["week_start"])
    return records
