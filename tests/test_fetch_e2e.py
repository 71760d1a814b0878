"""End to end: the demo org served by the fake GitHub, fetched under faults, killed and resumed, then ingested.

One fault-free fetch is the reference; a fetch with faults on 30 % of requests, and a fetch
killed with SIGKILL part-way and rerun, must both reproduce it byte for byte in the raw zone
and table by table in the warehouse.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from copilot_finops import warehouse
from copilot_finops.cli import main
from copilot_finops.fetch import FetchConfig, run_fetch
from copilot_finops.ingest import ingest_raw
from fake_github import FakeGitHub, Faults, VirtualClock, make_client

REPOS = ["demo-corp/payments-api", "demo-corp/platform-sre"]
WINDOW = dict(since=date(2026, 9, 2), until=date(2026, 10, 31), today=date(2026, 11, 10))
SHARD_LINES = 15  # several download links per users-1-day report
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from copilot_finops.demo import generate_org
    raw = tmp_path_factory.mktemp("served") / "raw"
    generate_org(raw, seed=7, users=40, days=60, end=date(2026, 10, 31))
    return raw


@pytest.fixture(scope="module")
def reference(demo, tmp_path_factory):
    """The fault-free fetch: its raw zone, its warehouse and how many requests it took."""
    base = tmp_path_factory.mktemp("reference")
    clock = VirtualClock()
    with FakeGitHub(demo, clock=clock, shard_lines=SHARD_LINES) as gh:
        doc = run_fetch(FetchConfig(org="demo-corp", raw_dir=base / "raw", api_url=gh.url, repos=REPOS,
                                    progress=False, **WINDOW), client=make_client(gh, clock))
        requests = len(gh.log)
    assert doc["status"] == "complete" and doc["totals"]["retried"] == 0 and doc["totals"]["failed"] == 0
    ingest_raw(base / "raw", base / "warehouse.duckdb")
    return {"raw": base / "raw", "warehouse": base / "warehouse.duckdb", "requests": requests, "doc": doc}


def data_files(raw: Path) -> dict[str, bytes]:
    """Every file fetch wrote except its bookkeeping (manifest, lock)."""
    return {p.relative_to(raw).as_posix(): p.read_bytes() for p in sorted(raw.rglob("*"))
            if p.is_file() and p.name not in ("manifest.jsonl", ".fetch.lock")}


def tables(db: Path, exclude=("quarantined_at",), where: dict | None = None) -> dict[str, tuple[int, str]]:
    """Row count and content digest of every table but the run logs."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for t in warehouse.table_names(con):
            if t in warehouse.RUN_LOG_TABLES:
                continue
            if where and t in where:
                con.execute(f"CREATE OR REPLACE TEMP TABLE _cmp AS SELECT * FROM {t} WHERE {where[t]}")
                out[t] = warehouse.table_digest(con, "_cmp", exclude)
            else:
                out[t] = warehouse.table_digest(con, t, exclude)
        return out
    finally:
        con.close()


def test_reference_fetch_covers_every_kind(reference, demo):
    kinds = reference["doc"]["kinds"]
    assert kinds["users-1-day"]["fetched"] == kinds["organization-1-day"]["fetched"] == 60
    assert kinds["ai-credit-usage"]["fetched"] == 2 and kinds["delivery"]["fetched"] == 2
    counts = dict(tables(reference["warehouse"]))
    for table in ("user_day", "user_team_day", "org_day", "seat", "credit_usage", "team_member", "pull_request",
                  "review", "deployment", "deployment_status", "incident", "pull_request_file"):
        assert counts[table][0] > 0, table
    assert counts["quarantine"][0] == 0


def test_fetched_zone_ingests_like_the_generated_one(reference, demo, tmp_path):
    """What the API serves, fetched, gives the same warehouse as the generator's own files."""
    ingest_raw(demo, tmp_path / "generated.duckdb")
    repos = ", ".join(f"'{r}'" for r in REPOS)
    only = {t: f"repo IN ({repos})" for t in ("pull_request", "pull_request_file", "review", "deployment",
                                               "deployment_status", "incident", "pull_request_person")}
    only.update(seat="snapshot_day = DATE '2026-10-31'", team_member="snapshot_day = DATE '2026-10-31'")
    fetched = tables(reference["warehouse"], exclude=("quarantined_at", "source_file", "source_line"), where=only)
    generated = tables(tmp_path / "generated.duckdb", exclude=("quarantined_at", "source_file", "source_line"), where=only)
    assert fetched == generated


