"""The monthly retro: a team's month in one pack (notebook 06) and three discussion questions.

Every figure comes from the module that defines it (usage, segments, budget, patterns, delivery.report); the retro
adds the comparison with last month and the discussion questions generated from the numbers. The stitched page of
`report --retro` is `reports.stitch`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import altair as alt
import pandas as pd

from . import budget, charts, figures, formatting, patterns, privacy, segments, usage
from .delivery import report as delivery_report
from .period import Period

TOP_CATEGORIES = 5


def display_frame(frame: pd.DataFrame, k: int, formats: dict[str, str] | None = None,
                  names: dict[str, str] | None = None, currency: str = "USD") -> pd.DataFrame:
    """A frame as text for a report table: suppressed rows say so in every blanked cell, other gaps read 'n/a'.

    `formats` maps a column to the figure it holds (a key of `figures.FIGURES`, which writes it); `names` renames
    columns for people.
    """
    hidden = frame["suppressed"] if "suppressed" in frame else pd.Series(False, index=frame.index)
    out = frame.drop(columns=["suppressed"], errors="ignore").copy()
    for column, key in (formats or {}).items():
        if column not in out:
            continue
        out[column] = [privacy.suppressed_label(k) if hide and formatting.missing(value)
                       else figures.show(key, value, currency=currency) for value, hide in zip(out[column], hidden)]
    return out.rename(columns=names or {})


# -- what the team asked for -----------------------------------------------------------------------------------
def top_breakdown(con, team: str, period: Period, by: str, k: int, top: int = TOP_CATEGORIES) -> pd.DataFrame:
    """The team's top features or models by outputs generated: category, developers, outputs, share, acceptance.

    Categories over fewer than k developers are already folded into one 'other' row by usage.team_breakdown.
    """
    frame = usage.team_breakdown(con, team, period, by, k)
    total = frame["generations"].sum()  # of the rows shown: a suppressed row must not be recoverable as 1 - shares
    frame = frame.sort_values("generations", ascending=False, na_position="last").head(top)
    return pd.DataFrame({by: frame[by], "developers": frame["users"], "outputs generated": frame["generations"],
                         "share of outputs": frame["generations"] / total if total else float("nan"),
                         "acceptance ratio": frame["acceptance_ratio"]}).reset_index(drop=True)


def task_class_shares(con, team: str, period: Period, params, suppressed: bool) -> pd.DataFrame:
    """Share of each task class per signal (segments.team_task_classes), blanked when the team is suppressed."""
    frame = segments.team_task_classes(con, team, period, params)
    primary = frame[frame["measure"].isin(["outputs generated", "CLI requests", "lines changed"])]
    table = primary.pivot_table(index="task_class", columns=["signal"], values="share", sort=False).reset_index()
    table.columns.name = None
    if suppressed:
        table.iloc[:, 1:] = float("nan")
    table["task_class"] = table["task_class"].str.replace("_", " ")  # a class name is a params key: read as words
    return table.rename(columns={"task_class": "task class"})


def cli_table(summary: dict) -> pd.DataFrame:
    """The team's Copilot CLI use against the org's. CLI figures describe the CLI users only, so they are
    suppressed when fewer than k of the team used the CLI (or the team itself is suppressed)."""
    keys = ("cli_developers", "cli_sessions", "cli_prompts", "cli_requests", "cli_requests_per_prompt")
    return pd.DataFrame([{"measure": figures.label(key), "team": usage.show(summary, key),
                          "whole org": usage.show(summary, key, "org")} for key in keys])


# -- change since last month -----------------------------------------------------------------------------------
CHANGE_MEASURES = [  # label, summary key, relative change (else percentage points / absolute)
    (figures.label(usage.SUMMARY_FIGURES.get(key, key)), key, relative) for key, relative in (
        ("active_developers", False), ("prompts_per_active_developer", True), ("accepted_output_ratio", False),
        ("ai_credits_used", True), ("credits_per_active_developer", True), ("cli_requests_per_prompt", True))]


def month_change(now: dict, before: dict) -> pd.DataFrame:
    """This month against last, from two usage.team_period_summary results.

    A change is shown only when both months are shown: a suppressed month (fewer than k developers) makes its
    change unknown too, so the difference cannot reveal the small group. Columns: measure, key, this_month,
    last_month, change (relative for volumes, absolute for counts and ratios).
    """
    rows = []
    for label, key, relative in CHANGE_MEASURES:
        cur = now["team"][key] if not now["suppressed"] else None
        prev = before["team"][key] if not before["suppressed"] else None
        diff = privacy.change(cur, prev)
        if relative and diff == diff:
            diff = diff / prev if prev else float("nan")
        rows.append({"measure": label, "key": key, "relative": relative,
                     "this_month": float("nan") if cur is None else cur,
                     "last_month": float("nan") if prev is None else prev, "change": diff})
    return pd.DataFrame(rows)


def month_change_display(change: pd.DataFrame, k: int) -> pd.DataFrame:
    """`month_change` formatted for people: suppressed cells say so."""
    hidden = privacy.suppressed_label(k)

    def fmt(value, key):
        return hidden if value != value else figures.show(usage.SUMMARY_FIGURES.get(key, key), value)

    def fmt_change(row):
        if row.change != row.change:
            return "n/a" if row.this_month == row.this_month and row.last_month == row.last_month else hidden
        if row.relative:
            return formatting.signed_percent(row.change)
        return formatting.points(row.change) if row.key == "accepted_output_ratio" else formatting.signed(row.change)

    return pd.DataFrame({"measure": change["measure"],
                         "this month": [fmt(v, key) for v, key in zip(change["this_month"], change["key"])],
                         "last month": [fmt(v, key) for v, key in zip(change["last_month"], change["key"])],
                         "change": [fmt_change(r) for r in change.itertuples()]})


# -- guardrail stage ---------------------------------------------------------------------------------------------
def team_guardrail(report, team: str) -> dict | None:
    """The team's row of budget.evaluate_guardrails (None when the team has no budget)."""
    rows = report.rows
    if rows is None or rows.empty:
        return None
    mine = rows[(rows["scope"] == "team") & (rows["name"] == team)]
    return None if mine.empty else {**mine.iloc[0].to_dict(), "closed": report.as_of >= report.period.end}


