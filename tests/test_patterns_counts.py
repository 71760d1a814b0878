"""Counting evidence (patterns.counts) and the pattern rules that rest on it: calibrated on ordinary weeks,
clear on a moderate drop in a busy week, quiet on a noisy low-volume week; off-window weeks that lean on
their off-window days, not weekends worked like weekdays; unmerged shares of the PRs whose fate is known."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from copilot_finops.patterns import label_features
from copilot_finops.patterns.counts import nearby_sums, overdispersion, rate_z
from copilot_finops.patterns.features import user_week_features

from test_patterns_model import normal_week, population

MONDAY = date(2026, 7, 6)


def counts_population(rng: np.random.Generator, jitter: float, developers: int = 40, weeks: int = 12) -> pd.DataFrame:
    """Developers with their own acceptance rate; each week's rate moves by `jitter` (task mix) around it."""
    rows = []
    for d in range(developers):
        own = float(rng.beta(12, 26))  # about 0.3, from 0.15 to 0.5
        for w in range(weeks):
            n = int(rng.poisson(rng.choice([15, 60, 250])))
            rate = float(np.clip(own * rng.lognormal(0, jitter), 0.01, 0.95))
            rows.append({"user": f"d{d}", "week": MONDAY + timedelta(weeks=w), "own": own, "n": n,
                         "s": int(rng.binomial(n, rate))})
    return pd.DataFrame(rows)


def score(frame: pd.DataFrame) -> pd.Series:
    return rate_z(frame["s"], frame["n"], frame["user"], frame["week"], pd.Series("seg", index=frame.index), span=4)


@pytest.mark.parametrize("jitter", [0.0, 0.25])
def test_ordinary_weeks_seldom_reach_three_standard_errors(jitter):
    """Binomial weeks, and weeks whose rate also moves from week to week: the overdispersion estimated from the
    segment keeps the score calibrated, so three standard errors short stays about as rare as chance says."""
    frame = counts_population(np.random.default_rng(7), jitter)
    z = score(frame)
    assert z.notna().mean() > 0.95
    assert (z <= -3).mean() <= 0.01
    assert 0.6 < z.std() < 1.4


def test_overdispersion_is_found_only_when_rates_move():
    binomial = counts_population(np.random.default_rng(1), 0.0)
    moving = counts_population(np.random.default_rng(1), 0.4)
    def rho(frame):
        expected = frame["own"]
        r2 = (frame["s"] - frame["n"] * expected) ** 2 / (frame["n"] * expected * (1 - expected))
        return overdispersion(r2.to_numpy(), frame["n"].to_numpy(dtype=float))
    assert rho(binomial) < 0.01
    assert rho(moving) > 0.02


def test_a_moderate_drop_in_a_busy_week_is_clear_and_a_small_week_is_not():
    frame = counts_population(np.random.default_rng(3), 0.15)
    dev = frame[frame["user"] == "d0"].index
    own = frame.loc[dev[0], "own"]
    busy, small = dev[5], dev[8]
    frame.loc[busy, ["n", "s"]] = [200, round(200 * own * 0.35)]  # 0.35x the developer's rate over 200 outputs
    frame.loc[small, ["n", "s"]] = [6, 0]  # nothing accepted of 6: a ratio of 0, but little evidence
    z = score(frame)
    assert z[busy] <= -3  # past the one-feature z the retry pattern needs
    assert z[small] > -3


def test_the_week_judged_is_not_in_its_own_yardstick():
    """The expected rate comes from the developer's other weeks nearby and from other developers, never from the
    week itself: one extreme week scores the same whatever its own size."""
    frame = counts_population(np.random.default_rng(5), 0.1)
    i = frame[frame["user"] == "d2"].index[6]
    frame.loc[i, ["n", "s"]] = [100, 5]
    first = score(frame)[i]
    frame.loc[i, ["n", "s"]] = [10_000, 500]  # same rate, a hundred times the volume
    assert score(frame)[i] < first  # more evidence of the same shortfall, not a moved baseline
    sums = nearby_sums(frame["n"].astype(float), frame["user"], frame["week"], span=4)
    mine = frame[frame["user"] == "d2"]
    near = mine[[abs((w - frame.loc[i, "week"]).days) <= 28 and j != i for j, w in zip(mine.index, mine["week"])]]
    assert sums[i] == near["n"].sum()


