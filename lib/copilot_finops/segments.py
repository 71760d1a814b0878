"""Role segments, task classes and role-aware baselines.

- Segments: params map each team to a role segment; teams found in the data but not in params are
  'unassigned' and listed, never dropped.
- Task classes (docs, tests, automation, code changes): rule tables in params over the language and feature of
  generated code, CLI use, and the paths of files in merged pull requests (the only signal for tests, which are
  written in the same languages as the code). Every figure names the signal it rests on. The first class whose
  rule matches wins (params order); the class with no rule takes the rest.
- Baselines: each team against its own trailing three months and against the median and inter-quartile range of
  the teams in its segment, so an SRE team's CLI burn is judged against SRE peers. Teams under k members are
  left out of peer statistics and their own figures are suppressed.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from . import figures, formatting, privacy
from .params import UNASSIGNED, OrgParams, TaskClassRule
from .period import Period

SIGNAL_LANGUAGE = "language & feature of generated code"
SIGNAL_CLI = "Copilot CLI use"
SIGNAL_PR_PATHS = "file paths of merged PRs"
BASELINE_MEASURES = {key: figures.label(key) for key in (  # columns of the cost model, each a registered figure
    "prompts_per_active_developer", "accepted_output_ratio", "credits_per_active_developer",
    "cli_requests_per_active_developer", "cost_per_active_developer", "cost_per_merged_change")}


# -- segments -------------------------------------------------------------------------------------------------
def segment_table(teams: list[str], params: OrgParams) -> pd.DataFrame:
    """Every team with its segment id and label; unassigned teams get segment 'unassigned'."""
    labels = {seg: s.label for seg, s in params.segments.items()}
    rows = [{"team_slug": t, "segment": params.segment_of(t),
             "segment_label": labels.get(params.segment_of(t), "Unassigned (not in params/org.yaml)")} for t in teams]
    return pd.DataFrame(rows, columns=["team_slug", "segment", "segment_label"])


def unassigned_teams(teams: list[str], params: OrgParams) -> list[str]:
    """Teams in the data that params map to no segment (to list in reports, never to drop)."""
    return sorted(t for t in teams if params.segment_of(t) == UNASSIGNED)


# -- task classes ---------------------------------------------------------------------------------------------
def _catch_all(rules: dict[str, TaskClassRule]) -> str:
    return next((name for name, rule in rules.items() if rule.catch_all), "other")


def classify_code(languages: pd.Series, features: pd.Series, rules: dict[str, TaskClassRule]) -> pd.Series:
    """Task class of generated code from its language and feature (first matching rule; else the catch-all)."""
    fallback = _catch_all(rules)
    out = pd.Series(fallback, index=languages.index, dtype="object")
    decided = pd.Series(False, index=languages.index)
    lang = languages.fillna("").str.lower()
    feat = features.fillna("").str.lower()
    for name, rule in rules.items():
        match = lang.isin([x.lower() for x in rule.languages]) | feat.isin([x.lower() for x in rule.features])
        take = match & ~decided
        out[take] = name
        decided |= take
    return out


def classify_paths(paths: pd.Series, rules: dict[str, TaskClassRule]) -> pd.Series:
    """Task class of changed files: the first rule with a `pr_paths` fragment the path contains; else the catch-all."""
    fallback = _catch_all(rules)
    lowered = paths.fillna("").str.lower()
    out = pd.Series(fallback, index=paths.index, dtype="object")
    decided = pd.Series(False, index=paths.index)
    for name, rule in rules.items():
        if not rule.pr_paths:
            continue
        match = pd.Series(False, index=paths.index)
        for fragment in rule.pr_paths:
            match |= lowered.str.contains(fragment.lower(), regex=False)
        take = match & ~decided
        out[take] = name
        decided |= take
    return out


def cli_class(rules: dict[str, TaskClassRule]) -> str:
    """The class CLI use counts towards: the first rule with `cli: true`, else the catch-all."""
    return next((name for name, rule in rules.items() if rule.cli), _catch_all(rules))


def task_class_usage(code: pd.DataFrame, cli_requests: float, files: pd.DataFrame,
                     rules: dict[str, TaskClassRule]) -> pd.DataFrame:
    """Usage by task class, one row per class, signal and measure.

    Parameters
    ----------
    code : generated code by language and feature: language, feature, generations, acceptances, loc_added.
    cli_requests : the team's CLI requests in the period.
    files : files of merged pull requests: filename, lines_changed.
    rules : params.task_classes.

    Returns
    -------
    Frame task_class, signal, measure, value, share (of the signal's measure over all classes). Every class of
    the rules appears for every signal, with 0 where nothing matched, so a missing class is visibly zero.
    """
    rows = []
    classes = list(rules) or ["other"]
    if len(code):
        by = code.assign(task_class=classify_code(code["language"], code["feature"], rules))
        for measure, label in (("generations", "outputs generated"), ("loc_added", "lines added")):
            totals = by.groupby("task_class")[measure].sum()
            rows += [{"task_class": c, "signal": SIGNAL_LANGUAGE, "measure": label, "value": float(totals.get(c, 0.0))}
                     for c in classes]
    rows += [{"task_class": c, "signal": SIGNAL_CLI, "measure": "CLI requests",
              "value": float(cli_requests) if c == cli_class(rules) else 0.0} for c in classes]
    if len(files):
        by = files.assign(task_class=classify_paths(files["filename"], rules))
        for measure, label, agg in (("filename", "files changed", "count"), ("lines_changed", "lines changed", "sum")):
            totals = by.groupby("task_class")[measure].agg(agg)
            rows += [{"task_class": c, "signal": SIGNAL_PR_PATHS, "measure": label, "value": float(totals.get(c, 0.0))}
                     for c in classes]
    frame = pd.DataFrame(rows, columns=["task_class", "signal", "measure", "value"])
    totals = frame.groupby(["signal", "measure"])["value"].transform("sum")
    frame["share"] = frame["value"] / totals.where(totals > 0)
    return frame


def team_task_classes(con: duckdb.DuckDBPyConnection, team: str, period: Period, params: OrgParams) -> pd.DataFrame:
    """`task_class_usage` for a team's month, read from the warehouse (members on the days they were on the team)."""
    members = "(SELECT day, user_id FROM int_team_member_day WHERE team_slug = ? AND day BETWEEN ? AND ?)"
    args = [team, period.start, period.end]
    code = con.execute(f"""
        SELECT f.language, f.feature, sum(f.code_generation_activity_count) AS generations,
               sum(f.code_acceptance_activity_count) AS acceptances, sum(f.loc_added_sum) AS loc_added
        FROM user_day_language_feature f JOIN {members} m USING (day, user_id)
        GROUP BY ALL""", args).df()
    cli = con.execute(f"""SELECT coalesce(sum(u.cli_requests), 0) FROM int_user_day_usage u
                          JOIN {members} m USING (day, user_id)""", args).fetchone()[0]
    files = con.execute(f"""
        SELECT f.filename, coalesce(f.additions, 0) + coalesce(f.deletions, 0) AS lines_changed
        FROM pull_request p
        JOIN pull_request_file f USING (repo, number)
        JOIN {members} m ON m.user_id = p.author_id AND m.day = p.merged_at::DATE
        WHERE p.merged_at IS NOT NULL""", args).df()
    return task_class_usage(code, float(cli), files, params.task_classes)


# -- baselines ------------------------------------------------------------------------------------------------
def shown_values(rows: pd.DataFrame, measure: str, k: int) -> pd.Series:
    """A measure of cost-model rows with the values computed from fewer than k people blanked (NaN): the team
    under k members, or the group the figure is computed from (its CLI users, for a CLI figure) under k."""
    hide = [bool(privacy.small_group(r.get("members", 0) or 0, k)) or figures.hidden(figures.people_of(measure, r), k)
            for r in rows.to_dict("records")]
    return rows[measure].astype(float).mask(pd.Series(hide, index=rows.index, dtype=bool))


def own_baseline(history: pd.DataFrame, team: str, period: str, measures: list[str], months: int = 3,
                 k: int | None = None) -> pd.DataFrame:
    """A team's month against the mean of its previous `months` months (those it has data for).

    history : cost-model rows (team_slug, period, measures) over several months.
    Returns measure, value, trailing_mean, trailing_months, change (value / trailing mean - 1).
    """
    rows = history[history["team_slug"] == team].set_index("period").sort_index()
    if k is not None:  # months whose figure is computed from fewer than k people are left out, never quoted
        rows = rows.assign(**{m: shown_values(rows, m, k) for m in measures})
    current = rows.loc[period] if period in rows.index else None
    before = rows[rows.index < period].tail(months)
    out = []
    for m in measures:
        value = float(current[m]) if current is not None and pd.notna(current[m]) else np.nan
        trailing = float(before[m].mean()) if len(before) and before[m].notna().any() else np.nan
        out.append({"measure": m, "value": value, "trailing_mean": trailing, "trailing_months": int(before[m].notna().sum()),
                    "change": value / trailing - 1 if trailing and not np.isnan(trailing) and not np.isnan(value) else np.nan})
    return pd.DataFrame(out)


def peer_baseline(month: pd.DataFrame, team: str, measures: list[str], k: int) -> pd.DataFrame:
    """A team against the teams of its segment in the same month: median, quartiles and where it sits.

    month : cost-model rows of one month (team_slug, segment, members, measures).
    Teams with fewer than k members are left out of the peer statistics (and their own value is suppressed).
    Returns measure, value, peer_median, peer_q1, peer_q3, peers (teams counted, the team included), position
    ('above the range', 'within the range', 'below the range'; 'too few peers' when the segment has under 2
    teams of k members or more, 'suppressed' when the team itself has fewer than k).
    """
    row = month[month["team_slug"] == team]
    if row.empty:
        raise ValueError(f"team {team!r} has no row in this month")
    segment = row["segment"].iloc[0]
    peers = month[(month["segment"] == segment) & (month["members"] >= k)]
    own_small = bool(row["members"].iloc[0] < k)
    out = []
    for m in measures:
        values = shown_values(peers, m, k).dropna()
        value = float(shown_values(row, m, k).iloc[0])
        q1, med, q3 = (values.quantile([0.25, 0.5, 0.75]).tolist() if len(values) else [np.nan] * 3)
        if np.isnan(value):
            position = "suppressed" if own_small or pd.notna(row[m].iloc[0]) else "n/a"
        elif len(values) < 2:
            position = "too few peers"
        else:
            position = "above the range" if value > q3 else "below the range" if value < q1 else "within the range"
        out.append({"measure": m, "value": value, "peer_median": med, "peer_q1": q1, "peer_q3": q3,
                    "peers": int(len(values)), "position": position})
    return pd.DataFrame(out)


def segment_summary(month: pd.DataFrame, measure: str, k: int) -> pd.DataFrame:
    """Median and quartiles of one measure per segment (teams with k members or more): segment, teams, q1, median, q3."""
    eligible = month[month["members"] >= k]
    grouped = eligible.groupby("segment")[measure]
    out = pd.DataFrame({"teams": grouped.count(), "q1": grouped.quantile(0.25), "median": grouped.median(),
                        "q3": grouped.quantile(0.75)}).reset_index()
    return out


def _fmt(value: float, measure: str, hidden: bool = False, k: int = 5) -> str:
    if hidden:
        return figures.show(measure, value, people=1, k=k)
    return figures.show(measure, value)


def peer_table(peers: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """`peer_baseline` as a readable table: measure, this team, segment median, middle half of the segment, position."""
    return pd.DataFrame([{"measure": BASELINE_MEASURES.get(r["measure"], r["measure"]),
                          "this team": _fmt(r["value"], r["measure"], r["position"] == "suppressed", k),
                          "segment median": _fmt(r["peer_median"], r["measure"]),
                          "segment middle half": f"{_fmt(r['peer_q1'], r['measure'])} – {_fmt(r['peer_q3'], r['measure'])}",
                          "teams": r["peers"], "where the team sits": r["position"]} for r in peers.to_dict("records")])


def own_table(own: pd.DataFrame) -> pd.DataFrame:
    """`own_baseline` as a readable table: measure, this month, mean of the previous months, change."""
    return pd.DataFrame([{"measure": BASELINE_MEASURES.get(r["measure"], r["measure"]),
                          "this month": _fmt(r["value"], r["measure"]),
                          f"previous {r['trailing_months']} months' mean": _fmt(r["trailing_mean"], r["measure"]),
                          "change": formatting.signed_percent(r["change"])}
                         for r in own.to_dict("records")])


# -- charts ---------------------------------------------------------------------------------------------------
def peer_chart(month: pd.DataFrame, team: str, measures: dict[str, str], k: int):
    """One strip per measure: the segment's teams as dots (the team highlighted), the peers' range as a band and
    their median as a tick. Teams under k members are left out."""
    import altair as alt

    from .charts import ORG_COLOUR, TEAM_COLOUR

    segment = month.loc[month["team_slug"] == team, "segment"].iloc[0]
    peers = month[(month["segment"] == segment) & (month["members"] >= k)]
    dots, bands = [], []
    for column, label in measures.items():
        values = peers[["team_slug"]].assign(**{column: shown_values(peers, column, k)}).dropna()
        if values.empty:
            continue
        dots += [{"measure": label, "team": t, "value": float(v), "who": "this team" if t == team else "segment peers"}
                 for t, v in zip(values["team_slug"], values[column])]
        q = values[column].quantile([0.25, 0.5, 0.75]).tolist()
        bands.append({"measure": label, "q1": q[0], "median": q[1], "q3": q[2]})
    dots, bands = pd.DataFrame(dots), pd.DataFrame(bands)
    if dots.empty:
        return alt.Chart(pd.DataFrame({"note": ["no peer figures (teams under k are suppressed)"]})).mark_text().encode(text="note")
    colour = alt.Color("who:N", title=None, legend=alt.Legend(orient="top"),
                       scale=alt.Scale(domain=["this team", "segment peers"], range=[TEAM_COLOUR, ORG_COLOUR]))
    strips = []
    for label in bands["measure"]:
        b = alt.Chart(bands[bands["measure"] == label])
        band = b.mark_bar(color="#d0d7de", height=14).encode(x=alt.X("q1:Q", title=None, scale=alt.Scale(zero=False)),
                                                             x2="q3:Q")
        median = b.mark_tick(color=ORG_COLOUR, thickness=2, size=20).encode(x="median:Q")
        points = alt.Chart(dots[dots["measure"] == label]).mark_circle(size=120, opacity=0.9).encode(
            x="value:Q", color=colour, tooltip=["team:N", alt.Tooltip("value:Q", format=",.2f")])
        strips.append((band + median + points).properties(title=label, width=520, height=30))
    return alt.vconcat(*strips).resolve_scale(x="independent")


def trend_chart(history: pd.DataFrame, team: str, column: str, label: str, k: int):
    """The team's measure month by month against its segment's median (teams under k left out)."""
    import altair as alt

    from .charts import ORG_COLOUR, TEAM_COLOUR

    segment = history.loc[history["team_slug"] == team, "segment"].iloc[0]
    history = history.assign(**{column: shown_values(history, column, k)})
    peers = history[(history["segment"] == segment) & (history["members"] >= k)]
    own = history[(history["team_slug"] == team) & (history["members"] >= k)][["period", column]].assign(who="this team")
    median = peers.groupby("period", as_index=False)[column].median().assign(who="segment median")
    data = pd.concat([own, median], ignore_index=True).rename(columns={column: "value"}).dropna(subset=["value"])
    return alt.Chart(data, title=label).mark_line(point=True).encode(
        x=alt.X("period:O", title=None), y=alt.Y("value:Q", title=None),
        color=alt.Color("who:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=["this team", "segment median"], range=[TEAM_COLOUR, ORG_COLOUR])),
        tooltip=["period:O", "who:N", alt.Tooltip("value:Q", format=",.2f")]).properties(width=260, height=150)


def task_class_chart(usage: pd.DataFrame):
    """Share of each task class per signal: one stacked bar per signal and measure, the signal named on the axis."""
    import altair as alt

    from .charts import PALETTE

    usage = usage.assign(task_class=usage["task_class"].str.replace("_", " "))  # class names are params keys
    data = usage.dropna(subset=["share"]).assign(row=lambda f: f["measure"] + " (" + f["signal"] + ")")
    classes = list(dict.fromkeys(usage["task_class"]))
    return alt.Chart(data, title="Usage by task class, per signal").mark_bar().encode(
        y=alt.Y("row:N", title=None, sort=list(dict.fromkeys(data["row"])), axis=alt.Axis(labelLimit=360)),
        x=alt.X("share:Q", title=None, axis=alt.Axis(format="%"), stack="normalize"),
        color=alt.Color("task_class:N", title="task class", scale=alt.Scale(domain=classes, range=PALETTE[:len(classes)]),
                        legend=alt.Legend(orient="top")),
        order=alt.Order("task_class:N"),
        tooltip=["task_class:N", "signal:N", "measure:N", alt.Tooltip("value:Q", format=",.0f"),
                 alt.Tooltip("share:Q", format=".0%")]).properties(width=460, height=alt.Step(26))
