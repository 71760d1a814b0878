"""Budget guardrails: burn to date, a month-end forecast with an interval, and progressive stages.

Burn for a month is seat cost + AI-credit cost after the pool allocation (+ premium-request cost before credit
billing) when the budget is in money, or AI credits used when it is in credits. Each threshold of
`guardrails.thresholds` (60 / 80 / 95 % by default) is a stage with its actions from params; a stage counts
when burn has reached it or the forecast's expectation reaches it by month end, and the report gives the date
the forecast crosses each threshold (and the earliest date, on the interval's upper bound).

The forecast is `forecast.month_paths`. Usage on days whose users report is missing, late or partial (see `gaps`)
is unknown, not zero: those days are left out of what the forecast learns from and estimated, so burn to date is
what was recorded and the month-end forecast adds the estimate of those days. The default as-of day is the last
day the users report is complete. Before credits were billed a credit series is unknown too, not zero.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from . import cache, cost, figures, gaps, privacy
from . import forecast
from .forecast import QUANTILES, RECORDED, off_days, quiet_days
from .errors import UserError
from .params import OrgParams
from .period import Period

UNIT_LABEL = {"usd": "USD", "credits": "AI credits"}


# -- guardrails -----------------------------------------------------------------------------------------------
@dataclass
class GuardrailReport:
    """Guardrails of one month as of one day: a row per budget and the daily burn paths for charts."""

    period: Period
    as_of: date
    rows: pd.DataFrame  # one row per team / segment budget (see `evaluate_guardrails`)
    paths: pd.DataFrame  # scope, name, day, actual, estimated, expected, low, high (cumulative burn, budget unit)
    org: dict = field(default_factory=dict)
    gaps: list = field(default_factory=list)  # the month's data gaps (gaps.gaps_document)


def parse_as_of(text: str | date | None) -> date | None:
    """An as-of parameter as given to a notebook or command: '' or None means the default day."""
    if text is None or text == "" or isinstance(text, date):
        return text or None
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise UserError(f"as_of {text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-10-15") from None


def resolve_as_of(con: duckdb.DuckDBPyConnection, period: Period, as_of: date | None = None) -> date:
    """The as-of day: the given one (within the period and the data), else the period's last day or the last day
    the users report is complete (`gaps.usage_as_of`). A given day past that one has its unknown days estimated."""
    last = gaps.usage_as_of(con)
    if last is None:
        raise UserError("the warehouse holds no usage: run `copilot-finops ingest` first")
    if as_of is not None:
        if not period.start <= as_of <= period.end:
            raise UserError(f"--as-of {as_of} is outside {period.label}: give a day from {period.start} to {period.end}")
        reach = max(last, gaps.horizon(con) or last)
        if as_of > reach:
            raise UserError(f"--as-of {as_of} is after the last day with data ({reach})")
        return as_of
    if last < period.start:
        raise UserError(f"no usage data for {period.label}: the last day the users report is complete is {last}")
    return min(period.end, last)


def stage_of(fraction: float | None, thresholds: list[float]) -> float | None:
    """The highest threshold reached by a fraction of the budget (None below the first)."""
    if fraction is None or np.isnan(fraction):
        return None
    reached = [t for t in thresholds if fraction >= t]
    return reached[-1] if reached else None


def crossing_date(path: pd.Series, level: float) -> date | None:
    """First day the cumulative path reaches `level` (None if it never does within the path)."""
    hit = path[path >= level - 1e-9]
    return hit.index[0] if len(hit) else None


def _series(frame: pd.DataFrame, column: str, days: list[date]) -> pd.Series:
    return frame.set_index("day")[column].reindex(days, fill_value=0.0).astype(float)


def _added(paths: dict[str, pd.Series], teams: list[str], days: list[date]) -> pd.Series:
    return sum((paths[t].reindex(days).ffill().fillna(0.0) for t in teams), pd.Series(0.0, index=days))


KEYS = QUANTILES + (RECORDED,)
NOTE = "note"  # why a forecast's interval is narrow or absent ('' when it is not)


def _cumulative_paths(history: pd.Series, unknown: set[date], period: Period, off: set[date],
                      params: OrgParams) -> dict:
    """Cumulative burn from the period's start, at each of QUANTILES and as RECORDED (see forecast.month_paths)."""
    result = forecast.month_paths(history, unknown, period.start, period.end, off,
                                  history_days=params.guardrails.history_days, coverage=params.guardrails.interval)
    return {**result.paths, NOTE: result.note}


