"""The detector pipeline on small hand-built populations: each pattern at a moderate size present or absent,
its label and its evidence, healthy heavy use left alone, peer scaling within the segment, determinism."""
from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from copilot_finops.patterns import PATTERN_NAMES, evidence, evidence_text, label_features
from copilot_finops.patterns.features import user_week_features
from copilot_finops.patterns.catalog import PATTERNS
from copilot_finops.patterns.model import PeerScaler


def normal_week(rng: np.random.Generator, segment: str, i: int) -> dict:
    """A plausible week: SREs use the CLI heavily by role, backend developers rarely."""
    scale = float(rng.lognormal(0, 0.3))
    interactions = int(rng.poisson(25 * scale)) + 1
    agent = int(rng.poisson(15 * scale))
    gen_excl = int(rng.poisson(180 * scale)) + 5
    acc = int(gen_excl * float(np.clip(rng.normal(0.31, 0.05), 0.15, 0.5)))
    cli_user = segment == "platform_sre" or rng.random() < 0.2
    prompts = int(rng.poisson((40 if segment == "platform_sre" else 8) * scale)) + 1 if cli_user else 0
    requests = int(prompts * rng.uniform(3, 6))
    activity = interactions + gen_excl + agent + requests
    off = activity * float(rng.uniform(0.05, 0.3)) if rng.random() < 0.07 else 0.0
    opened = int(rng.poisson(2.5))
    return {
        "case": "ordinary", "user_login": f"{segment}-{i // 12}", "team_slug": segment.replace("_", "-"),
        "segment": segment, "week_start": date(2026, 7, 6) + timedelta(weeks=i % 12),
        "interactions": interactions, "generations": gen_excl + agent, "generations_excl_agent_edit": gen_excl,
        "acceptances_excl_agent_edit": acc, "agent_edit_generations": agent, "loc_suggested": gen_excl * 4,
        "loc_added": acc * 4 + agent * 18, "ai_credits_used": interactions * 4.0 + requests * 2.5,
        "cli_requests": requests, "cli_prompts": prompts, "cli_tokens": requests * int(rng.normal(8000, 800)),
        "off_window_activity": off, "off_window_days": int(off > 0), "prs_opened": opened,
        "prs_opened_unmerged": int(rng.binomial(opened, 0.1)),
        "merged_prs_same_week": int(rng.poisson(2.2)), "merged_prs_next_week": int(rng.poisson(2.2)), "duplicate_prs": 0,
    }


def inject(week: dict, pattern: str) -> dict:
    """Turn a normal week into one with the pattern at a moderate size, the way such a week looks in telemetry:
    retries at 0.35x the acceptance with 2.5x the prompts, 45 % of the week off-window over a weekend, CLI loops
    at 6x the requests per prompt.

    The week is the 13th of a developer with twelve ordinary weeks: patterns are judged on habits.
    """
    w = dict(week, case=pattern, week_start=date(2026, 7, 6) + timedelta(weeks=12))
    if pattern == "retry_no_accept":
        w.update(interactions=int(max(w["interactions"], 25) * 2.5),
                 acceptances_excl_agent_edit=int(w["acceptances_excl_agent_edit"] * 0.35))
    elif pattern == "unmerged_output":
        w.update(loc_added=w["loc_added"] * 4, prs_opened=4, prs_opened_unmerged=4, merged_prs_same_week=0)
    elif pattern == "off_window":
        activity = w["interactions"] + w["generations"] + w["cli_prompts"]
        w.update(off_window_activity=0.45 * activity, off_window_days=2)
    elif pattern == "duplicate_work":
        w.update(duplicate_prs=2)
    elif pattern == "cli_token_loop":
        w.update(cli_requests=w["cli_requests"] * 6, cli_tokens=w["cli_tokens"] * 6)
    return w


