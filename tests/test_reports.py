"""Reports end to end: demo -> warehouse -> papermill per team -> offline HTML and index."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from copilot_finops.demo import org as demo_org
from copilot_finops.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXTERNAL = re.compile(r"<(script|link|img|iframe)[^>]+(src|href)\s*=\s*[\"']?(https?:)?//", re.IGNORECASE)


def _team_notebook(path: Path, source: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('team = "x"\nperiod = "2026-10"\nwarehouse = "w"\nparams = "p"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(source),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.mark.slow
def test_demo_end_to_end_renders_the_chosen_teams_offline(project_cwd):
    """The `demo` command's whole path (generate, ingest, report) on two teams, one of them under five users.
    Every team of a full render is checked on the session's rendered demo (test_trust.py)."""
    chosen = ["platform-sre", demo_org.SMALL_TEAM]
    rc = main(["demo", "--users", "80", "--days", "62", "--workers", "2", "--teams", ",".join(chosen)])
    assert rc == 0
    index = project_cwd / "outputs/2026-10/index.html"
    assert index.exists()
    html = index.read_text()
    team_notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb") if not p.name.startswith("00_"))
    for slug in chosen:
        assert f">{slug}<" in html
        for stem in team_notebooks:
            page = project_cwd / "outputs/2026-10" / slug / f"{stem}.html"
            assert page.exists(), page
            text = page.read_text()
            assert not EXTERNAL.search(text), f"{page} references the network"
            assert "This report failed" not in text
    others = [slug for slug, *_ in demo_org.TEAMS if slug not in chosen]
    assert others and not any((project_cwd / "outputs/2026-10" / slug).exists() for slug in others)
    usage_page = (project_cwd / "outputs/2026-10/platform-sre/01_team_usage.html").read_text()
    assert usage_page.count("<svg") >= 3  # one per chart cell: daily usage, CLI and credits, breakdowns
    assert "Traceback" not in usage_page
    # the team under five users is reported, with its figures suppressed
    small = (project_cwd / "outputs/2026-10" / demo_org.SMALL_TEAM / "01_team_usage.html").read_text()
    assert "suppressed" in small
    assert re.search(rf">{demo_org.SMALL_TEAM}<.*?suppressed", html, re.S)
    run = json.loads((project_cwd / "outputs/2026-10/run.json").read_text())
    assert {r["team"] for r in run["results"]} == set(chosen) and all(r["ok"] for r in run["results"])
    # rendered reports are notebooks run by papermill, with the parameters injected
    nb = nbformat.read(project_cwd / "outputs/2026-10/platform-sre/01_team_usage.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'team = "platform-sre"' in injected[0].source
    assert "data/warehouse.duckdb" in injected[0].source and str(project_cwd) not in injected[0].source


def test_one_failing_team_does_not_stop_the_others(small_demo, project_cwd, capsys):
    books = project_cwd / "nb"
    books.mkdir()
    # appsec's cell raises; devex's kernel dies outside any cell's error (as when the system kills it)
    _team_notebook(books / "01_probe.ipynb", 'if team == "appsec":\n    raise RuntimeError("boom for " + team)\n'
                                             'if team == "devex":\n    import os; os._exit(3)\nprint("ok", team)')
    rc = main(["report", "--period", "2026-10", "--teams", "appsec,devex,payments-api", "--warehouse",
               str(small_demo.warehouse), "--out", "out", "--notebooks", str(books), "--workers", "2"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "FAILED appsec/01_probe" in err and "boom for appsec" in err and "FAILED devex/01_probe" in err
    assert "ok payments-api" in (project_cwd / "out/2026-10/payments-api/01_probe.html").read_text()
    failed_page = (project_cwd / "out/2026-10/appsec/01_probe.html").read_text()
    assert "This report failed" in failed_page and "boom for appsec" in failed_page
    dead_page = (project_cwd / "out/2026-10/devex/01_probe.html").read_text()
    assert "This report failed" in dead_page and "DeadKernelError" in dead_page
    index = (project_cwd / "out/2026-10/index.html").read_text()
    assert "failed" in index


def test_a_run_for_some_teams_adds_to_the_period_index_and_prints_where_things_are(small_demo, project_cwd, capsys):
    """The overview, then two teams with retros, then one team again: every report stays indexed and in run.json."""
    org_books, team_books = project_cwd / "org-books", project_cwd / "team-books"
    org_books.mkdir()
    team_books.mkdir()
    _team_notebook(org_books / "00_probe.ipynb", 'print("overview", period)')
    _team_notebook(team_books / "01_probe.ipynb", 'print("probe", team)')
    base = ["report", "--period", "2026-10", "--warehouse", str(small_demo.warehouse), "--out", "out", "--workers", "1"]
    assert main(base + ["--notebooks", str(org_books)]) == 0
    assert main(base + ["--notebooks", str(team_books), "--teams", "appsec,devex", "--retro"]) == 0
    capsys.readouterr()
    assert main(base + ["--notebooks", str(team_books), "--teams", "appsec"]) == 0
    printed = capsys.readouterr().out.splitlines()
    index = project_cwd / "out/2026-10/index.html"
    html = index.read_text()
    assert "Organization overview" in html and "org/00_probe.html" in html
    assert ">appsec<" in html and ">devex<" in html and "devex/retro.html" in html
    run = json.loads((project_cwd / "out/2026-10/run.json").read_text())
    assert sorted((r["team"], r["notebook"]) for r in run["results"]) == [
        ("__org__", "00_probe"), ("appsec", "01_probe"), ("devex", "01_probe")]
    assert sorted(run["retros"]) == ["appsec", "devex"]
    # the command ends by saying where the index and the retro pages are
    assert printed[-3] == "index: out/2026-10/index.html"
    assert [line.split()[1] for line in printed[-2:]] == [run["retros"]["appsec"], run["retros"]["devex"]]
    assert all(Path(p).exists() for p in run["retros"].values())


def test_an_empty_team_selection_is_an_error_and_writes_nothing(small_demo, project_cwd, capsys):
    for empty in (",,,", "", " , "):
        assert main(["report", "--period", "2026-10", "--teams", empty, "--warehouse", str(small_demo.warehouse),
                     "--out", "out"]) == 2
        err = capsys.readouterr().err
        assert "--teams" in err and "names no team" in err and len(err.strip().splitlines()) == 1
    assert not (project_cwd / "out").exists()


def test_report_rejects_bad_input_with_clear_errors(small_demo, project_cwd, capsys):
    base = ["report", "--warehouse", str(small_demo.warehouse)]
    assert main(base + ["--period", "2026-13"]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    assert main(base + ["--period", "2026-10", "--teams", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(base + ["--period", "2031-01"]) == 2
    assert re.search(r"no team has members in that month; the warehouse .* holds 2026-\d\d-\d\d to 2026-10-31",
                     capsys.readouterr().err)
    assert main(["report", "--period", "2026-10", "--warehouse", "missing.duckdb"]) == 2
    assert "copilot-finops ingest" in capsys.readouterr().err


def test_nbval_runs_every_notebook_on_a_small_demo_warehouse(small_demo, tmp_path):
    """The committed notebooks run top to bottom with their default parameters (nbval, lax mode)."""
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    shutil.copytree(ROOT / "params", tmp_path / "params")
    (tmp_path / "data").mkdir()
    shutil.copy(small_demo.warehouse, tmp_path / "data/warehouse.duckdb")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider", "-q",
         "-p", "no:xdist", "notebooks"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert re.search(r"\d+ passed", proc.stdout)


def test_the_org_wide_passes_run_once_before_the_pages_and_every_page_reads_them(small_demo, project_cwd):
    """The pattern fit, the delivery window, the what-if, the cost history and the guardrails run before the fan-out,
    with the arguments the pages give them: the pages then read those very memo entries (none computes its own, none
    is rewritten)."""
    from copilot_finops.params import load_params
    from copilot_finops.period import parse_period
    from copilot_finops.reports import orgwide
    from copilot_finops.reports.executors import run_reports
    from copilot_finops.reports.plan import plan_tasks

    shutil.copy(small_demo.warehouse, project_cwd / "w.duckdb")
    tasks = [t for t in plan_tasks(["platform-sre"], "2026-10", "w.duckdb", "params", "out", ROOT / "notebooks",
                                   include_org=False)
             if t.name in {"02_cost_baseline", "04_high_burn_patterns", "05_delivery_correlation", "06_monthly_retro",
                           "07_model_routing"}]
    assert len(tasks) == 5
    names = orgwide.needed({t.name for t in tasks})
    assert names == ["patterns", "delivery", "whatif", "costs", "guardrails"]
    assert orgwide.needed({"07_model_routing"}, extra=(("route", "x"),)) == []  # another route: the page's own
    done = orgwide.run("w.duckdb", load_params("params"), parse_period("2026-10"), names, progress=False)
    assert sorted(done) == sorted(names)
    memo = project_cwd / "w.duckdb.cache"
    before = {p.name: p.stat().st_mtime_ns for p in memo.glob("*.memo")}
    kinds = {name.split("-", 1)[1].rsplit("-", 1)[0] for name in before}
    assert {"patterns-labelled", "patterns-flagged", "org-team-weeks", "patterns-org-table", "delivery-window",
            "delivery-verdicts", "delivery-teams", "whatif", "guardrails", "team-costs-history",
            "repository-credits", "agent-costs"} <= kinds
    results = run_reports(tasks, workers=1, progress=False)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    after = {p.name: p.stat().st_mtime_ns for p in memo.glob("*.memo")}
    shared = {"patterns-labelled", "patterns-flagged", "org-team-weeks", "patterns-org-table", "delivery-window",
              "delivery-verdicts", "delivery-teams", "whatif", "guardrails", "team-costs-history", "repository-credits",
              "agent-costs"}
    assert {n: t for n, t in after.items() if n.split("-", 1)[1].rsplit("-", 1)[0] in shared} == \
        {n: t for n, t in before.items() if n.split("-", 1)[1].rsplit("-", 1)[0] in shared}