def guardrail_markdown(row: dict | None, team: str, k: int, currency: str = "USD") -> str:
    """The team's budget stage in words. A closed month (`row['closed']`, set by `team_guardrail`) quotes what was
    spent, not a forecast; where the interval cannot be computed or has no width the text says why."""
    if row is None:
        return f"No budget is set for {team} in `params/org.yaml`, so there is no guardrail stage."
    head = f"**Stage: {row['stage_label']}** ({row['stage_status']})."

    def amount(key, value):
        return figures.show(key, value, unit=row["unit"], currency=currency)

    if row.get("suppressed"):
        text = f"The team has fewer than {k} members, so its spend is not shown; the stage still applies."
    elif row.get("closed") and row.get("forecast_basis") != "estimate":
        text = (f"The month closed at {amount('burn', row['burn_to_date'])} of a {amount('budget', row['budget'])} "
                f"budget ({figures.show('budget_use', row['pct_to_date'])}).")
    elif row.get("closed"):  # closed, with days whose usage is not in: recorded, and the month with them estimated
        days = int(row.get("estimated_days") or 0)
        text = (f"Recorded spend was {amount('burn', row['burn_to_date'])} of a {amount('budget', row['budget'])} "
                f"budget ({figures.show('budget_use', row['pct_to_date'])}), without {days} day{'s' if days != 1 else ''}"
                f" whose usage is not in (see the data banner); with them estimated the month ended at about "
                f"{amount('forecast', row['forecast'])} ({figures.show('budget_forecast_use', row['pct_forecast'])}; "
                f"{budget.interval_text(row, currency)}).")
    else:
        text = (f"Spent {amount('burn', row['burn_to_date'])} of a {amount('budget', row['budget'])} budget "
                f"({figures.show('budget_use', row['pct_to_date'])}); forecast for the month "
                f"{amount('forecast', row['forecast'])} ({figures.show('budget_forecast_use', row['pct_forecast'])}; "
                f"{budget.interval_text(row, currency)}).")
    actions = "".join(f"\n- {a}" for a in row.get("actions") or [])
    return f"{head} {text}" + (f"\n\nActions at this stage:{actions}" if actions else "")


# -- patterns with coaching ----------------------------------------------------------------------------------------
def team_patterns(current: pd.DataFrame, previous: pd.DataFrame, team: str, k: int) -> pd.DataFrame:
    """patterns.team_movement for the team, each pattern-month's weeks and credits blanked when fewer than k
    developers are behind them."""
    return patterns.team_movement(current, previous, team, k)


