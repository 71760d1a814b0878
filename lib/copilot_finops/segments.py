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


MIN_PEER_TEAMS = 3  # a segment of fewer teams (of k members or more) is no peer group: its team is set against the org


def peer_group(month: pd.DataFrame, team: str, k: int) -> tuple[str, pd.DataFrame]:
    """Who a team is compared with: the teams of its segment when there are MIN_PEER_TEAMS or more of them (with
    k members or more, the team included), else every such team of the org. Returns (label, their rows)."""
    segment = month.loc[month["team_slug"] == team, "segment"].iloc[0]
    eligible = month[month["members"] >= k]
    peers = eligible[eligible["segment"] == segment]
    if len(peers) >= MIN_PEER_TEAMS:
        return f"the {len(peers)} teams of its role segment", peers
    return f"all {len(eligible)} teams of the org (its segment has {len(peers)} with {k}+ members)", eligible


def peer_baseline(month: pd.DataFrame, team: str, measures: list[str], k: int) -> pd.DataFrame:
    """A team against its peers in the same month: median, quartiles and where it sits.

    month : cost-model rows of one month (team_slug, segment, members, measures).
    Peers are `peer_group`'s: the team's segment when it has MIN_PEER_TEAMS teams of k members or more, else
    the org. Teams with fewer than k members are left out of the peer statistics (and their own value is
    suppressed). Returns measure, value, peer_median, peer_q1, peer_q3, peers (teams counted, the team
    included), compared_with (peer_group's label), position ('above the range', 'within the range', 'below the
    range'; 'too few peers' under 2 teams with a value, 'suppressed' when the team itself has fewer than k).
    """
    row = month[month["team_slug"] == team]
    if row.empty:
        raise ValueError(f"team {team!r} has no row in this month")
    label, peers = peer_group(month, team, k)
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
                    "peers": int(len(values)), "compared_with": label, "position": position})
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
    """`peer_baseline` as a readable table: measure, this team, peers' median, their middle half, position."""
    return pd.DataFrame([{"measure": BASELINE_MEASURES.get(r["measure"], r["measure"]),
                          "this team": _fmt(r["value"], r["measure"], r["position"] == "suppressed", k),
                          "peers' median": _fmt(r["peer_median"], r["measure"]),
                          "peers' middle half": f"{_fmt(r['peer_q1'], r['measure'])} – {_fmt(r['peer_q3'], r['measure'])}",
                          "teams": r["peers"], "where the team sits": r["position"]} for r in peers.to_dict("records")])


def own_table(own: pd.DataFrame) -> pd.DataFrame:
    """`own_baseline` as a readable table: measure, this month, mean of the previous months, change. One column
    for the mean, headed by the most months any measure has; a measure with fewer says over how many."""
    records = own.to_dict("records")
    most = max((int(r["trailing_months"] or 0) for r in records), default=0)
    header = f"mean of the previous {formatting.plural(most, 'month')}" if most else "mean of the previous months"

    def mean(r: dict) -> str:
        months = int(r["trailing_months"] or 0)
        text = _fmt(r["trailing_mean"], r["measure"]) if months else "n/a (no earlier month)"
        return text + (f" (over {formatting.plural(months, 'month')})" if 0 < months < most else "")

    return pd.DataFrame([{"measure": BASELINE_MEASURES.get(r["measure"], r["measure"]),
                          "this month": _fmt(r["value"], r["measure"]), header: mean(r),
                          "change": formatting.signed_percent(r["change"])} for r in records],
                        columns=["measure", "this month", header, "change"])


# -- charts ---------------------------------------------------------------------------------------------------
MEASURE_UNITS = {  # the unit of each baseline measure, for axis titles
    "requests_per_active_developer": "requests per active developer",
    "accepted_output_ratio": "share of outputs accepted",
    "credits_per_active_developer": "AI credits per active developer",
    "cli_requests_per_active_developer": "CLI requests per active developer",
    "cost_per_active_developer": "USD per active developer",
    "cost_per_merged_change": "USD per merged pull request",
}


def _strip_domain(values: pd.Series) -> list[float]:
    """An axis range for a peer strip: the values with a margin, and never narrower than a fifth of their middle,
    so that teams 0.1 % apart are not spread over the whole axis."""
    low, high = float(values.min()), float(values.max())
    centre = (low + high) / 2
    half = max(high - low, 0.2 * abs(centre), 1e-9) / 2 * 1.15
    lower = centre - half
    return [max(lower, 0.0) if low >= 0 else lower, centre + half]


