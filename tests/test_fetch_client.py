"""The GitHub client under faults: retries, rate limits, wait budget, downloads, paging, errors.

Every test runs the real ghapi client over real HTTP against the loopback fake; waits run on a
virtual clock shared by client and server, so an hour of rate limiting takes no time.
"""
from __future__ import annotations

import json
from datetime import date

import pytest

from copilot_finops.fetch import FetchConfig, run_fetch
from copilot_finops.fetch.github import GitHubAccessError, GitHubAuthError, WaitBudgetExceeded
from fake_github import FakeGitHub, VirtualClock, make_client, write_tiny_zone

DAYS = ["2026-10-01", "2026-10-02", "2026-10-03"]
TODAY = date(2026, 11, 10)  # a week after the window: nothing is still settling


@pytest.fixture
def tiny(tmp_path):
    return write_tiny_zone(tmp_path / "served", DAYS, users=4, shards=2)


def config(gh, raw, **kw):
    base = dict(org="tiny-org", raw_dir=raw, since=date(2026, 10, 1), until=date(2026, 10, 3), api_url=gh.url,
                today=TODAY, progress=False, kinds=["metrics"])
    return FetchConfig(**{**base, **kw})


def seats_request(client, org="tiny-org"):
    return client.request(client.api.copilot.list_copilot_seats, what="seats", needs="x", org=org, per_page=100, page=1)


def test_5xx_and_dropped_connections_are_retried_with_growing_backoff(tiny):
    clock = VirtualClock()
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh:
        client = make_client(gh, clock)
        gh.script["api"] = ["500", "reset", "502", "503"]
        waits = []
        client._sleep = lambda s: (waits.append(s), clock.sleep(s))
        resp = seats_request(client)
        assert resp.status_code == 200 and json.loads(resp.content)["total_seats"] == 4
        assert client.retries == 4 and gh.count("seats") == 5
        # equal jitter: each wait lies in [step/2, step] with step doubling from 10 ms
        for i, w in enumerate(waits):
            assert 0.01 * 2 ** i / 2 <= w <= 0.01 * 2 ** i
        assert not gh.errors


def test_gives_up_after_max_attempts_with_a_clear_message(tiny):
    clock = VirtualClock()
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh:
        client = make_client(gh, clock, max_attempts=3)
        gh.script["api"] = ["500"] * 5
        with pytest.raises(Exception, match=r"kept failing \(HTTP 500\) after 3 attempts; rerun later"):
            seats_request(client)
        assert gh.count("seats") == 3


def test_primary_rate_limit_waits_until_reset_without_hammering(tiny):
    clock = VirtualClock()
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh:
        client = make_client(gh, clock)
        gh.script["api"] = ["primary"]
        start = clock.time()
        assert seats_request(client).status_code == 200
        reset = int(start) + 1
        assert clock.time() >= reset  # waited until x-ratelimit-reset (plus the margin) ...
        assert [e["status"] for e in gh.log] == [403, 200]  # ... and asked exactly once more


def test_spent_quota_is_waited_out_before_asking(tiny):
    """x-ratelimit-remaining: 0 on a success: the next request waits for the reset instead of drawing a 403."""
    clock = VirtualClock()
    with FakeGitHub(tiny, org="tiny-org", clock=clock, quota=3) as gh:
        client = make_client(gh, clock)
        for _ in range(5):
            assert seats_request(client).status_code == 200
        assert all(e["status"] == 200 for e in gh.log)
        assert clock.slept >= 3600 - 1  # one full window


@pytest.mark.parametrize("fault,status", [("secondary", 403), ("429", 429)])
def test_secondary_limit_and_429_honour_retry_after(tiny, fault, status):
    clock = VirtualClock()
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh:
        client = make_client(gh, clock)
        gh.script["api"] = [fault]
        assert seats_request(client).status_code == 200
        assert [e["status"] for e in gh.log] == [status, 200]
        assert clock.slept >= gh.faults.retry_after


def test_wait_budget_stops_the_run_and_a_rerun_completes(tiny, tmp_path):
    clock = VirtualClock()
    raw = tmp_path / "raw"
    with FakeGitHub(tiny, org="tiny-org", clock=clock, quota=5) as gh:
        doc = run_fetch(config(gh, raw), client=make_client(gh, clock, max_wait=600))
        assert doc["status"] == "stopped"
        assert "--max-wait 600 s" in doc["stopped"] and "rerun the same command after" in doc["stopped"]
        fetched = doc["totals"]["fetched"]
        assert 0 < fetched < 9
        clock.sleep(3600)  # the window resets
        doc = run_fetch(config(gh, raw), client=make_client(gh, clock, max_wait=600))
        assert doc["status"] == "complete" and doc["totals"]["fetched"] + doc["totals"]["skipped"] == 9
        assert doc["totals"]["skipped"] == fetched  # nothing fetched twice


