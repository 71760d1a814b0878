"""Delivery metric definitions on hand-built pull request, deployment and incident frames.

One small world: repo org/alpha (team alpha) and org/beta (team beta), three weeks of
September 2026, the third without any deployment. Every expected figure is worked out by hand
from the rows below.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from copilot_finops import delivery

T = pd.Timestamp
SHA = {name: (name * 40)[:40] for name in ("a", "b", "c", "d", "e", "f", "9", "8", "7", "6")}
WEEKS = [date(2026, 9, 7), date(2026, 9, 14), date(2026, 9, 21)]


def _membership() -> pd.DataFrame:
    rows = []
    for day in pd.date_range("2026-09-01", "2026-09-30"):
        rows += [(day, 1, "alpha"), (day, 2, "alpha"), (day, 3, "alpha"), (day, 3, "beta"), (day, 4, "beta")]
        rows.append((day, 5, "beta" if day < T("2026-09-10") else "alpha"))  # erin moves to alpha on the 10th
    return pd.DataFrame(rows, columns=["day", "user_id", "team_slug"])


def _pulls() -> pd.DataFrame:
    cols = ["repo", "number", "author_id", "author_login", "title", "head_ref", "head_sha", "created_at",
            "merged_at", "merge_commit_sha", "first_commit_at"]
    rows = [
        ("org/alpha", 1, 1, "alice", "Add cart cache", "alice/cart", SHA["9"], T("2026-09-07 09:00"),
         T("2026-09-07 15:00"), SHA["a"], pd.NaT),
        ("org/alpha", 2, 2, "bob", "Try a new parser", "bob/parser", SHA["8"], T("2026-09-07 10:00"),
         pd.NaT, None, pd.NaT),  # closed, never merged
        # squash merge: the merge commit (c...) is not the branch head (7...); the first commit is known
        ("org/alpha", 3, 1, "alice", "Fix ledger rounding", "alice/ledger", SHA["7"], T("2026-09-08 09:00"),
         T("2026-09-08 21:00"), SHA["c"], T("2026-09-07 21:00")),
        ("org/alpha", 6, 2, "bob", 'Revert "Fix ledger rounding"', "revert-3-alice/ledger", SHA["6"],
         T("2026-09-09 10:00"), T("2026-09-09 11:00"), None, pd.NaT),
        ("org/alpha", 7, 5, "erin", "Tune alerts", "erin/alerts", None, T("2026-09-09 09:00"),
         T("2026-09-11 09:00"), None, pd.NaT),  # opened on beta, merged on alpha
        ("org/alpha", 4, 3, "carol", "Split invoice worker", "carol/invoice", None, T("2026-09-14 09:00"),
         T("2026-09-14 12:00"), SHA["d"], pd.NaT),  # carol is on alpha and beta
        ("org/alpha", 5, 99, "deploy-bot", "Bump deps", "bot/deps", SHA["f"], T("2026-09-15 08:00"),
         T("2026-09-15 10:00"), SHA["e"], pd.NaT),  # a bot: on no team
        ("org/beta", 1, 4, "dave", "Add scanner rule", "dave/rule", None, T("2026-09-07 09:00"),
         T("2026-09-07 13:00"), SHA["b"], pd.NaT),
    ]
    return pd.DataFrame(rows, columns=cols)


def _reviews() -> pd.DataFrame:
    rows = [
        ("org/alpha", 1, "alice", "COMMENTED", T("2026-09-07 10:00")),  # the author's own comment
        ("org/alpha", 1, "bob", "COMMENTED", T("2026-09-07 11:00")),
        ("org/alpha", 1, "carol", "PENDING", pd.NaT),
        ("org/alpha", 3, "bob", "APPROVED", T("2026-09-08 10:00")),
    ]
    return pd.DataFrame(rows, columns=["repo", "number", "reviewer_login", "state", "submitted_at"])


def _deployments() -> tuple[pd.DataFrame, pd.DataFrame]:
    deps = [
        ("org/alpha", 101, SHA["a"], "production", T("2026-09-07 17:30")),
        ("org/alpha", 102, SHA["c"], "production", T("2026-09-08 22:00")),
        ("org/alpha", 103, "1" * 40, "production", T("2026-09-09 17:00")),  # its status is failure
        ("org/alpha", 104, SHA["d"], "production", T("2026-09-14 17:30")),
        ("org/alpha", 105, SHA["e"], "production", T("2026-09-15 17:30")),
        ("org/alpha", 106, SHA["e"], "staging", T("2026-09-15 12:00")),  # alpha names production: staging ignored
        ("org/beta", 201, SHA["b"], "staging", T("2026-09-07 18:00")),  # beta never names production
    ]
    statuses = []
    for repo, dep_id, _, _, at in deps:
        final = "failure" if dep_id == 103 else "success"
        statuses += [(repo, dep_id, "in_progress", at + pd.Timedelta(minutes=1)),
                     (repo, dep_id, final, at + pd.Timedelta(minutes=6))]
    statuses.append(("org/alpha", 101, "inactive", T("2026-09-08 22:10")))  # superseded later: still deployed
    return (pd.DataFrame(deps, columns=["repo", "deployment_id", "sha", "environment", "created_at"]),
            pd.DataFrame(statuses, columns=["repo", "deployment_id", "state", "created_at"]))


def _incidents() -> pd.DataFrame:
    rows = [
        ("org/alpha", 50, T("2026-09-14 19:00"), T("2026-09-14 23:00"), SHA["d"][:7], ["incident"]),
        ("org/alpha", 51, T("2026-09-09 12:00"), T("2026-09-09 14:00"), None, ["incident", "sev2"]),  # no root cause
        ("org/alpha", 52, T("2026-09-07 19:00"), T("2026-09-07 20:00"), SHA["a"], ["bug"]),  # not an incident
        ("org/alpha", 53, T("2026-09-15 20:00"), pd.NaT, SHA["f"], ["Incident"]),  # names #5's branch head; open
    ]
    return pd.DataFrame(rows, columns=["repo", "number", "created_at", "closed_at", "root_cause_sha", "labels"])


def _inputs(**overrides) -> delivery.DeliveryInputs:
    deps, statuses = _deployments()
    parts = {"pulls": _pulls(), "reviews": _reviews(), "deployments": deps, "statuses": statuses,
             "incidents": _incidents(), "membership": _membership()}
    parts.update(overrides)
    return delivery.DeliveryInputs(**parts)


@pytest.fixture(scope="module")
def events() -> delivery.DeliveryEvents:
    return delivery.delivery_events(_inputs())


def _row(frame, **keys):
    sel = frame
    for k, v in keys.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, f"expected one row for {keys}, found {len(sel)}"
    return sel.iloc[0]


def test_pull_requests_belong_to_the_author_team_on_the_merge_day(events):
    prs = events.prs
    assert events.repo_owner == {"org/alpha": "alpha", "org/beta": "beta"}
    # carol is on alpha and beta: the repo's owner wins, and the PR is counted once
    assert list(prs.loc[(prs["repo"] == "org/alpha") & (prs["number"] == 4), "team_slug"]) == ["alpha"]
    assert _row(prs, repo="org/alpha", number=5)[["team_slug", "team_source"]].tolist() == ["alpha", "repo"]
    assert _row(prs, repo="org/alpha", number=7)["team_slug"] == "alpha"  # merged after erin moved
    assert _row(prs, repo="org/beta", number=1)["team_slug"] == "beta"


def test_cycle_time_runs_from_first_commit_or_opening_to_merge(events):
    prs = events.prs
    assert _row(prs, repo="org/alpha", number=1)["cycle_hours"] == pytest.approx(6.0)
    assert _row(prs, repo="org/alpha", number=3)["cycle_hours"] == pytest.approx(24.0)  # first commit known
    assert np.isnan(_row(prs, repo="org/alpha", number=2)["cycle_hours"])  # never merged


def test_lead_time_runs_to_the_first_successful_deployment_after_the_merge(events):
    """DORA lead time for changes: first commit (else opening) to the deployment that shipped the change."""
    prs = events.prs
    one = _row(prs, repo="org/alpha", number=1)
    assert one["shipped_deployment_id"] == 101 and one["lead_hours"] == pytest.approx(8.6)  # 09:00 -> 17:36
    assert _row(prs, repo="org/alpha", number=3)["lead_hours"] == pytest.approx(25.1)  # first commit the day before
    # merged on the 9th: 103 failed to deploy, so 104 on the 14th shipped it
    assert _row(prs, repo="org/alpha", number=7)["shipped_deployment_id"] == 104
    assert _row(prs, repo="org/alpha", number=7)["lead_hours"] == pytest.approx(128.6)
    assert np.isnan(_row(prs, repo="org/alpha", number=2)["lead_hours"])  # never merged, never shipped
    assert _row(prs, repo="org/beta", number=1)["lead_hours"] == pytest.approx(9.1)  # beta deploys to staging only
    weeks = delivery.team_week_metrics(events, "alpha", WEEKS).set_index("week_start")
    assert weeks["prs_deployed"].tolist() == [2, 4, 0]
    assert weeks.loc[pd.Timestamp(WEEKS[0]), "lead_time_hours"] == pytest.approx((8.6 + 25.1) / 2)
    assert weeks.loc[pd.Timestamp(WEEKS[1]), "lead_time_hours"] == pytest.approx((9.6 + 127.6) / 2)
    assert np.isnan(weeks.loc[pd.Timestamp(WEEKS[2]), "lead_time_hours"])
    month = delivery.period_metrics(events, "alpha", date(2026, 9, 1), date(2026, 9, 30))
    assert month["prs_deployed"] == 6 and month["lead_time_hours"] == pytest.approx((9.6 + 25.1) / 2, abs=0.01)
    assert month["lead_time_hours"] > month["cycle_time_hours"]


def test_dora_tiers_place_each_key_on_the_report_bands(events):
    month = delivery.period_metrics(events, "alpha", date(2026, 9, 1), date(2026, 9, 30))
    tiers = delivery.dora_tiers(month)
    assert tiers["change_failure_rate"]["tier"] == "low"  # 75 %
    assert tiers["lead_time_hours"]["tier"] == "elite"  # 17.35 h: less than one day
    assert tiers["deployment_frequency"]["tier"] == "medium"  # 4 in 30 days: just under once a week
    assert tiers["mttr_hours"]["tier"] == "high" and tiers["mttr_hours"]["band"] == "less than one day"
    from copilot_finops.delivery import dora

    assert dora.tier("change_failure_rate", 0.05) == "elite" and dora.tier("change_failure_rate", 0.051) == "high"
    assert dora.tier("deployment_frequency", 7) == "elite" and dora.tier("deployment_frequency", 0.2) == "low"
    assert dora.tier("mttr_hours", None) is None


def test_review_turnaround_ignores_the_author_and_pending_reviews(events):
    prs = events.prs
    assert _row(prs, repo="org/alpha", number=1)["review_hours"] == pytest.approx(2.0)
    assert _row(prs, repo="org/alpha", number=3)["review_hours"] == pytest.approx(1.0)
    assert np.isnan(_row(prs, repo="org/alpha", number=4)["review_hours"])


def test_only_successful_production_deployments_count(events):
    alpha = events.deployments[events.deployments["repo"] == "org/alpha"]
    assert sorted(alpha["deployment_id"]) == [101, 102, 104, 105]  # 103 failed to deploy, 106 is staging
    beta = events.deployments[events.deployments["repo"] == "org/beta"]
    assert list(beta["deployment_id"]) == [201]  # a repo that never names production counts every environment
    assert _row(alpha, deployment_id=101)["deployed_at"] == T("2026-09-07 17:36")


def test_failed_changes_from_root_cause_and_reverts(events):
    deps = events.deployments.set_index("deployment_id")
    assert deps.loc[102, "failure_reason"] == "revert"  # shipped #3, which #6 reverted after the deploy
    assert deps.loc[104, "failure_reason"] == "incident root cause"  # 7-character root-cause sha
    assert deps.loc[105, "failure_reason"] == "incident root cause"  # squash branch head -> the PR -> its deploy
    assert not deps.loc[101, "failed"]  # only a "bug" issue names it
    assert not deps.loc[201, "failed"]


def test_revert_before_the_deploy_is_not_a_production_failure():
    pulls = _pulls()
    pulls.loc[pulls["number"] == 6, "merged_at"] = T("2026-09-08 21:30")  # reverted before 102 went out
    events = delivery.delivery_events(_inputs(pulls=pulls))
    deps = events.deployments.set_index("deployment_id")
    assert not deps.loc[102, "failed"]


def test_revert_found_by_title_when_the_branch_says_nothing():
    pulls = _pulls()
    pulls.loc[pulls["number"] == 6, "head_ref"] = "bob/undo"
    events = delivery.delivery_events(_inputs(pulls=pulls))
    assert events.deployments.set_index("deployment_id").loc[102, "failure_reason"] == "revert"


def test_incidents_need_the_label_and_keep_a_team_without_root_cause(events):
    inc = events.incidents.set_index("number")
    assert sorted(inc.index) == [50, 51, 53]  # 52 is labelled "bug"
    assert inc.loc[50, "deployment_id"] == 104 and inc.loc[50, "restore_hours"] == pytest.approx(4.0)
    assert np.isnan(inc.loc[51, "deployment_id"]) and inc.loc[51, "team_slug"] == "alpha"
    assert inc.loc[51, "team_source"] == "repo"
    assert np.isnan(inc.loc[53, "restore_hours"])  # still open
    custom = delivery.delivery_events(_inputs(), incident_label="sev2")
    assert list(custom.incidents["number"]) == [51]


def test_weekly_metrics_including_a_week_without_deployments(events):
    weeks = delivery.team_week_metrics(events, "alpha", WEEKS).set_index("week_start")
    w1, w2, w3 = (weeks.loc[pd.Timestamp(d)] for d in WEEKS)
    assert w1["prs_opened"] == 5 and w1["prs_merged"] == 4  # #1, #2, #3, #6, #7 opened; all but #2 merged
    assert w1["cycle_time_hours"] == pytest.approx(15.0)  # median of 6, 24, 1 and 48 hours
    assert w1["review_turnaround_hours"] == pytest.approx(1.5)
    assert w1["deployment_frequency"] == 2 and w1["failed_deployments"] == 1
    assert w1["change_failure_rate"] == pytest.approx(0.5)
    assert w1["incidents"] == 1 and w1["mttr_hours"] == pytest.approx(2.0)
    assert w2["deployment_frequency"] == 2 and w2["change_failure_rate"] == pytest.approx(1.0)
    assert w2["incidents"] == 2 and w2["incidents_restored"] == 1 and w2["mttr_hours"] == pytest.approx(4.0)
    assert w3["deployment_frequency"] == 0 and np.isnan(w3["change_failure_rate"])
    assert w3["prs_merged"] == 0 and np.isnan(w3["cycle_time_hours"]) and np.isnan(w3["mttr_hours"])
    beta = delivery.team_week_metrics(events, "beta", WEEKS).set_index("week_start")
    assert beta["deployment_frequency"].tolist() == [1, 0, 0] and beta["prs_merged"].sum() == 1


def test_period_metrics_use_the_same_definitions(events):
    m = delivery.period_metrics(events, "alpha", date(2026, 9, 1), date(2026, 9, 30))
    assert m["deployments"] == 4 and m["failed_deployments"] == 3
    assert m["change_failure_rate"] == pytest.approx(0.75)
    assert m["deployment_frequency"] == pytest.approx(4 / (30 / 7), abs=0.01)
    assert m["prs_merged"] == 6 and m["prs_opened"] == 7
    assert m["incidents"] == 3 and m["incidents_open"] == 1 and m["mttr_hours"] == pytest.approx(3.0)
    empty = delivery.period_metrics(events, "alpha", date(2026, 9, 21), date(2026, 9, 27))
    assert empty["deployments"] == 0 and empty["change_failure_rate"] is None and empty["cycle_time_hours"] is None


def test_an_org_without_delivery_data_gives_empty_weeks_not_an_error():
    inputs = _inputs()
    empty = delivery.DeliveryInputs(*(frame.iloc[0:0] for frame in (
        inputs.pulls, inputs.reviews, inputs.deployments, inputs.statuses, inputs.incidents, inputs.membership)))
    events = delivery.delivery_events(empty)
    weeks = delivery.team_week_metrics(events, "alpha", WEEKS)
    assert len(weeks) == 3 and weeks["deployment_frequency"].sum() == 0
    assert weeks["change_failure_rate"].isna().all() and weeks["cycle_time_hours"].isna().all()
    m = delivery.period_metrics(events, "alpha", date(2026, 9, 1), date(2026, 9, 30))
    assert m["deployments"] == 0 and m["change_failure_rate"] is None and m["mttr_hours"] is None
