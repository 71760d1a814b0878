"""A new deployment's first month is partial: every command and every notebook must read it.

The org here starts on 2026-07-24, so July holds eight days and one full week; its few pull
requests are the case that once broke the duplicate-work search (see test_patterns_features).
"""
from __future__ import annotations

import json
import shutil
from datetime import date

import pytest

from copilot_finops.cli import main

from conftest import ROOT

FIRST_MONTH = "2026-07"


@pytest.fixture(scope="module")
def first_month_org(tmp_path_factory):
    from copilot_finops.demo import generate_org
    from copilot_finops.ingest import ingest_raw

    base = tmp_path_factory.mktemp("first-month")
    generate_org(base / "raw", seed=7, users=20, days=100, end=date(2026, 10, 31))
    ingest_raw(base / "raw", base / "warehouse.duckdb")
    return base / "warehouse.duckdb"


@pytest.mark.parametrize("command", [
    ["patterns"], ["guardrails", "--out", "out"], ["delivery"], ["export", "focus", "--out", "out/focus.csv"],
])
def test_every_command_reads_the_first_partial_month(first_month_org, project_cwd, capsys, command):
    rc = main([*command, "--period", FIRST_MONTH, "--warehouse", str(first_month_org), "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "Traceback" not in err
    assert json.loads(out)


@pytest.mark.slow
def test_the_first_partial_month_renders_every_notebook(first_month_org, project_cwd, capsys):
    """One team's six notebooks and the org overview (the patterns fit is org-wide, so one team shows it)."""
    base = ["report", "--period", FIRST_MONTH, "--warehouse", str(first_month_org), "--out", "out", "--workers", "2",
            "--json"]
    assert main(base + ["--teams", "platform-sre"]) == 0, capsys.readouterr().err
    org_books = project_cwd / "org-books"
    org_books.mkdir()
    shutil.copy(ROOT / "notebooks/00_org_overview.ipynb", org_books)
    assert main(base + ["--notebooks", str(org_books)]) == 0, capsys.readouterr().err
    pages = sorted((project_cwd / "out" / FIRST_MONTH).rglob("*.html"))
    team_books = [p for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb") if not p.name.startswith("00_")]
    rendered = [p for p in pages if p.name != "index.html"]
    assert len(rendered) == len(team_books) + 1
    for page in rendered:
        assert "This report failed" not in page.read_text(), page