def coaching_markdown(playbooks, pattern_names: list[str]) -> str:
    parts = []
    for name in pattern_names:
        book = playbooks.patterns.get(name)
        if book is None:
            continue
        steps = "".join(f"\n- {s}" for s in book.first_steps)
        parts.append(f"### {book.title}\n\n*What we see:* {book.what_we_see}\n\n{book.advice}\n{steps}")
    return "\n\n".join(parts) or "No high-burn pattern this month: nothing to coach on."


def playbooks_markdown(playbooks) -> str:
    """The shared prompt playbooks and the 'what not to ask the assistant' guidance, from params/playbooks.yaml."""
    lines = ["### Prompt playbooks"]
    for book in playbooks.prompt_playbooks:
        lines.append(f"\n**{book.name}**: {book.when}")
        lines += [f"{i}. {s}" for i, s in enumerate(book.steps, 1)]
    lines.append("\n### What not to ask the assistant\n\n| Instead of asking for | Because | Do this |\n|---|---|---|")
    cell = lambda text: " ".join(str(text).split()).replace("|", "\\|")  # noqa: E731  (one table row per entry)
    lines += [f"| {cell(a.ask)} | {cell(a.why)} | {cell(a.instead)} |" for a in playbooks.what_not_to_ask]
    return "\n".join(lines)


# -- discussion questions --------------------------------------------------------------------------------------------
def discussion_questions(facts: dict, count: int = 3) -> list[str]:
    """Questions for the retro, generated from the month's numbers, most pressing first.

    `facts` (missing or None entries are skipped): team, period, previous, k, suppressed, stage_label,
    stage_status, pct_forecast, actions (list), credits_per_dev_change (relative), acceptance_change (absolute),
    acceptance_now, requests_per_dev_change, cli_requests_per_prompt, org_cli_requests_per_prompt,
    top_pattern (title), top_pattern_weeks, top_pattern_step, verdict, top_feature, top_feature_share.
    Each signal past its threshold (credits per developer 20 %, acceptance 3 points, CLI 1.5x the org, ...)
    scores by how many thresholds it moved; a reached budget stage and a 'tighten' verdict come first.
    Returns `count` questions, each quoting the figure it comes from.
    """
    f = {key: value for key, value in facts.items() if value is not None and value == value}

    def strength(change: float, threshold: float) -> float:
        """How far past its threshold a change went (in thresholds, at most 3): ranks unlike measures fairly."""
        return min(abs(change) / threshold, 3.0)

    prev = f.get("previous", "last month")
    scored: list[tuple[float, str]] = []
    if f.get("suppressed"):
        scored.append((10, f"Fewer than {f.get('k', 5)} developers used the assistant this month, so the team's figures "
                           "are suppressed. What would make the assistant worth trying for the rest of the team?"))
    if f.get("stage_label") and f.get("stage_status") in ("reached", "forecast"):
        verb = "have reached" if f["stage_status"] == "reached" else "are forecast to reach"
        action = f" The stage calls for: {f['actions'][0].rstrip('.')}." if f.get("actions") else ""
        forecast = ("" if "pct_forecast" not in f else
                    f" ({figures.show('budget_use', f['pct_forecast'])} of the budget used)" if f.get("closed") else
                    f" (forecast {figures.show('budget_forecast_use', f['pct_forecast'])} of the budget by month end)")
        scored.append((9, f"We {verb} the {f['stage_label']} budget stage{forecast}.{action} Which work will we change "
                          "first?"))
    if abs(f.get("credits_per_dev_change", 0)) >= 0.2:
        direction = "rose" if f["credits_per_dev_change"] > 0 else "fell"
        scored.append((5 + strength(f["credits_per_dev_change"], 0.2), f"AI credits per active developer {direction} "
                       f"{formatting.percent(abs(f['credits_per_dev_change']))} since {prev}. What kind of work changed, and did it "
                       "show up in merged changes?"))
    if abs(f.get("acceptance_change", 0)) >= 0.03:
        worse = f["acceptance_change"] < 0
        scored.append(((5 if worse else 2) + strength(f["acceptance_change"], 0.03),
                       f"We kept {figures.show('accepted_output_ratio', f.get('acceptance_now'))} of the assistant's "
                       f"outputs, {formatting.number(abs(f['acceptance_change']) * 100, 1)} points "
                       f"{'down' if worse else 'up'} on {prev}. "
                       + ("Where did suggestions miss, and what context was missing?" if worse else
                          "What did we do differently that we should keep?")))
    if f.get("top_pattern"):
        step = f" Could we try: {f['top_pattern_step'].rstrip('.')}?" if f.get("top_pattern_step") else ""
        where = (f"in {formatting.plural(f['top_pattern_weeks'], 'developer-week')} this month"
                 if "top_pattern_weeks" in f else "this month")  # weeks of fewer than k developers are not counted
        scored.append((7 + min(f.get("top_pattern_weeks", 1) / 4, 1), f"The pattern \"{f['top_pattern']}\" showed up "
                          f"{where}. What in our process leads there?{step}"))
    verdict = f.get("verdict")
    # The question quotes the verdict's own reason, so it never claims more than the evidence beside it.
    reason = f.get("verdict_reason")
    if verdict == "tighten":
        scored.append((8.5, "Our delivery verdict is 'tighten': " + (reason or "weeks with more assistant use went with "
                            "worse delivery quality") + ". Which review or test step should we strengthen before we use it more?"))
    elif verdict == "scaling":
        scored.append((4.5, "Our delivery verdict is 'scaling': " + (reason or "weeks with more assistant use went with "
                            "better delivery") + ". Which habit made that work, and which team could we share it with?"))
    ratio, org_ratio = f.get("cli_requests_per_prompt"), f.get("org_cli_requests_per_prompt")
    if ratio and org_ratio and ratio >= 1.5 * org_ratio:
        scored.append((5 + strength(ratio / org_ratio, 1.5), f"Our CLI sessions made "
                       f"{figures.show('cli_requests_per_prompt', ratio)} requests per prompt, against "
                       f"{figures.show('cli_requests_per_prompt', org_ratio)} across the org. Which CLI tasks loop, and what exit check would stop them earlier?"))
    if f.get("top_feature"):
        feature = formatting.words(f["top_feature"])  # the reader's word, not GitHub's key
        scored.append((2, f"{feature[:1].upper() + feature[1:]} produced {figures.show('share_of_outputs', f.get('top_feature_share'))} of our outputs. Is that where "
                          "the assistant helps us most, or just where we reach for it by habit?"))
    if abs(f.get("requests_per_dev_change", 0)) >= 0.1:
        direction = "more" if f["requests_per_dev_change"] > 0 else "fewer"
        scored.append((2 + min(strength(f["requests_per_dev_change"], 0.1), 1), f"Each of us made {formatting.percent(abs(f['requests_per_dev_change']))} {direction} prompts than in {prev}. "
                            "Which tasks moved to (or away from) the assistant, and was that on purpose?"))
    fallbacks = ["Which prompt from the playbooks below worked best for us this month, and who can show it?",
                 "What is one request we should stop asking the assistant for next month?",
                 "What would we like these numbers to show at next month's retro?"]
    chosen = [q for _, q in sorted(scored, key=lambda s: -s[0])][:count]
    return chosen + fallbacks[: max(0, count - len(chosen))]