def test_soak_faults_on_30_percent_of_requests_change_nothing(demo, reference, tmp_path):
    clock = VirtualClock()
    raw = tmp_path / "raw"
    with FakeGitHub(demo, clock=clock, shard_lines=SHARD_LINES, faults=Faults(rate=0.3, seed=11)) as gh:
        doc = run_fetch(FetchConfig(org="demo-corp", raw_dir=raw, api_url=gh.url, repos=REPOS, progress=False, **WINDOW),
                        client=make_client(gh, clock))
        faults = {e["fault"] for e in gh.log} - {None}
        assert not gh.errors
    assert doc["status"] == "complete" and doc["totals"]["failed"] == 0
    assert faults == {"500", "502", "503", "reset", "slow", "primary", "secondary", "429", "expired-links",
                      "truncated", "truncated-unsized"}
    assert doc["totals"]["retried"] > 300 and clock.slept > 60  # it really was a bumpy ride
    assert data_files(raw) == data_files(reference["raw"])
    ingest_raw(raw, tmp_path / "warehouse.duckdb")
    assert tables(tmp_path / "warehouse.duckdb") == tables(reference["warehouse"])


def test_sigkill_part_way_then_rerun_completes_the_raw_zone(demo, reference, tmp_path):
    raw = tmp_path / "raw"
    token = "ghp_test" + secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    env.update(GITHUB_TOKEN=token, PYTHONPATH=str(ROOT / "lib"))
    outputs = []
    with FakeGitHub(demo, token=token, shard_lines=SHARD_LINES, latency=0.001) as gh:
        cmd = [sys.executable, "-m", "copilot_finops.cli", "fetch", "--org", "demo-corp", "--since", "2026-09-02",
               "--until", "2026-10-31", "--today", "2026-11-10", "--raw", str(raw), "--api-url", gh.url,
               "--repos", ",".join(REPOS), "--json"]

        def kill_when(ready):
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 60
            while not ready() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.001)
            proc.send_signal(signal.SIGKILL)
            outputs.extend(proc.communicate(timeout=30))
            assert proc.returncode == -signal.SIGKILL, outputs[-1].decode()[-2000:]

        kill_when(lambda: len(gh.log) >= reference["requests"] * 0.3)  # among the report days
        assert 0 < len(data_files(raw)) < len(data_files(reference["raw"]))
        kill_when(lambda: gh.count("/reviews$") >= 150)  # in the middle of the second repo's snapshot
        assert gh.count("/reports/") <= 240 + 1  # the rerun did not start over: at most the day in flight again
        rerun = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
        outputs += [rerun.stdout, rerun.stderr]
        assert not gh.errors
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    doc = json.loads(rerun.stdout)  # --json: one document on stdout, nothing else
    assert doc["status"] == "complete" and doc["totals"]["skipped"] > 0
    # complete, byte for byte; no temp file survives; the manifest vouches for every file
    assert data_files(raw) == data_files(reference["raw"])
    assert not list(raw.rglob("*.tmp")) and not (raw / ".fetch-tmp").exists()
    manifest = {json.loads(line)["path"] for line in (raw / "manifest.jsonl").read_text().splitlines()
                if line.strip().endswith("}") and "path" in json.loads(line)}
    assert manifest == set(data_files(raw))
    # no duplicate rows, nothing lost
    ingest_raw(raw, tmp_path / "warehouse.duckdb")
    assert tables(tmp_path / "warehouse.duckdb") == tables(reference["warehouse"])
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) = count(DISTINCT (day, user_id)) FROM user_day").fetchone()[0]
    con.close()
    for output in outputs:
        assert token.encode() not in output
    manifest_text = (raw / "manifest.jsonl").read_text()
    assert "/download/" not in manifest_text and "sig=" not in manifest_text  # no signed links kept


