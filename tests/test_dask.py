"""The Dask executor (same reports as the local pool, outputs written by the client, failed tasks retried once)
and the kernels both executors start ahead (warm, and independent from one report to the next)."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from copilot_finops import reports
from copilot_finops.cli import main

ROOT = Path(__file__).resolve().parents[1]
TEAMS = ["appsec", "devex", "payments-api"]


def _leftover_processes(before: set[int], timeout: float = 15.0) -> list[str]:
    """Command lines of child processes (workers, kernels) started since `before` and alive after `timeout`.

    multiprocessing's resource tracker is left out: it lives as long as this process, by design.
    """
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for p in psutil.Process().children(recursive=True):
            if p.pid in before:
                continue
            try:
                cmd = " ".join(p.cmdline())
                if p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in cmd:
                    alive.append(cmd)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.3)


def _outputs(path: Path) -> list[tuple]:
    """What the executed notebook says, without timings and cell ids (which differ run to run)."""
    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, c.get("execution_count"), c.get("outputs"), c.metadata.get("tags"))
            for c in nb.cells]


def _probe_notebook(path: Path, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('team = "x"\nperiod = "2026-10"\nwarehouse = "w"\nparams = "p"',
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_dask_cluster_renders_the_same_reports_as_the_local_pool(small_demo, project_cwd):
    books = project_cwd / "nb"
    books.mkdir()
    shutil.copy(ROOT / "notebooks/01_team_usage.ipynb", books)  # one real report notebook keeps this quick
    common = ["report", "--period", "2026-10", "--teams", ",".join(TEAMS), "--warehouse", str(small_demo.warehouse),
              "--notebooks", str(books), "--workers", "2"]
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    assert main(common + ["--out", "local"]) == 0
    assert main(common + ["--out", "dask", "--executor", "dask"]) == 0  # a LocalCluster of 2 processes

    for team in TEAMS:
        local, dask = project_cwd / "local/2026-10" / team, project_cwd / "dask/2026-10" / team
        # the client wrote what the workers sent back; the pages are byte for byte the local ones
        assert (dask / "01_team_usage.html").read_text() == (local / "01_team_usage.html").read_text()
        assert "<svg" in (dask / "01_team_usage.html").read_text()
        assert _outputs(dask / "01_team_usage.ipynb") == _outputs(local / "01_team_usage.ipynb")
        meta = nbformat.read(dask / "01_team_usage.ipynb", as_version=4).metadata.papermill
        assert meta["input_path"] == str((books / "01_team_usage.ipynb").resolve())
        assert meta["output_path"] == str(dask / "01_team_usage.ipynb")
        assert meta["parameters"]["team"] == team
    index = (project_cwd / "dask/2026-10/index.html").read_text()
    assert all(f'href="{t}/01_team_usage.html"' in index for t in TEAMS)
    assert "badge failed" not in index
    assert _leftover_processes(before) == []  # the cluster's workers and every kernel are gone


@pytest.fixture(scope="module")
def cluster():
    """A running LocalCluster, reached by address as `report --scheduler` would reach a remote one."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def test_failed_task_is_retried_once_then_reported_without_stopping_the_others(small_demo, project_cwd, cluster):
    attempts = project_cwd / "attempts"
    attempts.mkdir()
    books = project_cwd / "nb"
    books.mkdir()
    # appsec always fails; devex fails only on its first run; payments-api never fails
    _probe_notebook(books / "01_probe.ipynb", (
        "from pathlib import Path\n"
        f"log = Path({str(attempts)!r}) / team\n"
        "first = not log.exists()\n"
        "log.write_text(log.read_text() + 'x' if log.exists() else 'x')\n"
        "if team == 'appsec' or (team == 'devex' and first):\n"
        "    raise RuntimeError('boom for ' + team)\n"
        "print('rendered', team)"))
    tasks = reports.plan_tasks(TEAMS, "2026-10", small_demo.warehouse, "params", "out", books, include_org=False)
    results = reports.run_reports(tasks, executor="dask", workers=2, progress=False, scheduler=cluster.scheduler_address)
    by_team = {r.task.team: r for r in results}

    assert {t: (attempts / t).read_text() for t in TEAMS} == {"appsec": "xx", "devex": "xx", "payments-api": "x"}
    assert not by_team["appsec"].ok and "boom for appsec" in by_team["appsec"].error
    assert "failed 2 times" in by_team["appsec"].error
    assert by_team["devex"].ok and by_team["payments-api"].ok
    # the failed report's page still comes back and says why, like the local executor's
    failed_page = (project_cwd / "out/2026-10/appsec/01_probe.html").read_text()
    assert "This report failed" in failed_page and "boom for appsec" in failed_page
    assert "rendered devex" in (project_cwd / "out/2026-10/devex/01_probe.html").read_text()
    assert [r.task for r in results] == tasks  # results come back in plan order, holding the planned tasks


def test_dask_reports_name_what_a_worker_cannot_read(small_demo, project_cwd, cluster):
    books = project_cwd / "nb"
    books.mkdir()
    _probe_notebook(books / "01_probe.ipynb", "print('never runs')")
    tasks = reports.plan_tasks(["appsec"], "2026-10", project_cwd / "missing.duckdb", "params", "out", books,
                               include_org=False)
    [result] = reports.run_reports(tasks, executor="dask", workers=2, progress=False, scheduler=cluster.scheduler_address)
    assert not result.ok
    assert "missing.duckdb is not readable on Dask worker" in result.error and "--warehouse" in result.error


def test_bad_scheduler_address_is_a_user_error(small_demo, project_cwd, capsys):
    rc = main(["report", "--period", "2026-10", "--teams", "appsec", "--warehouse", str(small_demo.warehouse),
               "--executor", "dask", "--scheduler", "localhost:8786"])
    assert rc == 2
    assert "tcp://HOST:8786" in capsys.readouterr().err


def test_kernels_started_ahead_are_warm_and_carry_nothing_from_one_report_to_the_next(small_demo, project_cwd):
    """Both executors start each worker's next kernel ahead (reports.run_task); each still runs one notebook."""
    books = project_cwd / "nb"
    books.mkdir()
    _probe_notebook(books / "01_probe.ipynb", (
        "import json, os, sys\n"
        "import copilot_finops\n"
        "seen = {'pid': os.getpid(), 'warm': 'copilot_finops.reports.notebook' in sys.modules,\n"
        "        'variable': 'leaked' in globals(), 'module': hasattr(copilot_finops, 'leaked_from')}\n"
        "leaked = team\n"
        "copilot_finops.leaked_from = team\n"
        "print(json.dumps(seen))"))
    tasks = reports.plan_tasks(TEAMS, "2026-10", small_demo.warehouse, "params", "out", books, include_org=False)
    results = reports.run_reports(tasks, workers=1, progress=False)  # one process: the order is the plan's
    assert all(r.ok for r in results), [r.error for r in results]
    seen = []
    for team in TEAMS:
        nb = nbformat.read(project_cwd / "out/2026-10" / team / "01_probe.ipynb", as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
        seen.append(json.loads(code[-1].outputs[0]["text"]))
    assert len({s["pid"] for s in seen}) == len(TEAMS)  # a new kernel per report
    assert [s["warm"] for s in seen] == [False, True, True]  # the first starts cold, the next ones were ahead
    assert not any(s["variable"] or s["module"] for s in seen)
