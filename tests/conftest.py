"""Shared fixtures: a small demo org, generated and ingested once per test session (per xdist worker)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL_ORG = {"seed": 7, "users": 80, "days": 62, "end": date(2026, 10, 31)}


@dataclass(frozen=True)
class DemoOrg:
    raw: Path
    warehouse: Path
    ground_truth: dict
    user_day_records: int
    period: str = "2026-10"


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> DemoOrg:
    """80 developers, 62 days ending 2026-10-31: every team, a full October, quick to build."""
    from copilot_finops.demo import generate_org
    from copilot_finops.ingest import ingest_raw

    base = tmp_path_factory.mktemp("small-demo")
    result = generate_org(base / "raw", **SMALL_ORG)
    ingest_raw(base / "raw", base / "warehouse.duckdb")
    return DemoOrg(base / "raw", base / "warehouse.duckdb", result.ground_truth, result.user_day_records)


@dataclass(frozen=True)
class RenderedDemo:
    org: DemoOrg
    base: Path  # holds w.duckdb, params/ and outputs/
    pages: Path  # outputs/<period>/: index.html, org/, <team>/ with every page and retro.html
    documents: dict  # the --json of guardrails, delivery, patterns, whatif, agents and repos, by command

    @property
    def warehouse(self) -> Path:
        return self.base / "w.duckdb"


@pytest.fixture(scope="session")
def rendered_demo(small_demo, tmp_path_factory) -> RenderedDemo:
    """The small demo rendered once per test run (report --retro, every page) with the --json of guardrails,
    delivery, patterns, whatif, agents and repos: read-only for the tests that share it. Under xdist the first
    worker to ask renders it into the run's shared folder and the other waits for it and reads the same files
    (the small demo is generated from one seed, so every worker's copy holds the same figures)."""
    import fcntl
    import json

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    root = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()
    base, done = root / "rendered-demo", root / "rendered-demo.json"
    with open(root / "rendered-demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also when the render fails
        if not done.exists():
            documents = _render_demo(small_demo, base)
            done.write_text(json.dumps(documents))
    return RenderedDemo(small_demo, base, base / "outputs" / small_demo.period, json.loads(done.read_text()))


def _render_demo(small_demo: DemoOrg, base: Path) -> dict:
    import contextlib
    import io
    import json
    import shutil

    from copilot_finops.cli import main

    if base.exists():  # a render that failed part-way in this run
        shutil.rmtree(base)
    base.mkdir()
    shutil.copy(small_demo.warehouse, base / "w.duckdb")
    shutil.copytree(ROOT / "params", base / "params")
    period, here = small_demo.period, os.getcwd()
    common = ["--period", period, "--warehouse", "w.duckdb", "--params", "params", "--json"]
    os.chdir(base)  # relative paths, as papermill should be given them
    try:
        documents = {}
        for command, extra in (("report", ["--out", "outputs", "--retro", "--workers", "2"]),
                               ("guardrails", ["--out", "outputs"]), ("delivery", []), ("patterns", []),
                               ("whatif", []), ("agents", []), ("repos", [])):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = main([command, *common, *extra])
            assert rc == 0, f"{command} failed on the demo: {out.getvalue()[-2000:]}"
            documents[command] = json.loads(out.getvalue())
    finally:
        os.chdir(here)
    return documents


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The hand-built org of test_cost.py (two teams, figures worked out by hand), read-only."""
    from copilot_finops import warehouse
    from test_cost import build_tiny_org

    path = tmp_path_factory.mktemp("tiny") / "w.duckdb"
    build_tiny_org(path)
    con = warehouse.connect(path, read_only=True)
    yield con
    con.close()


@pytest.fixture()
def project_cwd(tmp_path, monkeypatch):
    """A scratch working folder with the project's params/, as a user's checkout would have."""
    import shutil

    shutil.copytree(ROOT / "params", tmp_path / "params")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# The files that take longest, longest first: under `make test` (xdist, one file per worker at a time, in
# collection order with --no-loadscope-reorder) the two workers then finish together instead of one idling while
# the other works through a long file picked up last. Measured with `pytest --durations=50`.
LONGEST_FIRST = ("test_trust.py", "test_reports.py", "test_delivery_demo.py", "test_workflow.py", "test_ingest.py",
                 "test_dask.py", "test_gaps.py", "test_teams_source.py", "test_first_month.py", "test_browser.py",
                 "test_fetch_e2e.py", "test_incident_gate.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its own order


def pytest_configure(config):
    os.environ.setdefault("COPILOT_FINOPS_PSEUDONYM_KEY", "test-pseudonym-key-not-secret")