def test_the_token_is_never_written_or_printed(demo, tmp_path, monkeypatch, capsys):
    """Grep every file written and everything printed, including refusals whose bodies echo the token."""
    token = "ghp_test" + secrets.token_hex(16)
    wrong = "ghp_test" + secrets.token_hex(16)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    deny = {r"/settings/billing/": 403, r"/repos/demo-corp/platform-sre/": 404}
    with FakeGitHub(demo, token=token, shard_lines=SHARD_LINES, leak_token=True, deny=deny) as gh:
        args = ["fetch", "--org", "demo-corp", "--since", "2026-10-20", "--until", "2026-10-31", "--today", "2026-11-10",
                "--raw", str(tmp_path / "raw"), "--api-url", gh.url, "--repos", ",".join(REPOS),
                "--ingest", str(tmp_path / "warehouse.duckdb")]
        monkeypatch.setenv("GITHUB_TOKEN", token)
        assert main(args) == 1  # billing and one repo refused: incomplete, and it says why
        printed = capsys.readouterr()
        assert "classic token with billing rights" in printed.out and "credentials seen: token ***" in printed.out
        assert main(args + ["--json"]) == 1
        printed_json = capsys.readouterr()
        json.loads(printed_json.out)
        monkeypatch.setenv("GITHUB_TOKEN", wrong)
        assert main(args) == 2
        refused = capsys.readouterr()
        assert "rejected the token from GITHUB_TOKEN" in refused.err and "token ***" in refused.err
        assert gh.count("", status=403) and gh.count("", status=401)
    everything = [printed.out, printed.err, printed_json.out, printed_json.err, refused.out, refused.err]
    everything += [p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file()]
    for secret in (token, wrong):
        assert not any(secret in text for text in everything)
        assert not any(secret[8:] in text for text in everything)  # not even the random part


