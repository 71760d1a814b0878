"""One definition per figure: its name, unit, how it is computed, how it is rounded and written, and who it is about.

Every page, the index, the CLI tables and every `--json` read a reported figure through this module, so a figure
shown in two places is the same figure:

    >>> from copilot_finops import figures
    >>> figures.show("budget_use", 0.996)                  # floored: a threshold not reached never reads reached
    '99%'
    >>> figures.show("ai_credits", 1305.5)
    '1,306'
    >>> figures.show("spend", 440.2, currency="EUR")
    '440 EUR'
    >>> figures.show("prompts_per_active_developer", 306.2, people=3, k=5)   # computed from 3 people
    'suppressed (< 5)'
    >>> figures.label("prompts_per_active_developer")
    'Prompts per active developer'
    >>> figures.json_value("ai_credits", float("nan"))      # --json: full precision, None where there is no value
    >>> figures.json_value("ai_credits", 12.0, people=2, k=5)

The API is three calls and a table:

- `show(key, value, *, people=None, k=None, currency=None, unit=None)`: the figure as text. `people` is how many
  people the value is computed from (the group it describes); with `k`, a group of 1 .. k-1 reads
  'suppressed (< k)' (`privacy.small_group`, the one suppression rule). Missing values read 'n/a'.
- `json_value(key, value, *, people=None, k=None)`: the value for a JSON document: a plain float or int at full
  precision (never pre-rounded, so `show` of it reads as the page does), None where missing or suppressed.
- `label(key)`, `FIGURES[key]`: the figure's name and its definition (unit, computation, rounding, who).
- `interval(key, low, high, *, coverage, why='')`: a figure's interval (the forecast's), or why there is none.
- `people_of(key, record)`: the size of the group the figure of a team's record is computed from (its active
  developers, CLI users, members or flagged developers, by the figure's definition), to pass as `people`.

Budget-like amounts (`budget`, `burn`, `forecast`) are in the budget's unit: pass `unit='usd'` or
`unit='credits'`. The computations themselves live beside their data (SQL views, `usage`, `cost`, `budget`,
`delivery.metrics`, `patterns`); `definition` says where, so a reader can check it.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import formatting, privacy

# Who a figure is about, i.e. the group whose size decides suppression (see `privacy.small_group`).
ACTIVE = "active developers of the group"
CLI = "developers of the group who used the CLI"
MEMBERS = "members of the group"
FLAGGED = "developers behind the flagged weeks"
TARGET = "developers whose prompts of the route's features ran on its target model"
REPOSITORY = "developers whose credits landed on the repository"
NOBODY = "not computed from people"


@dataclass(frozen=True)
class Figure:
    """A reported figure: what it is called, what it counts, how it is computed, written and suppressed."""

    key: str
    label: str
    unit: str
    definition: str
    style: str  # count | number | percent | percent_floor | money | hours | amount (money or credits by unit)
    digits: int = 0
    people: str = ACTIVE

    def show(self, value, **kwargs) -> str:
        return show(self.key, value, **kwargs)


def _figures(*items: Figure) -> dict[str, Figure]:
    return {f.key: f for f in items}


FIGURES: dict[str, Figure] = _figures(
    # -- usage (stg_user_day, int_user_day_usage; usage.team_period_summary) --------------------------------------
    Figure("active_developers", "Active developers", "developers",
           "distinct users with a prompt, an output or CLI use on a day they were on the group (stg_user_day.active)",
           "count", people=ACTIVE),
    Figure("members", "Members", "developers", "distinct users on the group on any day of the period "
           "(int_team_member_day)", "count", people=MEMBERS),
    Figure("prompts", "Prompts", "prompts", "what people asked: IDE prompts (user_initiated_interaction_count) + "
           "CLI prompts (totals_by_cli.prompt_count); stg_user_day.prompts", "count"),
    Figure("requests", "Requests", "requests", "IDE prompts + CLI requests, which include the agent's automatic "
           "follow-ups (totals_by_cli.request_count); stg_user_day.requests. Suppressed with the CLI figures: "
           "requests minus prompts is the CLI users' follow-ups", "count", people=CLI),
    Figure("prompts_per_active_developer", "Prompts per active developer", "prompts per developer",
           "prompts / active developers: the 'per active developer' figure of every page", "number"),
    Figure("requests_per_active_developer", "Requests per active developer (with agent follow-ups)",
           "requests per developer", "requests / active developers; CLI-heavy groups read higher than on prompts",
           "number", people=CLI),
    Figure("accepted_output_ratio", "Accepted-output ratio", "share of outputs",
           "acceptances / outputs generated, agent edits left out (they carry no acceptances)", "percent"),
    Figure("outputs_generated", "Outputs generated", "outputs", "code_generation_activity_count", "count"),
    Figure("outputs_accepted", "Outputs accepted", "outputs", "code_acceptance_activity_count", "count"),
    Figure("loc_added", "Lines added", "lines", "lines added with Copilot's help (loc_added_sum)", "count"),
    Figure("cli_developers", "CLI developers", "developers", "distinct active users who used the CLI", "count",
           people=CLI),
    Figure("cli_sessions", "CLI sessions", "sessions", "totals_by_cli.session_count", "count", people=CLI),
    Figure("cli_prompts", "CLI prompts", "prompts", "totals_by_cli.prompt_count", "count", people=CLI),
    Figure("cli_requests", "CLI requests", "requests", "totals_by_cli.request_count: prompts plus the agent's "
           "automatic follow-ups", "count", people=CLI),
    Figure("cli_requests_per_prompt", "CLI requests per prompt", "requests per prompt",
           "CLI requests / CLI prompts: how much looping a CLI task took", "number", 1, people=CLI),
    Figure("cli_requests_per_active_developer", "CLI requests per active developer", "requests per developer",
           "CLI requests / active developers of the group (all of them, CLI users or not)", "number", people=CLI),
    Figure("cli_tokens_millions", "CLI tokens (millions)", "M tokens", "prompt + output tokens of the CLI / 1e6",
           "number", 1, people=CLI),
    # -- credits and cost (int_cost_user_day, mart_team_month_cost; cost, bill) ------------------------------------
    Figure("ai_credits", "AI credits", "AI credits", "AI credits used (int_cost_user_day.ai_credits); a group "
           "counts each person-day once", "count"),
    Figure("credits_per_active_developer", "AI credits per active developer", "AI credits per developer",
           "AI credits / active developers", "number"),
    Figure("seat_months", "Seat-months", "seat-months", "seat-days / days in the month (int_scope_month_seats)",
           "number", 1, people=MEMBERS),
    Figure("pool_share", "Included credits (share of the pool)", "AI credits",
           "seat-months x included credits per seat (cost.included_pool)", "count", people=MEMBERS),
    Figure("billed_credits", "AI credits billed", "AI credits", "the group's part of the org's overage "
           "(cost.allocate_pool)", "count", people=MEMBERS),
    Figure("seat_cost", "Seat cost", "money", "seat-months x the plan's price", "money", people=MEMBERS),
    Figure("ai_credit_cost", "AI-credit cost", "money", "billed credits x the credit price", "money", people=MEMBERS),
    Figure("premium_cost", "Premium-request cost", "money", "premium requests beyond the allowances x price "
           "(months before credit billing)", "money", people=MEMBERS),
    Figure("spend", "Spend", "money", "seat cost + AI-credit cost + premium-request cost (cost.price_team_months); "
           "a group counts each person-day once (cost.group_spend)", "money", people=MEMBERS),
    Figure("cost_per_active_developer", "Cost per active developer", "money per developer",
           "spend / active developers", "money"),
    Figure("cost_per_merged_change", "Cost per merged change", "money per pull request",
           "spend / pull requests merged by members on a day they were on the group", "money", people=MEMBERS),
    Figure("merged_prs", "Pull requests merged", "pull requests", "merged by members on a day they were on the "
           "group", "count", people=MEMBERS),
    Figure("off_window_share", "Share of use outside delivery windows", "share of activity", "prompts, outputs and "
           "CLI prompts on days outside the delivery windows / all of them (patterns.features)", "percent"),
    Figure("pool_use", "Included pool used", "share of the pool", "org AI credits / included pool", "percent_floor",
           people=NOBODY),
    Figure("users_without_seat", "Active users without a seat here", "developers",
           "users with Copilot activity in the month and no seat of this org that month (billed through another "
           "org of the enterprise); their credits stay in team burn but the pool does not grow with them",
           "count", people=NOBODY),
    Figure("idle_seats", "Idle seats", "seats", "seats held with no activity for guardrails.inactive_seat_days "
           "(seats.inactive_seats)", "count", people=MEMBERS),
    Figure("idle_seat_cost", "Idle seats' monthly cost", "money", "idle seats x the plan's price", "money",
           people=MEMBERS),
    Figure("seat_holders", "Seat holders", "developers", "distinct users holding a seat of this org in the month "
           "(int_cost_seat_day)", "count", people=MEMBERS),
    Figure("share_active", "Share of seat holders active", "share of developers", "seat holders active in the "
           "month / seat holders (overview.adoption_cohorts)", "percent", people=MEMBERS),
    Figure("share_integrating", "Integrating or beyond", "share of developers", "active developers whose latest "
           "GitHub adoption phase is integrate or transform / active developers", "percent"),
    Figure("share_of_outputs", "Share of outputs", "share of outputs", "outputs generated in a category / the "
           "outputs of the categories shown", "percent"),
    Figure("task_class_share", "Share of a task class", "share", "a task class's part of a signal's measure "
           "(segments.task_class_usage)", "percent"),
    # -- budgets (budget.evaluate_guardrails) ----------------------------------------------------------------------
    Figure("budget", "Budget", "budget unit", "params budgets: monthly_usd or monthly_credits", "amount",
           people=NOBODY),
    Figure("burn", "Burn to date", "budget unit", "spend (money budget) or AI credits (credit budget) to the as-of "
           "day, as recorded: a day whose usage is not in (data_gap) adds nothing until it arrives", "amount",
           people=MEMBERS),
    Figure("forecast", "Forecast for the month", "budget unit", "burn + the weekday-aware run rate to month end, "
           "days whose usage is not in (data_gap) estimated, never counted as zero (forecast.month_paths); its "
           "interval is written by `interval`", "amount", people=MEMBERS),
    Figure("budget_use", "Budget used", "share of the budget", "burn / budget, rounded down so a threshold never "
           "reads reached before it is", "percent_floor", people=MEMBERS),
    Figure("budget_forecast_use", "Budget forecast", "share of the budget", "forecast / budget, rounded down",
           "percent_floor", people=MEMBERS),
    # -- patterns (patterns.detect, patterns.report) ---------------------------------------------------------------
    Figure("flagged_weeks", "Flagged developer-weeks", "developer-weeks", "developer-weeks that matched a "
           "high-burn pattern (patterns.detect)", "count", people=FLAGGED),
    Figure("flagged_developers", "Developers behind flagged weeks", "developers", "distinct developers of the "
           "flagged weeks", "count", people=FLAGGED),
    Figure("flagged_credits", "AI credits in flagged weeks", "AI credits", "AI credits of the flagged weeks",
           "count", people=FLAGGED),
    # -- model-routing what-if (whatif.evaluate; page 07, `whatif`) ------------------------------------------------
    Figure("credits_routed", "AI credits if routed", "AI credits", "AI credits of the month less the credits saved "
           "by the routes (whatif)", "count", people=MEMBERS),
    Figure("credits_saved", "AI credits saved", "AI credits", "moved share x a prompt row's credits x (1 - target "
           "price / its model's price), at the prices of its day (whatif)", "count", people=MEMBERS),
    Figure("money_saved", "Money saved", "money", "credits saved x the AI-credit list price", "money", people=MEMBERS),
    Figure("saved_share", "Share of credits saved", "share of AI credits", "credits saved / AI credits of the month",
           "percent", people=MEMBERS),
    Figure("target_acceptance_ratio", "Accepted-output ratio on the target model", "share of outputs",
           "acceptances / outputs of the route's features on its target model (agent edits left out), with a "
           "developer-clustered interval (whatif.ratio_interval)", "percent", people=TARGET),
    # -- agent work (agents.agent_costs; page 02, `agents`) ----------------------------------------------------------
    Figure("agent_tasks", "Agent tasks", "pull requests", "agent pull requests opened in the month, shared over the "
           "requester's teams that day (agents)", "number", 1, people=MEMBERS),
    Figure("agent_prs_merged", "Agent PRs merged", "pull requests", "agent pull requests merged in the month",
           "number", 1, people=MEMBERS),
    Figure("agent_cost", "Agent cost", "money", "cloud-agent credits x the credit rate after the pool + Actions "
           "minutes of agent sessions and Copilot code review on agent PRs (agents)", "money", people=MEMBERS),
    Figure("agent_cost_per_task", "Cost per agent task", "money per pull request", "agent cost / agent tasks",
           "money", people=MEMBERS),
    Figure("agent_cost_per_merged_pr", "Cost per merged agent PR", "money per pull request",
           "agent cost / agent PRs merged", "money", people=MEMBERS),
    Figure("human_cost", "Human cost", "money", "seats + the users report's credits (agent credits taken out) + "
           "premium requests + code-review minutes on human PRs (agents)", "money", people=MEMBERS),
    Figure("human_merged_changes", "Human changes merged", "pull requests", "pull requests merged in the month by "
           "members, agent PRs left out", "count", people=MEMBERS),
    Figure("human_cost_per_merged_change", "Cost per merged human change", "money per pull request",
           "human cost / human changes merged", "money", people=MEMBERS),
    Figure("bill", "The month's bill", "money", "seats + AI credits beyond the included pool + premium requests + "
           "Copilot's Actions minutes (agents.agent_costs)", "money", people=NOBODY),
    # -- per repository (repos.repository_credits; page 02, `repos`) -------------------------------------------------
    Figure("repository_credits", "AI credits", "AI credits", "each person's credits spread over the repositories of "
           "the pull requests they opened in the month (repos)", "count", people=REPOSITORY),
    Figure("repository_agent_credits", "Cloud-agent credits", "AI credits", "cloud-agent credits outside the users "
           "report, spread the same way", "count", people=REPOSITORY),
    Figure("repository_merged_changes", "Merged changes", "pull requests", "pull requests merged there in the month "
           "by the scope's people (agent PRs by their requester)", "count", people=REPOSITORY),
    Figure("credits_per_merged_change", "AI credits per merged change", "AI credits per pull request",
           "a repository's credits / its merged changes", "number", people=REPOSITORY),
    Figure("repository_developers", "Developers", "developers", "the scope's people whose credits landed on the "
           "repository", "count", people=REPOSITORY),
    Figure("copilot_reviews", "Copilot code reviews (whole repository)", "pull requests", "pull requests reviewed "
           "by Copilot in the month, from GitHub's repository report (repos-1-day)", "count", people=NOBODY),
    # -- delivery: defined in delivery.metrics (fourkeys definitions) ----------------------------------------------
    Figure("prs_merged", "Pull requests merged", "pull requests", "delivery.metrics.period_metrics", "count"),
    Figure("deployments", "Deployments", "deployments", "deployments with a success status", "count"),
    Figure("deployment_frequency", "Deployments per week", "deployments per week", "deployments / weeks of the "
           "period", "number", 1),
    Figure("failed_deployments", "Failed deployments", "deployments", "deployments an incident names as root "
           "cause, or whose change was reverted", "count"),
    Figure("change_failure_rate", "Change failure rate", "share of deployments", "failed deployments / "
           "deployments", "percent", 1),
    Figure("incidents", "Incidents", "incidents", "issues with the incident label", "count"),
    Figure("cycle_time_hours", "Median cycle time", "hours", "pull request opened -> merged, median", "hours", 1),
    Figure("prs_deployed", "Pull requests deployed", "pull requests", "merged pull requests a production "
           "deployment shipped in the period (delivery.events)", "count"),
    Figure("lead_time_hours", "Median lead time for changes", "hours", "first commit (or the pull request's "
           "opening, if earlier) -> the production deployment that shipped it, median (DORA)", "hours", 1),
    Figure("review_turnaround_hours", "Median review turnaround", "hours", "pull request opened -> first review "
           "by someone else, median", "hours", 1),
    Figure("mttr_hours", "Median time to restore", "hours", "incident opened -> closed, median", "hours", 1),
)


# The column of a record (a team's summary or cost-model row) that holds each kind of group's size.
PEOPLE_COLUMNS = {ACTIVE: "active_developers", CLI: "cli_developers", MEMBERS: "members",
                  FLAGGED: "flagged_developers", TARGET: "target_developers", REPOSITORY: "developers"}


def people_of(key: str, record) -> float | None:
    """How many people the figure `key` of `record` (dict or row) is computed from, by its definition's group;
    None for a figure not computed from people or a record without that count."""
    column = PEOPLE_COLUMNS.get(figure(key).people)
    value = record.get(column) if column is not None else None
    return None if formatting.missing(value) else float(value)


def figure(key: str) -> Figure:
    """The definition of a figure; KeyError names the known keys."""
    try:
        return FIGURES[key]
    except KeyError:
        raise KeyError(f"no figure {key!r}; figures: {', '.join(sorted(FIGURES))}") from None


def label(key: str) -> str:
    return figure(key).label


def hidden(people, k) -> bool:
    """True when a figure computed from `people` people must be suppressed (`privacy.small_group`, the one rule)."""
    if k is None or formatting.missing(people):
        return False
    return bool(privacy.small_group(float(people), k))


def show(key: str, value, *, people=None, k: int | None = None, currency: str | None = None,
         unit: str | None = None) -> str:
    """The figure `key` as report text: rounded and written by its style, suppressed when `people` < `k`."""
    f = figure(key)
    if hidden(people, k):
        return formatting.suppressed_label(k)
    style = f.style
    if style == "amount":
        style = "money" if (unit or "usd") == "usd" else "credits"
    if style == "money":
        return formatting.money(value, currency or "USD")
    if style == "credits":
        text = formatting.number(value, 0)
        return text if text == formatting.NOT_AVAILABLE else f"{text} AI credits"
    if style == "percent":
        return formatting.percent(value, f.digits)
    if style == "percent_floor":
        return formatting.percent(value, f.digits, floor=True)
    if style == "hours":
        return formatting.hours(value, f.digits)
    return formatting.number(value, f.digits)


NO_SPREAD = "the history shows no spread to estimate one from"


def interval(key: str, low, high, *, coverage: float, why: str = "", currency: str | None = None,
             unit: str | None = None) -> str:
    """The interval of a figure (a forecast's), as every page, the CLI and alert messages write it:
    '80% interval 1,200–1,500 USD'. Where it cannot be computed (NaN) or has no width once rounded, the text says
    why instead ('no 80% interval: <why>'), never 'nan to nan' or '39,828 to 39,828'."""
    lo, hi = show(key, low, currency=currency, unit=unit), show(key, high, currency=currency, unit=unit)
    name = f"{formatting.percent(coverage)} interval"
    if formatting.NOT_AVAILABLE in (lo, hi) or lo == hi:
        return f"no {name}: {why or NO_SPREAD}"
    lo_number, _, lo_unit = lo.partition(" ")
    hi_number, _, hi_unit = hi.partition(" ")
    return f"{name} {lo_number}–{hi_number} {hi_unit}".rstrip() if lo_unit == hi_unit else f"{name} {lo}–{hi}"


def json_value(key: str, value, *, people=None, k: int | None = None):
    """`value` for a JSON document: int or float at full precision; None where missing or suppressed."""
    figure(key)
    if hidden(people, k) or formatting.missing(value):
        return None
    number = float(value)
    return int(number) if figure(key).style == "count" and number.is_integer() else number