def evaluate_guardrails(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams,
                        as_of: date | None = None) -> GuardrailReport:
    """Burn, forecast and stage of every team budget (and segment budget) for the month, as of a day.

    Rows: scope ('team' | 'segment'), name, segment, unit ('usd' | 'credits'), budget, members, suppressed,
    burn_to_date, forecast, forecast_low, forecast_high, pct_to_date, pct_forecast, stage (threshold or None),
    stage_status ('reached', 'forecast' or 'below'), actions (the stage's actions), crossings (list of
    {threshold, reached_on, forecast_date, earliest_date, actions}). Teams without a budget are left out; a
    segment's burn counts each of its people once (`forecast.group_daily_quantities`). Budgets over fewer than k members keep their stage, and
    displays blank their figures (`suppressed`).

    The report is org-wide and the same for every team's notebook of the month: it is memoised
    beside the warehouse (see `cache`), keyed by period, as-of day and params.
    """
    return _evaluate_guardrails(con, period, params, resolve_as_of(con, period, as_of))


@cache.memoised("guardrails")
def _evaluate_guardrails(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams,
                         as_of: date) -> GuardrailReport:
    g = params.guardrails
    hist_start = min(period.start, as_of - timedelta(days=g.history_days - 1))
    teams_daily, org_daily = forecast.daily_quantities(con, hist_start, as_of)
    known_days = [hist_start + timedelta(days=i) for i in range((as_of - hist_start).days + 1)]
    month_days = [period.start + timedelta(days=i) for i in range((period.end - period.start).days + 1)]
    dim = len(month_days)
    unknown = gaps.unknown_usage_days(con, hist_start, as_of)  # usage of these days is not in: estimate it
    off = off_days(hist_start, period.end, params)
    off |= quiet_days(_series(org_daily, "active_users", known_days).mask(lambda s: s.index.isin(unknown)), off)
    members = dict(con.execute("""SELECT team_slug, count(DISTINCT user_id) FROM int_team_member_day
                                  WHERE day BETWEEN ? AND ? GROUP BY 1""", [period.start, as_of]).fetchall())
    teams = sorted(t for t in teams_daily["team_slug"].unique() if t in members)
    credit_era = cost.credit_era(period, params)
    # before credits were billed, a day's credits are not zero but do not exist: the forecast must not learn from them
    credit_unknown = unknown | {d for d in known_days if d < params.prices.credit_billing_start} if credit_era else unknown

    # seats: actual to as-of, then the as-of day's seats for the rest of the month
    def seat_path(frame: pd.DataFrame) -> tuple[pd.Series, float]:
        daily = frame.set_index("day").reindex(known_days, fill_value=0)
        seat_cost = forecast.daily_seat_cost(daily.reset_index(), params, dim).set_axis(known_days)
        seat_cost = seat_cost[[d >= period.start for d in known_days]]
        tail = [as_of + timedelta(days=i) for i in range(1, (period.end - as_of).days + 1)]
        full = pd.concat([seat_cost, pd.Series(float(seat_cost.iloc[-1]) if len(seat_cost) else 0.0, index=tail)])
        month_seats = daily.loc[[d >= period.start for d in known_days], "seats"]
        seat_months = (float(month_seats.sum()) + float(month_seats.iloc[-1]) * len(tail)) / dim if len(month_seats) else 0.0
        return full.cumsum(), seat_months

    team_frames = {t: teams_daily[teams_daily["team_slug"] == t] for t in teams}
    by_team = {t: _cumulative_paths(_series(team_frames[t], "ai_credits", known_days), credit_unknown, period, off,
                                    params) for t in teams}
    credit_paths = {q: {t: by_team[t][q] for t in teams} for q in KEYS}
    org_credit_paths = _cumulative_paths(_series(org_daily, "ai_credits", known_days), credit_unknown, period, off,
                                         params)
    seat_paths, seat_months = {}, {}
    for t in teams:
        seat_paths[t], seat_months[t] = seat_path(team_frames[t])
    org_seat_path, org_seat_months = seat_path(org_daily)
    included = params.included_credits_for(period.start)
    org_pool = included * org_seat_months if credit_era else 0.0

    premium_paths = {q: {t: pd.Series(0.0, index=month_days) for t in teams} for q in KEYS}
    if not credit_era:  # premium requests beyond the allowances, priced, spread like the team's requests
        billable = cost.premium_billable_requests(con, period, params)
        for t in teams:
            used = _series(team_frames[t], "premium_requests", known_days)
            month_used = float(used[[d >= period.start for d in used.index]].sum())
            share = float(billable.get(t, 0.0)) / month_used if month_used > 0 else 0.0
            paths = _cumulative_paths(used * share * params.prices.premium_request, unknown, period, off, params)
            for q in KEYS:
                premium_paths[q][t] = paths[q]

    def money_paths(q) -> dict[str, pd.Series]:
        team_credits = pd.DataFrame({t: credit_paths[q][t] for t in teams}).reindex(month_days).ffill().fillna(0.0)
        org_credits = org_credit_paths[q].reindex(month_days).ffill().fillna(0.0)
        if credit_era:
            shares = pd.Series({t: included * seat_months[t] for t in teams})
            billed = {}
            for day in month_days:
                day_frame = pd.DataFrame({"ai_credits": team_credits.loc[day], "pool_share": shares})
                billed[day] = cost.allocate_pool(day_frame, org_credits.loc[day], org_pool,
                                                 params.pool_allocation)["billed_credits"]
            billed_credits = pd.DataFrame(billed).T
        else:
            billed_credits = team_credits * 0.0
        return {t: seat_paths[t].reindex(month_days).ffill() + billed_credits[t] * params.prices.ai_credit
                + premium_paths[q][t].reindex(month_days).ffill().fillna(0.0) for t in teams}

    paths_by_unit = {"credits": {q: {t: credit_paths[q][t].reindex(month_days).ffill().fillna(0.0) for t in teams}
                                 for q in KEYS}}
    budgets = [("team", t, params.segment_of(t), params.budgets.for_team(t), [t]) for t in teams]
    segment_teams: dict[str, list[str]] = {}
    for t in teams:
        segment_teams.setdefault(params.segment_of(t), []).append(t)
    budgets += [("segment", s, s, b, segment_teams.get(s, [])) for s, b in params.budgets.segments.items()]
    if any(b.unit == "usd" for *_, b, _ in budgets):
        paths_by_unit["usd"] = {q: money_paths(q) for q in KEYS}

    def group_path(unit: str, covered: list[str]) -> dict:
        """A segment's burn, each person once: credits forecast from the segment's own daily series; money as its
        seats once plus its teams' credit and premium cost scaled by the share of their sum not counted twice."""
        frame = forecast.group_daily_quantities(con, hist_start, as_of, covered)
        credits = _cumulative_paths(_series(frame, "ai_credits", known_days), credit_unknown, period, off, params)
        credits = {q: credits[q].reindex(month_days).ffill().fillna(0.0) for q in KEYS}
        if unit == "credits":
            return credits
        added = {q: _added(paths_by_unit["credits"][q], covered, month_days) for q in KEYS}
        once = {q: (credits[q] / added[q].where(added[q] > 0)).fillna(1.0).clip(upper=1.0) for q in KEYS}
        month = [d >= period.start for d in known_days]
        team_requests = sum(float(_series(team_frames[t], "premium_requests", known_days)[month].sum()) for t in covered)
        group_requests = float(_series(frame, "premium_requests", known_days)[month].sum())
        requests_once = min(1.0, group_requests / team_requests) if team_requests > 0 else 1.0
        seats, teams_seats = seat_path(frame)[0], _added(seat_paths, covered, month_days)
        money = {}
        for q in KEYS:
            teams_premium = _added(premium_paths[q], covered, month_days)
            credit_money = _added(paths_by_unit["usd"][q], covered, month_days) - teams_seats - teams_premium
            money[q] = (seats.reindex(month_days).ffill().fillna(0.0) + credit_money * once[q]
                        + teams_premium * requests_once)
        return money

    rows, path_rows = [], []
    estimated = {d for d in unknown if period.start <= d <= as_of}  # usage days of the month estimated, not recorded
    for scope, name, segment, budget, covered in budgets:
        if budget.unit is None or not covered:
            continue
        unit_paths = paths_by_unit[budget.unit]
        path = ({q: unit_paths[q][covered[0]] for q in KEYS} if scope == "team"
                else group_path(budget.unit, covered))
        n_members = members.get(covered[0], 0) if scope == "team" else con.execute(
            """SELECT count(DISTINCT user_id) FROM int_team_member_day WHERE day BETWEEN ? AND ?
               AND list_contains(?, team_slug)""", [period.start, as_of, covered]).fetchone()[0]
        note = next((by_team[t][NOTE] for t in covered if by_team[t][NOTE]), "")
        rows.append(_guardrail_row(scope, name, segment, budget.unit, budget.amount, n_members, path, as_of, params,
                                   estimated, note))
        if scope == "segment":  # the segment minus its teams shown would be its hidden teams' burn: 1 .. k-1 people?
            hidden = [t for t in covered if privacy.small_group(members.get(t, 0), params.privacy.k_anonymity)]
            hidden_people = con.execute(
                """SELECT count(DISTINCT user_id) FROM int_team_member_day WHERE day BETWEEN ? AND ?
                   AND list_contains(?, team_slug)""", [period.start, as_of, hidden]).fetchone()[0] if hidden else 0
            rows[-1]["suppressed"] |= bool(privacy.small_group(hidden_people, params.privacy.k_anonymity))
        path_rows.append(pd.DataFrame({
            "scope": scope, "name": name, "day": month_days, "actual": [path[0.0][d] if d <= as_of else np.nan for d in month_days],
            "estimated": [d in estimated for d in month_days],
            "expected": path[0.0].to_numpy(), "low": path[-1.0].to_numpy(), "high": path[1.0].to_numpy(),
            "budget": budget.amount, "unit": budget.unit}))
    org = {"as_of": as_of, "credit_era": credit_era, "pool_credits": org_pool,
           "credits_to_date": float(org_credit_paths[RECORDED].get(as_of, 0.0)), "estimated_days": sorted(estimated),
           "credits_forecast": float(org_credit_paths[0.0].iloc[-1]) if len(org_credit_paths[0.0]) else 0.0,
           "seat_cost_to_date": float(org_seat_path.get(as_of, 0.0))}
    rows_frame = pd.DataFrame(rows)
    paths = pd.concat(path_rows, ignore_index=True) if path_rows else pd.DataFrame()
    return GuardrailReport(period, as_of, rows_frame, paths, org, gaps.gaps_document(con, period.start, period.end))