def test_dry_run_plans_without_a_token(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    assert main(["fetch", "--org", "acme", "--since", "2026-10-01", "--until", "2026-10-30", "--today", "2026-11-10",
                 "--raw", str(tmp_path / "raw"), "--dry-run", "--assume-users", "1000", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kinds"]["users-1-day"] == {"unit": "day", "to_fetch": 30, "skip": 0}
    assert doc["estimate"]["api_requests"] == 90 + 30 + 10 + 1000 + 1 + 1  # + repository report days, billing usage
    assert main(["fetch", "--org", "acme", "--raw", str(tmp_path / "raw"), "--today", "2026-11-10"]) == 2
    assert "set GITHUB_TOKEN or GH_TOKEN" in capsys.readouterr().err


def test_a_rerun_asks_only_for_what_may_have_changed(reference, demo, tmp_path):
    import shutil
    raw = tmp_path / "raw"
    shutil.copytree(reference["raw"], raw)
    clock = VirtualClock()
    config = dict(org="demo-corp", raw_dir=raw, repos=REPOS, progress=False, since=WINDOW["since"], until=WINDOW["until"])
    with FakeGitHub(demo, clock=clock, shard_lines=SHARD_LINES) as gh:
        doc = run_fetch(FetchConfig(api_url=gh.url, today=date(2026, 11, 10), **config), client=make_client(gh, clock))
        assert gh.log == [] and doc["totals"]["fetched"] == 0  # everything settled and complete: not one request
        doc = run_fetch(FetchConfig(api_url=gh.url, today=date(2026, 11, 2), **config), client=make_client(gh, clock))
        asked = {e["query"].get("day") for e in gh.log if "/reports/" in e["path"]}
        assert asked == {"2026-10-30", "2026-10-31"}  # the settling days
        billed = {e["query"]["month"] for e in gh.log if "/settings/billing/" in e["path"]}
        assert billed == {"10"}  # September is closed and settled
        delivery = [line for line in json.loads(f"[{','.join((raw / 'manifest.jsonl').read_text().splitlines())}]")
                    if line.get("kind") == "pulls"]
        # the first fetch ran on 11-10: what changed since, and a day before; never after this run's until
        assert [line["since"] for line in delivery] == ["2026-09-02", "2026-09-02", "2026-10-31", "2026-10-31"]
        reviewed = {e["path"] for e in gh.log if e["path"].endswith("/reviews")}
        assert reviewed == reviews_of(demo, "2026-10-31")  # 5 of 232
    assert data_files(raw).keys() == data_files(reference["raw"]).keys()


def reviews_of(served: Path, day: str) -> set[str]:
    """The review requests of the pull requests of REPOS the generator last updated on `day` or later."""
    return {f"/repos/{repo}/pulls/{p['number']}/reviews" for repo in REPOS
            for name in ("pulls.json", "pulls-agent.json") if (served / "delivery" / repo / name).exists()
            for p in json.loads((served / "delivery" / repo / name).read_text())
            if (p.get("updated_at") or "")[:10] >= day}


def test_a_daily_run_asks_for_the_pull_requests_changed_since_the_day_before_the_last_fetch(demo, tmp_path):
    """A cron run each day: the second reads the lists again from the day before the first ran (10-29), not from
    the first's until (10-28, two days behind the fetch) less three settling days (10-25), as earlier versions did.
    A raw zone those versions wrote (no fetched_day in its manifest) keeps their window."""
    raw = tmp_path / "raw"
    clock = VirtualClock()
    config = dict(org="demo-corp", raw_dir=raw, repos=REPOS, progress=False, kinds=["delivery"], since=date(2026, 10, 20))

    def daily(today: date) -> tuple[list[str], set[str]]:
        with FakeGitHub(demo, clock=clock) as gh:
            doc = run_fetch(FetchConfig(api_url=gh.url, today=today, **config), client=make_client(gh, clock))
            assert doc["status"] == "complete"
            lines = [json.loads(x) for x in (raw / "manifest.jsonl").read_text().splitlines()]
            return ([x["since"] for x in lines if x.get("kind") == "pulls"],
                    {e["path"] for e in gh.log if e["path"].endswith("/reviews")})

    since, _ = daily(date(2026, 10, 30))  # until 10-28
    assert since == ["2026-10-20", "2026-10-20"]
    since, reviewed = daily(date(2026, 10, 31))  # until 10-29
    assert since[2:] == ["2026-10-29", "2026-10-29"]
    assert reviewed == reviews_of(demo, "2026-10-29") and len(reviewed) < len(reviews_of(demo, "2026-10-25"))  # 15 of 28
    manifest = raw / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({k: v for k, v in json.loads(x).items() if k != "fetched_day"}) + "\n"
                                for x in manifest.read_text().splitlines()))
    since, reviewed = daily(date(2026, 11, 1))  # until 10-30; the last snapshot's until, 10-29, less three days
    assert since[4:] == ["2026-10-26", "2026-10-26"] and reviewed == reviews_of(demo, "2026-10-26")


def test_all_repos_lists_the_org(demo, tmp_path):
    clock = VirtualClock()
    with FakeGitHub(demo, clock=clock) as gh:
        doc = run_fetch(FetchConfig(org="demo-corp", raw_dir=tmp_path / "raw", api_url=gh.url, all_repos=True,
                                    kinds=["delivery"], since=date(2026, 10, 27), until=date(2026, 10, 31),
                                    today=date(2026, 11, 10), progress=False), client=make_client(gh, clock))
    assert doc["kinds"]["delivery"]["fetched"] == 10
    assert len(list((tmp_path / "raw/delivery/demo-corp").glob("*/pulls-2026-10-31.json"))) == 10


def test_premium_requests_before_june_2026_and_ai_credits_after(tmp_path):
    from copilot_finops.demo import generate_org
    served = tmp_path / "served"
    generate_org(served, seed=3, users=12, days=40, end=date(2026, 6, 30))
    clock = VirtualClock()
    with FakeGitHub(served, clock=clock) as gh:
        doc = run_fetch(FetchConfig(org="demo-corp", raw_dir=tmp_path / "raw", api_url=gh.url,
                                    kinds=["users-1-day", "seats", "billing"], since=date(2026, 5, 22),
                                    until=date(2026, 6, 30), today=date(2026, 7, 10), progress=False),
                        client=make_client(gh, clock))
    assert doc["status"] == "complete"
    got = sorted(p.relative_to(tmp_path / "raw").as_posix() for p in (tmp_path / "raw/billing").rglob("*.json"))
    assert got == ["billing/ai-credit-usage/2026-06.json", "billing/premium-request-usage/2026-05.json"]
    for rel in got:
        fetched = {r["user"]: r for r in json.loads((tmp_path / "raw" / rel).read_bytes())}
        generated = json.loads((served / rel).read_bytes())
        # every billed user, leavers too, with every item the month's main file bills them (agent work adds more)
        assert generated and all(all(i in fetched[r["user"]]["usageItems"] for i in r["usageItems"]) for r in generated)
