"""Per user-week features of the high-burn detector, on small hand-built frames."""
from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from copilot_finops.params import DeliveryWindows
from copilot_finops.patterns.features import (
    FEATURES, full_weeks, near_duplicate_prs, team_week_features, user_week_features,
)


def prs(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["author_login", "repo", "title", "head_ref", "created_at"])


def test_near_duplicates_match_across_authors_and_repos_only_within_the_window():
    frame = prs(
        ("ana", "org/payments", "Add exponential backoff wrapper for outbound HTTP client calls",
         "ana/add-exponential-backoff-wrapper-for-outbound", datetime(2026, 9, 1, 10)),
        ("bo", "org/orders", "Add exponential backoff wrapper for outbound HTTP client calls",
         "bo/add-exponential-backoff-wrapper-for-outbound", datetime(2026, 9, 3, 15)),
        # the same task a month later is not "the same days"
        ("cy", "org/web", "Add exponential backoff wrapper for outbound HTTP client calls",
         "cy/add-exponential-backoff-wrapper-for-outbound", datetime(2026, 10, 5, 9)),
        ("dee", "org/web", "Fix cart parser for empty input (WS-1234)", "dee/fix-cart-parser", datetime(2026, 9, 2, 9)),
    )
    dups = near_duplicate_prs(frame)
    assert sorted(dups["author_login"]) == ["ana", "bo"]
    assert set(dups["match_repo"]) == {"org/payments", "org/orders"}
    assert (dups["similarity"] > 0.99).all()
    assert set(dups["week_start"]) == {date(2026, 8, 31)}


def test_near_duplicates_ignore_rework_in_the_same_repo_reverts_and_titles_that_share_words():
    frame = prs(
        ("ana", "org/payments", "Cache ledger handler for EU region (PA-1200)", "ana/cache-ledger-handler-for-eu-region",
         datetime(2026, 9, 1, 10)),
        ("ana", "org/payments", "Cache ledger handler for EU region (PA-1200)", "ana/cache-ledger-handler-v2",
         datetime(2026, 9, 2, 10)),  # reworked by the same author: not duplicate work
        ("bo", "org/orders", 'Revert "Cache ledger handler for EU region (PA-1200)"', "revert-12",
         datetime(2026, 9, 2, 12)),  # a revert repeats the title by design
        ("cy", "org/web", "Cache ledger query on timeout (WS-877)", "cy/cache-ledger-query-on-timeout",
         datetime(2026, 9, 2, 14)),  # shares words, different work
    )
    assert near_duplicate_prs(frame).empty


def test_the_same_request_in_two_repositories_by_one_author_is_duplicate_work():
    frame = prs(
        ("ana", "org/payments", "Create terraform module for standard service alerts",
         "ana/create-terraform-module-for-standard-service", datetime(2026, 9, 1, 10)),
        ("ana", "org/orders", "Create terraform module for standard service alerts",
         "ana/create-terraform-module-for-standard-service", datetime(2026, 9, 2, 10)),
    )
    assert sorted(near_duplicate_prs(frame)["repo"]) == ["org/orders", "org/payments"]


def test_a_short_title_inside_a_longer_one_is_compared_and_found_no_duplicate():
    """Two PRs sharing their rarest word are compared; below the threshold neither matches (no error either).

    A new org's first weeks hold few PRs, so a one-word title is often all a pair shares.
    """
    frame = prs(
        ("ana", "org/web", "Fix login page", "ana/fix", datetime(2026, 7, 27, 10)),
        ("bo", "org/web", "page", "bo/fix", datetime(2026, 7, 28, 10)),
    )
    assert near_duplicate_prs(frame).empty


def test_near_duplicates_of_an_empty_frame():
    assert near_duplicate_prs(prs()).empty


def week_sums(**overrides) -> dict:
    row = {
        "user_login": "u1", "team_slug": "payments-api", "segment": "backend_services", "week_start": date(2026, 9, 7),
        "interactions": 20, "generations": 200, "generations_excl_agent_edit": 180, "acceptances_excl_agent_edit": 54,
        "agent_edit_generations": 20, "loc_suggested": 800, "loc_added": 400, "ai_credits_used": 150.0,
        "cli_requests": 0, "cli_prompts": 0, "cli_tokens": 0, "off_window_activity": 0, "prs_opened": 2,
        "prs_opened_unmerged": 0, "merged_prs_same_week": 2, "merged_prs_next_week": 1, "duplicate_prs": 0,
    }
    row.update(overrides)
    return row