def _guardrail_row(scope: str, name: str, segment: str, unit: str, amount: float, members: int,
                   path: dict, as_of: date, params: OrgParams, estimated: set[date], note: str = "") -> dict:
    thresholds = params.guardrails.thresholds
    burn = float(path[RECORDED][as_of])  # what was recorded: days of usage not in yet add nothing here
    forecast, low, high = (float(path[q].iloc[-1]) for q in (0.0, -1.0, 1.0))
    closed = as_of >= path[0.0].index[-1]
    basis = ("estimate" if estimated else "actual") if closed else "forecast"
    stage_now = stage_of(burn / amount, thresholds)
    stage_forecast = stage_of(forecast / amount, thresholds)
    stage = max((s for s in (stage_now, stage_forecast) if s is not None), default=None)
    status = "below" if stage is None else ("reached" if stage_now is not None and stage_now >= stage else "forecast")
    recorded = path[RECORDED][path[RECORDED].index <= as_of]
    crossings = []
    for t in thresholds:
        level = t * amount
        crossings.append({"threshold": t, "label": f"{t:.0%}",
                          "reached_on": crossing_date(recorded, level),
                          "forecast_date": crossing_date(path[0.0], level),
                          "earliest_date": crossing_date(path[1.0], level),
                          "actions": params.guardrails.actions_for(t)})
    return {"scope": scope, "name": name, "segment": segment, "unit": unit, "budget": amount, "members": members,
            "suppressed": 0 < members < params.privacy.k_anonymity,
            "burn_to_date": burn, "forecast": forecast, "forecast_low": low, "forecast_high": high,
            "pct_to_date": burn / amount, "pct_forecast": forecast / amount,
            # actual: the month is over and all of it recorded; estimate: over, with days of usage estimated;
            # forecast: the month is in progress
            "forecast_basis": basis, "estimated_days": len(estimated), "interval_note": "" if closed else note,
            "interval_coverage": params.guardrails.interval,
            "stage": stage, "stage_label": f"{stage:.0%}" if stage is not None else f"below {thresholds[0]:.0%}",
            "stage_status": status, "actions": params.guardrails.actions_for(stage) if stage is not None else [],
            "crossings": crossings}


