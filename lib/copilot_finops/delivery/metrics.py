"""Delivery metrics per team and week, and over a period (fourkeys definitions), from the attributed events.

The event-level definitions (what a deployment, a failed change, an incident and a lead time
are, and whose team they count for) live in `events`; this module only counts and takes
medians, the same way for a week and for a month.

Weekly figures
--------------
Deployment frequency
    Successful production deployments in the week (0 in a week without any); over a period,
    deployments per week.
Change failure rate
    Failed deployments / deployments of the week (fourkeys); undefined (NaN) in a week without
    deployments. Over a period it is pooled (failed / deployed), never an average of weeks.
Lead time for changes
    Median lead time of the pull requests deployed that week (dated by the deployment).
Cycle time, review turnaround
    Medians of the pull requests merged, first reviewed, that week.
Time to restore
    Median hours from opening to closing of the incidents opened that week (fourkeys'
    "time to restore service"; the median, not the mean, so one long incident does not set it).
"""
from __future__ import annotations

from datetime import date

import pandas as pd

from .events import DeliveryEvents, week_start

WEEKLY_METRICS = ("cycle_time_hours", "lead_time_hours", "review_turnaround_hours", "deployment_frequency",
                  "change_failure_rate", "mttr_hours")


def team_week_metrics(events: DeliveryEvents, team: str, weeks: list) -> pd.DataFrame:
    """Delivery figures of one team for each week (Mondays in `weeks`), every week present.

    Columns: week_start, prs_opened, prs_merged, cycle_time_hours (median), prs_deployed,
    lead_time_hours (median), prs_reviewed, review_turnaround_hours (median), deployment_frequency
    (deployments), failed_deployments, change_failure_rate (NaN without deployments), incidents,
    incidents_restored, mttr_hours (median).
    """
    index = pd.DatetimeIndex(pd.to_datetime(list(weeks)), name="week_start")
    prs = events.prs[events.prs["team_slug"] == team]
    deps = events.deployments[events.deployments["team_slug"] == team]
    inc = events.incidents[events.incidents["team_slug"] == team]

    def count(frame, column):
        return frame.assign(_week=week_start(frame[column]).to_numpy()).groupby("_week").size().reindex(
            index, fill_value=0).astype("int64")

    def median(frame, column, value):
        frame = frame.dropna(subset=[value])
        return frame.assign(_week=week_start(frame[column]).to_numpy()).groupby("_week")[value].median().reindex(index)

    merged = prs.dropna(subset=["merged_at"])
    shipped = prs.dropna(subset=["lead_hours"])
    out = pd.DataFrame(index=index)
    out["prs_opened"] = count(prs, "created_at")
    out["prs_merged"] = count(merged, "merged_at")
    out["cycle_time_hours"] = median(merged, "merged_at", "cycle_hours")
    out["prs_deployed"] = count(shipped, "shipped_at")
    out["lead_time_hours"] = median(shipped, "shipped_at", "lead_hours")
    reviewed = prs.dropna(subset=["first_review_at"])
    out["prs_reviewed"] = count(reviewed, "first_review_at")
    out["review_turnaround_hours"] = median(reviewed, "first_review_at", "review_hours")
    out["deployment_frequency"] = count(deps, "deployed_at")
    out["failed_deployments"] = count(deps[deps["failed"]], "deployed_at")
    out["change_failure_rate"] = out["failed_deployments"] / out["deployment_frequency"].where(out["deployment_frequency"] > 0)
    out["incidents"] = count(inc, "created_at")
    out["incidents_restored"] = count(inc.dropna(subset=["restore_hours"]), "created_at")
    out["mttr_hours"] = median(inc, "created_at", "restore_hours")
    return out.reset_index()


def period_metrics(events: DeliveryEvents, team: str, start: date, end: date) -> dict:
    """Delivery figures of one team over the days `start`..`end` (inclusive), same definitions as weekly.

    Keys: prs_opened, prs_merged, cycle_time_hours, prs_deployed, lead_time_hours,
    review_turnaround_hours, deployments, deployment_frequency (per week), failed_deployments,
    change_failure_rate, incidents, incidents_open, mttr_hours. Medians and rates are None when
    nothing was there to measure (no merge, no deployment, no closed incident).
    """
    lo, hi = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)

    def team_rows(frame):
        # (the team's rows first: the window holds the whole org's, a million pull requests at 30,000 developers)
        return frame[frame["team_slug"] == team]

    def within(frame, column):
        return frame[(frame[column] >= lo) & (frame[column] < hi)]

    prs = team_rows(events.prs)
    merged = within(prs.dropna(subset=["merged_at"]), "merged_at")
    shipped = within(prs.dropna(subset=["lead_hours"]), "shipped_at")
    reviewed = within(prs.dropna(subset=["first_review_at"]), "first_review_at")
    deps = within(team_rows(events.deployments), "deployed_at")
    inc = within(team_rows(events.incidents), "created_at")
    weeks = ((hi - lo) / pd.Timedelta(days=7))
    n_deps, n_failed = len(deps), int(deps["failed"].sum())

    def med(series):
        series = series.dropna()
        return None if series.empty else round(float(series.median()), 2)

    return {
        "prs_opened": int(len(within(prs, "created_at"))),
        "prs_merged": int(len(merged)),
        "cycle_time_hours": med(merged["cycle_hours"]),
        "prs_deployed": int(len(shipped)),
        "lead_time_hours": med(shipped["lead_hours"]),
        "review_turnaround_hours": med(reviewed["review_hours"]),
        "deployments": n_deps,
        "deployment_frequency": round(n_deps / weeks, 2),
        "failed_deployments": n_failed,
        "change_failure_rate": round(n_failed / n_deps, 4) if n_deps else None,
        "incidents": int(len(inc)),
        "incidents_open": int(inc["closed_at"].isna().sum()),
        "mttr_hours": med(inc["restore_hours"]),
    }