def test_retries_rest_on_accepted_counts_not_on_a_prompt_spike_alone():
    """A busy week (prompts far above the usual) whose acceptance dips a little is not a retry week; a week at
    0.35x the developer's acceptance with only 1.7x the prompts is."""
    rng = np.random.default_rng(21)
    rows = population(seed=21, inject_patterns=False).loc[:, :"duplicate_prs"].to_dict("records")
    busy = normal_week(rng, "backend_services", 12 * 3)
    busy.update(case="busy", week_start=MONDAY + timedelta(weeks=12), interactions=busy["interactions"] * 4,
                acceptances_excl_agent_edit=int(busy["acceptances_excl_agent_edit"] * 0.85))
    retry = normal_week(rng, "backend_services", 12 * 5)
    retry.update(case="retry", week_start=MONDAY + timedelta(weeks=12),
                 interactions=int(max(retry["interactions"], 25) * 1.7),
                 acceptances_excl_agent_edit=int(retry["acceptances_excl_agent_edit"] * 0.35))
    labelled = label_features(user_week_features(pd.DataFrame(rows + [busy, retry])), random_state=0)
    assert labelled.loc[labelled["case"] == "busy", "pattern"].iloc[0] == ""
    row = labelled[labelled["case"] == "retry"].iloc[0]
    assert row["pattern"] == "retry_no_accept"
    assert row["acceptance_z"] <= -3


def test_off_window_weeks_lean_on_their_off_window_days():
    """Both weekend days worked at a weekday's pace (38 % of a five-day week) is not off-window use; the same
    share over a week of seven active days, each weekend day twice a weekday, is."""
    rng = np.random.default_rng(4)
    rows = population(seed=4, inject_patterns=False).loc[:, :"duplicate_prs"].to_dict("records")
    cases = []
    for case, active_days in (("like-weekdays", 5), ("leaning", 7)):
        w = normal_week(rng, "backend_services", 12 * len(cases))
        w["interactions"] += 150  # a full week: the off-window part is no stray prompt
        activity = w["interactions"] + w["generations"] + w["cli_prompts"]
        w.update(case=case, week_start=MONDAY + timedelta(weeks=12), off_window_activity=0.38 * activity,
                 off_window_days=2, active_days=active_days)
        cases.append(w)
    frame = pd.DataFrame(rows + cases)
    frame["active_days"] = frame["active_days"].fillna(5 + frame["off_window_days"])
    labelled = label_features(user_week_features(frame), random_state=0).set_index("case", drop=False)
    assert labelled.loc["like-weekdays", "off_window_day_ratio"] == pytest.approx(0.38 / 2 / (0.62 / 3))
    assert labelled.loc["like-weekdays", "pattern"] == ""
    assert labelled.loc["leaning", "off_window_day_ratio"] > 1.5
    assert labelled.loc["leaning", "pattern"] == "off_window"


def test_unmerged_share_counts_only_prs_whose_fate_is_known():
    from test_patterns_features import week_sums

    frame = user_week_features(pd.DataFrame([
        week_sums(prs_opened=3, prs_opened_unmerged=2, prs_opened_settled=2),  # the third is open and young
        week_sums(user_login="u2", prs_opened=3, prs_opened_unmerged=2, prs_opened_settled=3),
    ]))
    assert list(frame["unmerged_share"]) == [pytest.approx(1.0), pytest.approx(2 / 3)]


def test_nearby_weeks_of_all_developers_at_once_are_each_developers_own_nearby_weeks():
    """`usual` and `nearby_sums` work on a grid of every developer at once (an org of 30,000 is a few array
    operations); they must give what looking at one developer's weeks at a time gives, with gaps between
    weeks, two rows in one week, missing values and rows without a developer."""
    import warnings

    from copilot_finops.patterns.features import usual

    rng = np.random.default_rng(11)
    n = 600
    users = pd.Series(rng.choice(["ana", "bo", "cy", "dee", None], size=n, p=[0.3, 0.3, 0.2, 0.15, 0.05]))
    weeks = pd.Series([date(2026, 6, 1) + timedelta(weeks=int(k)) for k in rng.integers(0, 30, n)])
    values = pd.Series(np.where(rng.random(n) < 0.1, np.nan, rng.poisson(5, n).astype(float)))
    ordinal = np.array([w.toordinal() // 7 for w in weeks])
    for span in (1, 4):
        want_median, want_sum = np.full(n, np.nan), np.zeros(n)
        for i in range(n):
            if users[i] is None:
                continue
            near = [values[j] for j in range(n) if j != i and users[j] == users[i]
                    and abs(ordinal[j] - ordinal[i]) <= span and not np.isnan(values[j])]
            want_sum[i] = sum(near)
            if near:
                want_median[i] = float(np.median(near))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            got = usual(values, users, weeks, span).to_numpy()
        assert np.array_equal(np.isnan(got), np.isnan(want_median))
        assert np.allclose(got[~np.isnan(got)], want_median[~np.isnan(want_median)])
        assert np.allclose(nearby_sums(values, users, weeks, span).to_numpy(), want_sum)
        assert (~np.isnan(want_median)).sum() > 300 and (want_sum > 0).sum() > 300  # not vacuous