# -- words and charts for the reports -------------------------------------------------------------------------
def pct_floor(fraction: float) -> str:
    """Budget use as every page writes it (`figures`: rounded down, so 79.9 % never reads as the 80 % threshold)."""
    return figures.show("budget_use", fraction)


def _amount(value: float, unit: str, currency: str) -> str:
    return figures.show("burn", value, unit=unit, currency=currency)


def interval_text(row: dict, currency: str, coverage: float | None = None) -> str:
    """The forecast's interval of a guardrail row (or an alerts.json entry, with the document's `coverage`) as
    every page and message writes it (`figures.interval`), or why there is none."""
    return figures.interval("forecast", row.get("forecast_low"), row.get("forecast_high"),
                            coverage=coverage if coverage is not None else row["interval_coverage"],
                            why=row.get("interval_note") or "", unit=row["unit"], currency=currency)


def guardrail_markdown(row: dict, report: GuardrailReport, params: OrgParams) -> str:
    """The written verdict of one budget: where the burn stands, where it is heading, and what to do."""
    cur, unit = params.currency, row["unit"]
    name = scope_name(row["scope"], row["name"], params)
    when = (f"as of {report.as_of}" if report.as_of < report.period.end else f"for the whole of {report.period.label}")
    missing = (f"{row['estimated_days']} day{'s' if row['estimated_days'] != 1 else ''} whose usage is not in "
               "(see the data banner)") if row.get("estimated_days") else ""
    span = "; " + interval_text(row, params.currency)
    if row["suppressed"]:
        head = (f"**{name}, {when}.** The team has fewer than {params.privacy.k_anonymity} members, so its figures "
                f"are suppressed; its guardrail stage is **{row['stage_label']}** ({row['stage_status']}).")
    elif row.get("forecast_basis", "actual") == "actual" and report.as_of >= report.period.end:
        head = (f"**{name}, {when}.** Burn was {_amount(row['burn_to_date'], unit, cur)}, {pct_floor(row['pct_to_date'])} of "
                f"the {_amount(row['budget'], unit, cur)} budget: stage **{row['stage_label']}**.")
    elif report.as_of >= report.period.end:
        head = (f"**{name}, {when}.** Recorded burn was {_amount(row['burn_to_date'], unit, cur)} "
                f"({pct_floor(row['pct_to_date'])} of the {_amount(row['budget'], unit, cur)} budget), without {missing}. "
                f"With those days estimated the month ended at about {_amount(row['forecast'], unit, cur)} "
                f"({pct_floor(row['pct_forecast'])}{span}): stage **{row['stage_label']}** ({row['stage_status']}).")
    else:
        head = (f"**{name}, {when}.** Burn so far is {_amount(row['burn_to_date'], unit, cur)} "
                f"({pct_floor(row['pct_to_date'])} of the {_amount(row['budget'], unit, cur)} budget"
                + (f"; without {missing}, which the forecast estimates" if missing else "") + "). At the current "
                f"weekday-aware run rate the month ends at {_amount(row['forecast'], unit, cur)} "
                f"({pct_floor(row['pct_forecast'])}{span}): stage **{row['stage_label']}** ({row['stage_status']}).")
    lines = [head, ""]
    for c in row["crossings"]:
        if row["suppressed"]:  # dates would trace a small team's spending day by day
            when = "reached or forecast" if row["stage"] is not None and c["threshold"] <= row["stage"] else "not expected"
        elif c["reached_on"]:
            when = f"reached on {c['reached_on']}"
        elif c["forecast_date"]:
            when = f"forecast to be crossed on {c['forecast_date']}"
        elif c["earliest_date"]:
            when = f"not expected this month (on the interval's upper bound: {c['earliest_date']})"
        else:
            when = "not expected this month"
        actions = params.guardrails.linked_actions(c["threshold"], c["actions"]) or "no action configured"
        active = row["stage"] is not None and c["threshold"] <= row["stage"]
        lines.append(f"- **{c['label']}** of budget, {when}. " + (f"Actions: {actions}" if active else f"Then: {actions}"))
    if row["stage"] is None:
        lines += ["", "No action needed yet: the burn is below the first threshold."]
    return "\n".join(lines)


