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
    """The small demo rendered once per session (report --retro, every page) with the --json of guardrails,
    delivery, patterns, whatif, agents and repos: read-only for the tests that share it (keep them in one file:
    xdist's loadfile then renders it once)."""
    import contextlib
    import io
    import json
    import shutil

    from copilot_finops.cli import main

    base = tmp_path_factory.mktemp("rendered-demo")
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
    return RenderedDemo(small_demo, base, base / "outputs" / period, documents)


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


def pytest_configure(config):
    os.environ.setdefault("COPILOT_FINOPS_PSEUDONYM_KEY", "test-pseudonym-key-not-secret")