def test_expired_links_are_requested_again_and_downloads_carry_no_token(tiny, tmp_path):
    clock = VirtualClock()
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh:
        gh.script["api"] = ["expired-links"]
        doc = run_fetch(config(gh, tmp_path / "raw", kinds=["users-1-day"]), client=make_client(gh, clock))
        assert doc["status"] == "complete" and doc["kinds"]["users-1-day"]["retried"] == 1
        assert gh.count("users-1-day", query={"day": "2026-10-01"}) == 2  # fresh links for the first day
        downloads = [e for e in gh.log if e["path"].startswith("/download/")]
        assert downloads and not any(e["auth"] for e in downloads)
        assert [e["status"] for e in downloads].count(403) == 1  # the stale link was refused once, then fresh ones


@pytest.mark.parametrize("fault", ["truncated", "truncated-unsized"])
def test_truncated_shard_is_requested_again(tiny, tmp_path, fault):
    clock = VirtualClock()
    raw = tmp_path / "raw"
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh:
        gh.script["download"] = [None, fault]  # the second shard of the first day breaks off
        doc = run_fetch(config(gh, raw, kinds=["users-1-day"]), client=make_client(gh, clock))
        assert doc["status"] == "complete"
        assert gh.count("users-1-day", query={"day": "2026-10-01"}) == 2
    for day in DAYS:
        got = b"".join((raw / f"metrics/users-1-day/{day}/part-{i}.ndjson").read_bytes() for i in range(2))
        want = b"".join((tiny / f"metrics/users-1-day/{day}/part-{i}.ndjson").read_bytes() for i in range(2))
        assert got == want


def test_slow_answer_times_out_and_is_retried(tiny):
    clock = VirtualClock()
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh:
        gh.faults.slow_seconds = 0.6
        client = make_client(gh, clock, timeout=0.2)
        gh.script["api"] = ["slow"]
        assert seats_request(client).status_code == 200
        assert client.retries == 1 and gh.count("seats") == 2


@pytest.mark.parametrize("seats,requests", [(250, 3), (200, 2), (0, 1)])
def test_seats_are_paged_by_total_seats(tmp_path, seats, requests):
    served = write_tiny_zone(tmp_path / "served", DAYS, users=2, seats=seats)
    clock = VirtualClock()
    with FakeGitHub(served, org="tiny-org", clock=clock) as gh:
        pages = make_client(gh, clock).seat_pages("tiny-org")
        assert gh.count("seats") == requests  # ghapi's `paged` would walk 9,999 pages here
        assert sum(len(p["seats"]) for p in pages) == seats and all(p["total_seats"] == seats for p in pages)


def test_refusals_name_the_missing_permission_and_other_kinds_go_on(tiny, tmp_path):
    clock = VirtualClock()
    deny = {r"/copilot/metrics/reports/": 403, r"/settings/billing/": 403}
    with FakeGitHub(tiny, org="tiny-org", clock=clock, deny=deny) as gh:
        doc = run_fetch(config(gh, tmp_path / "raw", kinds=["users-1-day", "seats", "billing"]),
                        client=make_client(gh, clock))
    assert doc["status"] == "incomplete"
    users = doc["kinds"]["users-1-day"]
    assert users["failed"] == 3 and gh.count("users-1-day") == 1  # stopped at the first refusal
    assert '"Organization Copilot metrics"' in users["errors"][0] and "read:org" in users["errors"][0]
    assert doc["kinds"]["seats"]["fetched"] == 1
    assert "classic token with billing rights" in doc["kinds"]["ai-credit-usage"]["errors"][0]


def test_404_names_the_org_and_401_stops_the_run(tiny, tmp_path):
    clock = VirtualClock()
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh:
        doc = run_fetch(config(gh, tmp_path / "raw", org="no-such-org", kinds=["seats"]), client=make_client(gh, clock))
        assert "404" in doc["kinds"]["seats"]["errors"][0] and "check --org" in doc["kinds"]["seats"]["errors"][0]
        with pytest.raises(GitHubAuthError, match="rejected the token from GITHUB_TOKEN"):
            run_fetch(config(gh, tmp_path / "raw"), client=make_client(gh, clock, token="ghp_wrong"))
        with pytest.raises(GitHubAccessError):
            seats_request(make_client(gh, clock), org="nope")


def test_wait_budget_error_type(tiny):
    clock = VirtualClock()
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh:
        gh.script["api"] = ["primary"]
        with pytest.raises(WaitBudgetExceeded, match="rerun the same command after"):
            seats_request(make_client(gh, clock, max_wait=0.1))
