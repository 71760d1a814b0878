"""Incremental fetching: skips, the three settling days, gaps, 204 days, windows and GitHub's limits."""
from __future__ import annotations

import json
from datetime import date

import pytest

from copilot_finops.errors import UserError
from copilot_finops.fetch import FetchConfig, estimate_requests, run_fetch
from copilot_finops.fetch.rawzone import RawZone
from fake_github import FakeGitHub, VirtualClock, make_client, write_tiny_zone

DAYS = [f"2026-10-0{d}" for d in range(1, 9)]


@pytest.fixture
def tiny(tmp_path):
    return write_tiny_zone(tmp_path / "served", DAYS, users=3)


def fetch(gh, clock, raw, **kw):
    base = dict(org="tiny-org", raw_dir=raw, since=date(2026, 10, 1), until=date(2026, 10, 8), api_url=gh.url,
                today=date(2026, 11, 10), progress=False, kinds=["metrics"])
    return run_fetch(FetchConfig(**{**base, **kw}), client=make_client(gh, clock))


def days_asked(gh, kind="users-1-day"):
    return [e["query"].get("day") for e in gh.log if e["path"].endswith("/" + kind)]


def test_rerun_skips_complete_days_and_repulls_the_last_three(tiny, tmp_path):
    clock, raw = VirtualClock(), tmp_path / "raw"
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh:
        doc = fetch(gh, clock, raw, today=date(2026, 10, 10))
        assert doc["totals"]["fetched"] == 24 and doc["status"] == "complete"
        gh.log.clear()
        doc = fetch(gh, clock, raw, today=date(2026, 10, 10))
        assert days_asked(gh) == ["2026-10-07", "2026-10-08"]  # today-3 .. today-1, within the window
        assert doc["kinds"]["users-1-day"]["skipped"] == 6 and doc["kinds"]["users-1-day"]["fetched"] == 2
        gh.log.clear()
        doc = fetch(gh, clock, raw)  # a month later nothing is settling any more
        assert gh.log == [] and doc["totals"]["skipped"] == 24
    for day in DAYS:
        assert (raw / f"metrics/users-1-day/{day}/part-0.ndjson").read_bytes() == \
               (tiny / f"metrics/users-1-day/{day}/part-0.ndjson").read_bytes()


def test_gaps_are_back_filled_and_damaged_files_fetched_again(tiny, tmp_path):
    clock, raw = VirtualClock(), tmp_path / "raw"
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh:
        fetch(gh, clock, raw)
        for part in (raw / "metrics/users-1-day/2026-10-03").iterdir():
            part.unlink()
        with open(raw / "metrics/users-1-day/2026-10-05/part-0.ndjson", "ab") as f:
            f.write(b"\n")  # one byte off: the manifest checksum no longer matches
        gh.log.clear()
        doc = fetch(gh, clock, raw)
        assert days_asked(gh) == ["2026-10-03", "2026-10-05"]
        assert any("back-filled 2 missing day(s)" in n for n in doc["notes"])
    assert (raw / "metrics/users-1-day/2026-10-05/part-0.ndjson").read_bytes() == \
           (tiny / "metrics/users-1-day/2026-10-05/part-0.ndjson").read_bytes()


def test_204_days_are_recorded_and_asked_again_only_while_settling(tiny, tmp_path):
    clock, raw = VirtualClock(), tmp_path / "raw"
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh:
        doc = fetch(gh, clock, raw, since=date(2026, 9, 28), until=date(2026, 10, 2), kinds=["users-1-day"])
        assert doc["kinds"]["users-1-day"]["empty"] == 3 and doc["kinds"]["users-1-day"]["fetched"] == 2
        empty = [line for line in RawZone(raw).read_manifest() if line.get("status") == 204]
        assert sorted(line["day"] for line in empty) == ["2026-09-28", "2026-09-29", "2026-09-30"]
        assert all(set(line) == {"kind", "day", "status", "fetched_at", "source"} for line in empty)
        gh.log.clear()
        fetch(gh, clock, raw, since=date(2026, 9, 28), until=date(2026, 10, 2), kinds=["users-1-day"])
        assert gh.log == []  # settled 204 days are not asked again
        fetch(gh, clock, raw, since=date(2026, 9, 28), until=date(2026, 9, 30), kinds=["users-1-day"],
              today=date(2026, 10, 1))
        assert days_asked(gh) == ["2026-09-28", "2026-09-29", "2026-09-30"]  # "not yet" may still change