def scope_name(scope: str, name: str, params: OrgParams) -> str:
    """A budget's owner for readers: the team's slug, or the segment's label from params."""
    if scope != "segment":
        return name
    segment = params.segments.get(name)
    return f"{segment.label if segment else name.replace('_', ' ')} (segment)"


def month_end_header(bases) -> str:
    """The header of a month-end figure: 'forecast' while any is one, else 'month end' (a closed month's figure is
    its actual, or with missing days an estimate). Page 03's stage table and page 00's team table both use it."""
    return "forecast" if any(b == "forecast" for b in bases) else "month end"


def stage_table(report: GuardrailReport, params: OrgParams) -> pd.DataFrame:
    """Every budget's stage for the month, formatted (figures of teams under k suppressed)."""
    rows = []
    records = report.rows.to_dict("records")
    month_end = month_end_header(r.get("forecast_basis") for r in records)
    for r in records:
        hide = r["suppressed"]
        segment = params.segments[r["segment"]].label if r["segment"] in params.segments else r["segment"]
        rows.append({"budget for": scope_name(r["scope"], r["name"], params),
                     "segment": segment, "budget": _amount(r["budget"], r["unit"], params.currency),
                     "burn to date": privacy.suppressed_label(params.privacy.k_anonymity) if hide
                     else pct_floor(r["pct_to_date"]),
                     month_end: privacy.suppressed_label(params.privacy.k_anonymity) if hide
                     else pct_floor(r["pct_forecast"]),
                     "stage": r["stage_label"] + ("" if r["stage_status"] == "below" else f" ({r['stage_status']})")})
    return pd.DataFrame(rows)