def questions_markdown(questions: list[str]) -> str:
    return "\n".join(f"{i}. {q}" for i, q in enumerate(questions, 1))


# -- the pack ---------------------------------------------------------------------------------------------------------
@dataclass
class RetroPack:
    """Everything notebook 06 shows for one team and month (guardrail None: the team has no budget)."""

    team: str
    period: Period
    k: int
    summary: dict
    previous: dict
    features: pd.DataFrame
    models: pd.DataFrame
    task_classes: pd.DataFrame
    change: pd.DataFrame
    guardrail: dict | None = None
    movement: pd.DataFrame = field(default_factory=pd.DataFrame)
    flagged: pd.DataFrame = field(default_factory=pd.DataFrame)
    delivery: delivery_report.TeamDelivery | None = None
    questions: list[str] = field(default_factory=list)

    @property
    def detailed(self) -> bool:
        """Team detail (patterns per team) only for teams with k or more active developers."""
        return not self.summary["suppressed"] and (self.summary["team"]["active_developers"] or 0) >= self.k


def build_pack(con, team: str, period: Period, params, playbooks, key: bytes | None = None) -> RetroPack:
    """Collect the team's month from each module once and generate the discussion questions."""
    k = params.privacy.k_anonymity
    summary = usage.team_period_summary(con, team, period, k)
    pack = RetroPack(team, period, k, summary, usage.team_period_summary(con, team, period.previous, k),
                     top_breakdown(con, team, period, "feature", k), top_breakdown(con, team, period, "model", k),
                     task_class_shares(con, team, period, params, summary["suppressed"]), pd.DataFrame())
    pack.change = month_change(pack.summary, pack.previous)
    pack.guardrail = team_guardrail(budget.evaluate_guardrails(con, period, params), team)
    current, previous = patterns.detect_with_previous(con, params, period, playbooks=playbooks, key=key, teams={team})
    pack.flagged = current
    pack.movement = team_patterns(current, previous, team, k)
    pack.delivery = delivery_report.team_delivery_of(con, period, params, team)
    pack.questions = discussion_questions(retro_facts(pack, playbooks))
    return pack