def population(seed: int = 3, inject_patterns: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [normal_week(rng, seg, i) for seg in ("platform_sre", "backend_services") for i in range(150)]
    if inject_patterns:
        for pattern in PATTERN_NAMES:
            segment = "platform_sre" if pattern == "cli_token_loop" else "backend_services"
            developer = PATTERN_NAMES.index(pattern)  # each pattern in another developer's 13th week
            rows.append(inject(normal_week(rng, segment, 12 * developer), pattern))
        # Healthy heavy use: an SRE automating incidents, three times the CLI volume, accepted and merged.
        heavy = normal_week(rng, "platform_sre", 12 * 7)
        heavy.update(case="healthy-heavy", week_start=date(2026, 7, 6) + timedelta(weeks=12),
                     cli_prompts=heavy["cli_prompts"] * 3,
                     cli_requests=heavy["cli_requests"] * 3, cli_tokens=heavy["cli_tokens"] * 3,
                     ai_credits_used=heavy["ai_credits_used"] * 3, merged_prs_same_week=4,
                     acceptances_excl_agent_edit=int(heavy["generations_excl_agent_edit"] * 0.42))
        rows.append(heavy)
    return user_week_features(pd.DataFrame(rows))


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    return label_features(population(), random_state=0)


@pytest.mark.parametrize("pattern", PATTERN_NAMES)
def test_each_injected_pattern_gets_its_label(labelled, pattern):
    row = labelled[labelled["case"] == pattern].iloc[0]
    assert row["flagged"], "the anomaly forest should flag a week this far from its peers"
    assert row["pattern"] == pattern


def test_ordinary_weeks_rarely_and_healthy_heavy_weeks_never_carry_a_pattern(labelled):
    """Each pattern needs several measures past two robust spreads at once (about one week in a thousand by
    chance when they move independently, as every week of this population does) or one past three."""
    ordinary = labelled.loc[labelled["case"] == "ordinary", "pattern"]
    assert (ordinary != "").sum() <= 0.01 * len(ordinary)
    heavy = labelled[labelled["case"] == "healthy-heavy"].iloc[0]
    assert heavy["pattern"] == ""


def test_a_population_without_patterns_gets_almost_no_labels():
    clean = label_features(population(seed=11, inject_patterns=False), random_state=0)
    assert clean["flagged"].sum() > 0  # the forest always picks its most unusual share ...
    assert (clean["pattern"] != "").sum() <= 0.01 * len(clean)  # ... but unusual is not wasteful


def test_evidence_names_the_patterns_features_with_peer_medians(labelled):
    row = labelled[labelled["case"] == "retry_no_accept"].iloc[0]
    items = evidence(row, "retry_no_accept")
    assert [e["feature"] for e in items[:3]] == ["accepted_output_ratio", "acceptance_vs_usual", "interactions_vs_usual"]
    ratio = items[0]
    assert ratio["value"] < 0.15 and 0.25 < ratio["peer_median"] < 0.35
    assert items[2]["value"] > 2 * items[2]["peer_median"]  # prompts, against the developer's usual week
    assert set(items[0]) == {"feature", "value", "peer_median"}
    text = evidence_text(items)
    assert re.search(r"accepted-output ratio \d+% \(segment median (2\d|3[0-5])%\)", text), text
    assert re.search(r"prompts, against the developer's usual week \d\.\dx", text), text

    loop = labelled[labelled["case"] == "cli_token_loop"].iloc[0]
    first = evidence(loop, "cli_token_loop")[0]
    assert first["feature"] == "cli_requests_per_prompt" and first["value"] > 15
    assert first["peer_median"] < 6  # judged against SREs, whose CLI use is heavy but not loopy


def test_every_pattern_has_conditions_on_known_features():
    from copilot_finops.patterns.features import FEATURES

    assert [p.name for p in PATTERNS] == list(PATTERN_NAMES)
    for p in PATTERNS:
        for c in p.conditions:
            assert c.feature in FEATURES and (c.median_of is None or c.median_of in FEATURES)


def test_peer_scaling_judges_cli_volume_within_the_role_segment():
    frame = population(inject_patterns=False)
    scaler = PeerScaler().fit(frame)
    sre_median = frame.loc[frame["segment"] == "platform_sre", "cli_requests"].median()
    probe = pd.DataFrame([
        {**frame.iloc[0].to_dict(), "segment": "platform_sre", "cli_requests": sre_median},
        {**frame.iloc[0].to_dict(), "segment": "backend_services", "cli_requests": sre_median},
    ])
    z = scaler.transform(probe)["cli_requests"]
    assert abs(z.iloc[0]) < 0.5  # ordinary among SREs
    assert z.iloc[1] > 3  # far out among backend developers
    medians = scaler.peer_medians(probe)["cli_requests"]
    assert medians.iloc[0] == pytest.approx(sre_median)


def test_small_segments_are_scaled_against_the_whole_org():
    frame = population(inject_patterns=False)
    frame.loc[frame.index[:5], "segment"] = "unassigned"
    scaler = PeerScaler(min_peers=20).fit(frame)
    assert "unassigned" not in scaler.segments_
    assert scaler.peer_stats("unassigned") is scaler.org_


def test_a_developer_without_history_is_scored_but_not_labelled():
    frame = population()
    newcomer = frame["case"] == "retry_no_accept"
    frame.loc[newcomer, "user_login"] = "joined-this-week"
    frame = user_week_features(frame)  # weeks_active is recounted: one week for the newcomer
    row = label_features(frame, random_state=0).loc[newcomer].iloc[0]
    assert row["weeks_active"] == 1 and row["flagged"]
    assert row["pattern"] == ""


def test_the_detector_is_deterministic_for_a_fixed_random_state():
    frame = population(seed=5)
    first = label_features(frame, random_state=7)
    second = label_features(frame, random_state=7)
    pd.testing.assert_frame_equal(first, second)
    assert first["score"].nunique() > 10  # a real score, not a constant