def test_ratios_leave_out_agent_edits_and_guard_against_zero():
    frame = user_week_features(pd.DataFrame([
        week_sums(),
        week_sums(user_login="u2", acceptances_excl_agent_edit=0, cli_requests=350, cli_prompts=10, cli_tokens=3_500_000,
                  off_window_activity=110, prs_opened=0),
    ]))
    first, second = frame.iloc[0], frame.iloc[1]
    assert first["accepted_output_ratio"] == pytest.approx(54 / 180)  # agent_edit's 20 generations left out
    assert first["loc_added_per_suggested"] == pytest.approx(0.5)
    assert first["credits_per_accepted_output"] == pytest.approx(150 / 54)
    assert np.isnan(first["cli_requests_per_prompt"]) and np.isnan(first["cli_tokens_per_accepted_output"])
    assert first["unmerged_share"] == 0.0 and first["off_window_share"] == 0.0
    assert second["accepted_output_ratio"] == 0.0
    assert second["credits_per_accepted_output"] == pytest.approx(150.0)  # divided by one, not by zero
    assert second["cli_requests_per_prompt"] == pytest.approx(35.0)
    # CLI prompts, not requests: the agent's automated follow-ups are not the developer's activity
    assert second["activity"] == 20 + 200 + 10
    assert second["off_window_share"] == pytest.approx(110 / 230)
    assert np.isnan(second["unmerged_share"])
    assert set(FEATURES) <= set(frame.columns)
    assert list(frame["weeks_active"]) == [1, 1]
    assert all(frame[f].dtype == "float64" for f in FEATURES)


def test_team_week_features_recompute_ratios_from_sums():
    frame = user_week_features(pd.DataFrame([
        week_sums(), week_sums(user_login="u2", generations_excl_agent_edit=20, acceptances_excl_agent_edit=18),
    ]))
    team = team_week_features(frame)
    assert len(team) == 1
    row = team.iloc[0]
    assert row["users"] == 2
    assert row["accepted_output_ratio"] == pytest.approx((54 + 18) / (180 + 20))  # not the mean of 0.3 and 0.9


def test_full_weeks_are_monday_to_sunday_inside_the_window():
    assert full_weeks(date(2026, 7, 4), date(2026, 7, 26)) == [date(2026, 7, 6), date(2026, 7, 13), date(2026, 7, 20)]
    assert full_weeks(date(2026, 7, 6), date(2026, 7, 11)) == []


def test_off_window_days_cover_weekends_holidays_and_freezes():
    windows = DeliveryWindows(holidays=[date(2026, 9, 7)],
                              change_freezes=[{"start": date(2026, 9, 9), "end": date(2026, 9, 10), "reason": "release"}])
    days = windows.off_window_days(date(2026, 9, 7), date(2026, 9, 13))
    assert days == [date(2026, 9, 7), date(2026, 9, 9), date(2026, 9, 10), date(2026, 9, 12), date(2026, 9, 13)]
    assert DeliveryWindows(weekends_off=False).off_window_days(date(2026, 9, 7), date(2026, 9, 13)) == []
    friday_saturday = DeliveryWindows(weekend_days=["fri", "sat"]).off_window_days(date(2026, 9, 7), date(2026, 9, 13))
    assert friday_saturday == [date(2026, 9, 11), date(2026, 9, 12)]


def test_change_freezes_accept_the_older_pair_form_and_reject_reversed_ranges():
    windows = DeliveryWindows(change_freezes=[[date(2026, 12, 20), date(2027, 1, 3)]])
    assert windows.change_freezes[0].end == date(2027, 1, 3)
    with pytest.raises(ValueError, match="ends on or after its start"):
        DeliveryWindows(change_freezes=[{"start": date(2026, 12, 20), "end": date(2026, 12, 1)}])


def test_near_duplicates_equal_an_all_pairs_comparison_on_many_similar_titles():
    """The prefix-filtered search must find exactly what comparing every pair finds."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from copilot_finops.patterns.features import DUPLICATE_SIMILARITY

    rng = np.random.default_rng(3)
    words = ["add", "fix", "cache", "ledger", "retry", "client", "timeout", "parser", "alerts", "module", "eu", "us"]
    bases = [" ".join(rng.choice(words, size=rng.integers(3, 7))) for _ in range(60)]
    rows = []
    for k in range(400):  # a base title, sometimes with a word more: exact copies and near misses
        title = bases[rng.integers(len(bases))] + (" " + rng.choice(words) if rng.random() < 0.5 else "")
        rows.append((f"u{rng.integers(12)}", f"org/r{rng.integers(4)}", title, f"u/{title.replace(' ', '-')}",
                     datetime(2026, 9, 1) + pd.Timedelta(hours=int(rng.integers(24 * 30)))))
    frame = prs(*rows)
    found = near_duplicate_prs(frame)
    # Brute force: every pair, dense.
    branch = frame["head_ref"].str.split("/", n=1).str[-1].str.replace(r"[-_/]+", " ", regex=True)
    x = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform((frame["title"] + " " + branch).str.lower())
    sims = (x @ x.T).toarray()
    created = frame["created_at"].to_numpy()
    near = np.abs(created[:, None] - created[None, :]) <= np.timedelta64(7, "D")
    other = ((frame["author_login"].to_numpy()[:, None] != frame["author_login"].to_numpy()[None, :])
             | (frame["repo"].to_numpy()[:, None] != frame["repo"].to_numpy()[None, :]))
    best = np.where(near & other, sims, 0).max(axis=1)
    expected = frame.loc[best >= DUPLICATE_SIMILARITY - 1e-12]
    assert len(expected) > 20  # the vocabulary is small enough that many titles repeat
    assert sorted(zip(found["author_login"], found["created_at"])) == sorted(
        zip(expected["author_login"], expected["created_at"]))
    np.testing.assert_allclose(np.sort(found["similarity"]), np.sort(best[best >= DUPLICATE_SIMILARITY - 1e-12]))