def retro_facts(pack: RetroPack, playbooks) -> dict:
    """The numbers the discussion questions are generated from (see `discussion_questions`)."""
    by_key = pack.change.set_index("key")["change"] if len(pack.change) else pd.Series(dtype=float)
    t, o = pack.summary["team"], pack.summary["org"]
    facts = {"team": pack.team, "period": pack.period.label, "previous": pack.period.previous.label, "k": pack.k,
             "suppressed": pack.summary["suppressed"],
             "credits_per_dev_change": by_key.get("credits_per_active_developer"),
             "requests_per_dev_change": by_key.get("prompts_per_active_developer"),
             "acceptance_change": by_key.get("accepted_output_ratio"), "acceptance_now": t.get("accepted_output_ratio"),
             "cli_requests_per_prompt": None if privacy.small_group(t.get("cli_developers") or 0, pack.k)
             else t.get("cli_requests_per_prompt"),
             "org_cli_requests_per_prompt": o.get("cli_requests_per_prompt")}
    if pack.guardrail:
        facts.update(stage_label=pack.guardrail["stage_label"], stage_status=pack.guardrail["stage_status"],
                     closed=pack.guardrail.get("closed"),
                     actions=pack.guardrail.get("actions") or None,
                     pct_forecast=None if pack.guardrail.get("suppressed") else pack.guardrail["pct_forecast"])
    if pack.detailed and len(pack.flagged):
        top = pack.flagged.groupby(["pattern", "pattern_title"]).agg(weeks=("week_start", "size"),
                                                                     developers=("user", "nunique"))
        top = top.sort_values("weeks", ascending=False)
        (name, title), weeks, people = top.index[0], int(top["weeks"].iloc[0]), int(top["developers"].iloc[0])
        book = playbooks.patterns.get(name) if playbooks else None
        facts.update(top_pattern=title, top_pattern_weeks=None if privacy.small_group(people, pack.k) else weeks,
                     top_pattern_step=book.first_steps[0] if book and book.first_steps else None)
    facts["verdict"] = pack.delivery.verdict
    facts["verdict_reason"] = pack.delivery.decision["reason"]
    shown = pack.features.dropna(subset=["share of outputs"])
    if len(shown) and not pack.summary["suppressed"]:
        facts.update(top_feature=str(shown.iloc[0]["feature"]), top_feature_share=float(shown.iloc[0]["share of outputs"]))
    return facts


# -- charts ------------------------------------------------------------------------------------------------------------
def share_chart(frame: pd.DataFrame, category: str, value: str, title: str, k: int):
    """Horizontal bars of a share per category; suppressed categories are drawn as a labelled empty row.

    Nothing is drawn (`charts.NoChart`) when every category is suppressed: the page says why once.
    """
    data = pd.DataFrame({"category": frame[category].astype(str), "value": frame[value].astype(float)})
    if data["value"].isna().all():
        return charts.NoChart()
    data["label"] = [figures.show("share_of_outputs", v) if v == v else privacy.suppressed_label(k) for v in data["value"]]
    data["value"] = data["value"].fillna(0.0)
    top = min(1.0, float(data["value"].max()) * 1.2 + 0.05)
    base = alt.Chart(data, title=title).encode(y=alt.Y("category:N", sort=None, title=None, axis=alt.Axis(labelLimit=180)))
    bars = base.mark_bar(color=charts.TEAM_COLOUR).encode(
        x=alt.X("value:Q", title=value, axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, top], nice=False)),
        tooltip=[alt.Tooltip("category:N", title=category), alt.Tooltip("value:Q", title=value, format=".0%")])
    text = base.mark_text(align="left", dx=4, color=charts.NOTE_COLOUR).encode(x="value:Q", text="label:N")
    return (bars + text).properties(width=charts.HALF_WIDTH, height=alt.Step(20))


def patterns_display(movement: pd.DataFrame, k: int) -> pd.DataFrame:
    """The team's patterns this month against last (`team_patterns`), as text through `figures.show`."""
    return patterns.movement_for_display(movement, k)