def test_window_defaults_floors_and_the_one_year_limit(tiny, tmp_path):
    clock = VirtualClock()
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh:
        doc = fetch(gh, clock, tmp_path / "a", since=None, until=None, today=date(2026, 10, 10), kinds=["users-1-day"])
        assert (doc["since"], doc["until"]) == ("2026-09-11", "2026-10-08")  # 28 days ending two days ago
        doc = fetch(gh, clock, tmp_path / "a", since=None, kinds=["users-1-day"])
        assert doc["since"] == "2026-09-11"  # the earliest day already in the raw zone: gaps get back-filled
        gh.log.clear()
        doc = fetch(gh, clock, tmp_path / "b", since=date(2025, 12, 1), until=date(2025, 12, 13), kinds=["organization-1-day"])
        assert days_asked(gh, "organization-1-day") == ["2025-12-12", "2025-12-13"]
        assert any("serves this report from 2025-12-12" in n for n in doc["notes"])
        gh.enterprise = "ent"
        gh.log.clear()
        fetch(gh, clock, tmp_path / "c", since=date(2025, 10, 1), until=date(2025, 10, 10), kinds=["users-1-day"],
              enterprise="ent", today=date(2026, 9, 1))
        assert [e["path"] for e in gh.log] == ["/enterprises/ent/copilot/metrics/reports/users-1-day"]
        assert days_asked(gh) == ["2025-10-10"]
        with pytest.raises(UserError, match=r"keeps usage reports for one year: use --since 2025-11-10 or later"):
            fetch(gh, clock, tmp_path / "d", since=date(2025, 1, 1))
        with pytest.raises(UserError, match="is after --until"):
            fetch(gh, clock, tmp_path / "d", since=date(2026, 10, 9))
        with pytest.raises(UserError, match="unknown kind 'user-1-day'"):
            fetch(gh, clock, tmp_path / "d", kinds=["user-1-day"])


def test_a_torn_manifest_line_is_skipped_and_never_glued_to_the_next(tiny, tmp_path):
    clock, raw = VirtualClock(), tmp_path / "raw"
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh:
        fetch(gh, clock, raw, kinds=["users-1-day"])
        with open(raw / "manifest.jsonl", "ab") as f:
            f.write(b'{"kind": "users-1-day", "path": "metrics/us')  # power cut mid-append
        doc = fetch(gh, clock, raw, kinds=["users-1-day"], today=date(2026, 10, 10))
        assert doc["kinds"]["users-1-day"]["fetched"] == 2
    lines = (raw / "manifest.jsonl").read_bytes().splitlines()
    assert sum(1 for line in lines if not line.endswith(b"}")) == 1
    assert len(RawZone(raw).read_manifest()) == 8 + 2


def test_a_day_that_shrinks_to_fewer_shards_keeps_no_stale_shard(tmp_path):
    served = write_tiny_zone(tmp_path / "served", DAYS[:1], users=3)
    clock, raw = VirtualClock(), tmp_path / "raw"
    one_day = dict(since=date(2026, 10, 1), until=date(2026, 10, 1), kinds=["users-1-day"], today=date(2026, 10, 3))
    with FakeGitHub(served, org="tiny-org", clock=clock, shard_lines=1) as gh:
        fetch(gh, clock, raw, **one_day)
    assert sorted(p.name for p in (raw / "metrics/users-1-day/2026-10-01").iterdir()) == \
        ["part-0.ndjson", "part-1.ndjson", "part-2.ndjson"]
    with FakeGitHub(served, org="tiny-org", clock=clock) as gh:
        fetch(gh, clock, raw, **one_day)
    folder = raw / "metrics/users-1-day/2026-10-01"
    assert [p.name for p in folder.iterdir()] == ["part-0.ndjson"]
    assert folder.joinpath("part-0.ndjson").read_bytes() == (served / "metrics/users-1-day/2026-10-01/part-0.ndjson").read_bytes()


def test_bootstrap_28_day_reports_are_filed_under_their_last_day(tiny, tmp_path):
    clock, raw = VirtualClock(), tmp_path / "raw"
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh:
        doc = fetch(gh, clock, raw, kinds=["bootstrap"])
        assert doc["kinds"]["users-28-day"]["fetched"] == 1 and doc["kinds"]["organization-28-day"]["fetched"] == 1
        lines = (raw / "metrics/users-28-day/2026-10-08/part-0.ndjson").read_text().splitlines()
        assert len(lines) == 3 * 8 and json.loads(lines[0])["report_end_day"] == "2026-10-08"
        doc = fetch(gh, clock, raw, kinds=["bootstrap"])
        assert doc["kinds"]["users-28-day"]["skipped"] == 1  # one request to learn the window, no download


def test_another_fetch_on_the_same_raw_zone_is_refused(tiny, tmp_path):
    clock, raw = VirtualClock(), tmp_path / "raw"
    with FakeGitHub(tiny, org="tiny-org", clock=clock) as gh, RawZone(raw).locked():
        with pytest.raises(UserError, match="another fetch is writing to"):
            fetch(gh, clock, raw)


def test_request_estimate_for_a_1000_user_org():
    e = estimate_requests(1000, 30, months=2, teams=50)
    assert e["by_kind"] == {"reports (3 kinds x days)": 90, "repository report (days)": 30, "seats": 10,
                            "billing (users x months)": 2000, "billing usage (months)": 2, "teams and members": 51,
                            "delivery": 0}
    assert e["api_requests"] == 2183 and e["downloads"] == 120
    assert e["quota_hours"] == pytest.approx(0.43, abs=0.01) and e["wall_hours"] < 1  # fits in one hour's quota
    big = estimate_requests(1000, 365, months=13, teams=50)
    assert big["api_requests"] > 5000 and big["wall_hours"] >= 2  # waits out two spent quotas