def peer_chart(month: pd.DataFrame, team: str, measures: dict[str, str], k: int):
    """One strip per measure: the peers (`peer_group`) as dots, the team highlighted, their middle half as a band
    and their median as a tick. Each axis spans the peers' values and names its unit; teams under k are left out."""
    import altair as alt

    from . import charts

    label, peers = peer_group(month, team, k)
    strips = []
    for column, title in measures.items():
        values = peers[["team_slug"]].assign(**{column: shown_values(peers, column, k)}).dropna()
        if values.empty:
            continue
        dots = pd.DataFrame({"team": values["team_slug"], "value": values[column].astype(float),
                             "who": ["this team" if t == team else "peers" for t in values["team_slug"]]})
        q1, median, q3 = values[column].quantile([0.25, 0.5, 0.75]).tolist()
        pct = column == "accepted_output_ratio"
        fmt = ".0%" if pct else ",.2~f"
        unit = MEASURE_UNITS.get(column, title)

        def x(field: str, unit=unit, domain=_strip_domain(values[column]), pct=pct):
            return alt.X(f"{field}:Q", title=unit, scale=alt.Scale(domain=domain, nice=False),
                         axis=alt.Axis(format=".0%" if pct else "~s", tickCount=5))
        band = alt.Chart(pd.DataFrame({"q1": [q1], "q3": [q3]})).mark_rect(color=charts.BAND_COLOUR, height=16).encode(
            x=x("q1"), x2="q3:Q", tooltip=[alt.Tooltip("q1:Q", title="middle half from", format=fmt),
                                           alt.Tooltip("q3:Q", title="to", format=fmt)])
        tick = alt.Chart(pd.DataFrame({"median": [median]})).mark_tick(color=charts.ORG_COLOUR, thickness=2, size=22).encode(
            x=x("median"), tooltip=[alt.Tooltip("median:Q", title="peers' median", format=fmt)])
        points = alt.Chart(dots).mark_circle(size=110, opacity=0.9).encode(
            x=x("value"), color=alt.Color("who:N", title=None, scale=alt.Scale(
                domain=["this team", "peers"], range=[charts.TEAM_COLOUR, charts.ORG_COLOUR])),
            tooltip=["team:N", alt.Tooltip("value:Q", title=title, format=fmt)])
        strips.append(alt.layer(band, tick, points).properties(title=title, width=charts.FULL_WIDTH, height=34))
    if not strips:
        return charts.NoChart()
    return (alt.vconcat(*strips, spacing=18).resolve_scale(x="independent")
            .properties(title=alt.TitleParams(f"{team} against {label}", fontSize=13)))


def trend_chart(history: pd.DataFrame, team: str, column: str, label: str, k: int):
    """The team's measure month by month against its peers' median (`peer_group` of each month; teams under k out)."""
    import altair as alt

    from . import charts

    history = history.assign(**{column: shown_values(history, column, k)})
    own = history[(history["team_slug"] == team) & (history["members"] >= k)][["period", column]].assign(who="this team")
    medians = []
    for period, month in history.groupby("period"):
        if team in set(month["team_slug"]):
            medians.append({"period": period, column: peer_group(month, team, k)[1][column].median()})
    median = pd.DataFrame(medians, columns=["period", column]).assign(who="peers' median")
    data = pd.concat([own, median], ignore_index=True).rename(columns={column: "value"}).dropna(subset=["value"])
    if own[column].dropna().empty:
        return charts.NoChart()
    unit = MEASURE_UNITS.get(column, label)
    return alt.Chart(data, title=label).mark_line(point=alt.OverlayMarkDef(size=40)).encode(
        x=alt.X("period:O", title="month", axis=alt.Axis(labelAngle=0)), y=alt.Y("value:Q", title=unit),
        color=alt.Color("who:N", title=None, scale=alt.Scale(domain=["this team", "peers' median"],
                                                             range=[charts.TEAM_COLOUR, charts.ORG_COLOUR])),
        tooltip=[alt.Tooltip("period:O", title="month"), alt.Tooltip("who:N", title="line"),
                 alt.Tooltip("value:Q", title=unit, format=",.2f")]).properties(width=charts.HALF_WIDTH, height=140)


def task_class_chart(usage: pd.DataFrame):
    """Share of each task class per signal: one stacked bar per signal and measure, the signal named on the axis."""
    import altair as alt

    from . import charts

    usage = usage.assign(task_class=usage["task_class"].str.replace("_", " "))  # class names are params keys
    data = usage.dropna(subset=["share"]).assign(row=lambda f: f["measure"] + " (" + f["signal"] + ")")
    if data.empty:
        return charts.NoChart()
    classes = list(dict.fromkeys(usage["task_class"]))
    return alt.Chart(data, title="Usage by task class, per signal").mark_bar().encode(
        y=alt.Y("row:N", title=None, sort=list(dict.fromkeys(data["row"])), axis=alt.Axis(labelLimit=360)),
        x=alt.X("share:Q", title="share of the measure", axis=alt.Axis(format="%"), stack="normalize"),
        color=alt.Color("task_class:N", title="task class", scale=alt.Scale(domain=classes,
                                                                             range=charts.PALETTE[:len(classes)])),
        order=alt.Order("task_class:N"),
        tooltip=[alt.Tooltip("task_class:N", title="task class"), "signal:N", "measure:N",
                 alt.Tooltip("value:Q", format=",.0f"), alt.Tooltip("share:Q", format=".0%")]
    ).properties(width=charts.FULL_WIDTH - 260, height=alt.Step(26))
