"""Benchmark of the report fan-out: notebook time against the empty-notebook floor, org size, throughput, start-up.

Run by hand from the project folder (prints figures, asserts nothing):

    .venv/bin/python bench/reports.py --teams 6

The first run generates and ingests the demo org (120 users) and a 10,000-user org (a few minutes)
under --cache; later runs reuse them. See bench/README.md for what each figure means.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil

from copilot_finops.period import parse_period
from copilot_finops import reports, warehouse as warehouse_mod
from copilot_finops.reports import task as task_mod
from copilot_finops.demo import generate_org
from copilot_finops.ingest import ingest_raw

ROOT = Path(__file__).resolve().parents[1]
PERIOD = "2026-10"
PYTHON = sys.executable


def prepare_org(cache: Path, users: int, days: int) -> Path:
    """The warehouse of a generated org under cache/reports/, built once (ready.json marks it done)."""
    base = cache / "reports" / f"org-{users}u-{days}d"
    warehouse = base / "warehouse.duckdb"
    if not (base / "ready.json").exists():
        shutil.rmtree(base, ignore_errors=True)
        print(f"generating and ingesting a {users:,}-user org into {base} (once) ...", flush=True)
        started = time.perf_counter()
        generate_org(base / "raw", users=users, days=days)
        generated = time.perf_counter() - started
        ingest_raw(base / "raw", warehouse)
        (base / "ready.json").write_text(json.dumps({"users": users, "days": days, "generate_s": round(generated),
                                                     "ingest_s": round(time.perf_counter() - started - generated)}))
    warehouse_mod.connect(warehouse).close()  # a writable open refreshes the views if sql/ changed
    warehouse_mod.refresh_if_stale(warehouse)  # as `copilot-finops report` does before its notebooks
    return warehouse


def empty_notebook(source: Path, folder: Path) -> Path:
    """A notebook with only the parameters cell of `source`: the floor every report pays."""
    nb = nbformat.read(source, as_version=4)
    nb.cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    path = folder / "00_empty_floor.ipynb"  # 00_ is not picked up: this folder is the bench's own
    nbformat.write(nb, path)
    return path


def _task(notebook: Path, team: str, warehouse: Path, out: Path) -> reports.ReportTask:
    return reports.ReportTask(str(notebook), team, PERIOD, os.path.relpath(warehouse, ROOT), "params",
                              str(out / team), str(ROOT))


def _wait_spare_idle(timeout: float = 30.0) -> None:
    """Let the kernel started ahead finish its warm-up (its CPU goes quiet)."""
    if not task_mod._SPARE_KERNEL:
        return
    proc = psutil.Process(task_mod._SPARE_KERNEL[-1][1].provisioner.pid)
    deadline = time.monotonic() + timeout
    time.sleep(0.5)
    while time.monotonic() < deadline and proc.cpu_percent(interval=0.3) > 5:
        pass


def _drop_spares() -> None:
    cleanup = getattr(task_mod._take_spare_kernel, "cleanup", None)
    if cleanup:
        cleanup()


def _stop_kernels_after(seconds: float) -> threading.Timer:
    """A watchdog: kill this process's kernels after `seconds` (papermill then reports a dead kernel)."""
    def stop():
        for proc in psutil.Process().children(recursive=True):
            try:
                if "ipykernel_launcher" in " ".join(proc.cmdline()):
                    proc.kill()
            except psutil.NoSuchProcess:
                pass
    timer = threading.Timer(seconds, stop)
    timer.daemon = True
    timer.start()
    return timer


def time_notebook(notebook: Path, team: str, warehouse: Path, out: Path, repeats: int, warm: bool,
                  timeout: float | None = None):
    """(median seconds of run_task, last result, stopped): papermill + HTML, cold kernels or kernels started
    ahead. With `timeout`, a run is stopped after that long and reported as stopped, without repeats;
    a run over a minute is not repeated either."""
    task = _task(notebook, team, warehouse, out)
    seconds, result = [], None
    if warm:
        task_mod.run_task(task, start_next_kernel=True)  # primes the first spare kernel
    for _ in range(repeats):
        if warm:
            _wait_spare_idle()
        watchdog = _stop_kernels_after(timeout) if timeout else None
        result = task_mod.run_task(task, start_next_kernel=warm)
        stopped = watchdog is not None and not watchdog.is_alive()
        if watchdog is not None:
            watchdog.cancel()
        if stopped:
            return float(timeout), result, True
        if not result.ok:
            raise SystemExit(f"{notebook.name} failed for {team}: {result.error}")
        seconds.append(result.seconds)
        if result.seconds > 60:
            break
    _drop_spares()
    return statistics.median(seconds), result, False


def slowest_cells(result: reports.ReportResult, n: int = 2) -> list[tuple[float, str]]:
    """The n slowest code cells (seconds, first line); a cell stopped by the watchdog counts as infinite."""
    nb = nbformat.read(Path(result.task.cwd, result.task.out_dir, f"{result.task.name}.ipynb"), as_version=4)
    cells = []
    for c in nb.cells:
        meta = c.metadata.get("papermill", {})
        if c.cell_type == "code" and c.source.strip():
            seconds = meta.get("duration") or (float("inf") if meta.get("start_time") and not meta.get("end_time") else 0.0)
            cells.append((seconds, c.source.strip().splitlines()[0][:60]))
    return sorted(cells, reverse=True)[:n]


def view_costs(warehouse: Path, top: int = 6) -> list[tuple[float, str]]:
    """Seconds to compute each staging/intermediate/mart view in full (a temp table of it)."""
    con = warehouse_mod.connect(warehouse, read_only=True)
    try:
        views = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal "
                                           "AND regexp_matches(view_name, '^(stg|int|mart)_') ORDER BY 1").fetchall()]
        costs = []
        for view in views:
            started = time.perf_counter()
            con.execute(f'CREATE OR REPLACE TEMP TABLE bench_view AS SELECT * FROM "{view}"')
            costs.append((time.perf_counter() - started, view))
        return sorted(costs, reverse=True)[:top]
    finally:
        con.close()


def fresh_process_seconds(code: str, repeats: int = 3) -> float:
    """Best wall time of a fresh interpreter running `code` (start-up included)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([PYTHON, "-c", code], check=True, cwd=ROOT, capture_output=True)
        best = min(best, time.perf_counter() - started)
    return best


def import_breakdown(module: str, packages: tuple[str, ...]) -> dict[str, float]:
    """Cumulative import seconds of each top-level package when `module` is imported in a fresh process."""
    proc = subprocess.run([PYTHON, "-X", "importtime", "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True)
    found = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)", line)
        if m and m.group(3) in packages and m.group(3) not in found:
            found[m.group(3)] = int(m.group(1)) / 1e6
    return found


def kernel_ready_seconds(warm_up: bool, repeats: int = 3) -> float:
    """Median seconds from starting a kernel to its first reply (with or without the warm-up lines)."""
    from jupyter_core.utils import run_sync

    seconds = []
    for _ in range(repeats):
        km = task_mod._kernel_manager_class()(kernel_name="python3")
        extra = [f"--IPKernelApp.exec_lines={json.dumps(task_mod.KERNEL_WARM_UP)}"] if warm_up else []
        started = time.perf_counter()
        run_sync(km.start_kernel)(cwd=str(ROOT), extra_arguments=extra)
        kc = km.client()
        kc.start_channels()
        run_sync(kc.wait_for_ready)(timeout=60)
        seconds.append(time.perf_counter() - started)
        kc.stop_channels()
        run_sync(km.shutdown_kernel)(now=True)
    return statistics.median(seconds)


def startup_section() -> dict[str, float]:
    vl = ("import time, vl_convert as v; s={'mark':'point','data':{'values':[{'a':1}]},'encoding':{'x':{'field':'a'}}}; "
          "t=time.perf_counter(); v.vegalite_to_svg(s); t1=time.perf_counter(); v.vegalite_to_svg(s); "
          "print(t1-t, time.perf_counter()-t1)")
    first, second = map(float, subprocess.run([PYTHON, "-c", vl], capture_output=True, text=True, check=True).stdout.split())
    figures = {
        "python -c pass": fresh_process_seconds("pass"),
        "python: import ipykernel.kernelapp": fresh_process_seconds("import ipykernel.kernelapp"),
        "python: import copilot_finops.reports.notebook": fresh_process_seconds("import copilot_finops.reports.notebook"),
        "kernel start to first reply (cold)": kernel_ready_seconds(False),
        "kernel start to first reply (with warm-up lines)": kernel_ready_seconds(True),
        "vl-convert first chart in a process": first,
        "vl-convert next chart": second,
    }
    for package, seconds in import_breakdown("copilot_finops.reports.notebook",
                                             ("pandas", "altair", "duckdb", "pydantic", "IPython", "numpy", "jsonschema")).items():
        figures[f"  of which import {package}"] = seconds
    return figures


def throughput(tasks: list[reports.ReportTask], executor: str, workers: int, kernel_ahead: bool) -> tuple[float, int]:
    """(wall seconds, failures) of one fan-out."""
    os.environ["COPILOT_FINOPS_KERNEL_AHEAD"] = "1" if kernel_ahead else "0"
    try:
        started = time.perf_counter()
        results = reports.run_reports(tasks, executor=executor, workers=workers, progress=False)
        return time.perf_counter() - started, sum(not r.ok for r in results)
    finally:
        os.environ.pop("COPILOT_FINOPS_KERNEL_AHEAD", None)
        _drop_spares()


def dask_cluster_start_seconds(workers: int) -> float:
    from copilot_finops.reports.dask import dask_client

    started = time.perf_counter()
    with dask_client(None, workers) as client:
        client.wait_for_workers(workers)
        ready = time.perf_counter() - started
    return ready


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", default="all", metavar="N|A,B",
                        help="teams in the throughput fan-out: a count (the first N) or slugs (default all)")
    parser.add_argument("--cache", default="/tmp/copilot-finops-bench", help="where the generated orgs are kept")
    parser.add_argument("--notebooks", default=str(ROOT / "notebooks"), help="report notebooks folder")
    parser.add_argument("--team", default="platform-sre", help="the team timed notebook by notebook")
    parser.add_argument("--repeats", type=int, default=3, help="runs per notebook timing (median)")
    parser.add_argument("--big-users", type=int, default=10000, help="head count of the large org")
    parser.add_argument("--big-warehouse", metavar="FILE",
                        help="use this warehouse as the large org (e.g. one bench/ingest.py --keep left) instead of "
                             "generating one; --big-users is then read from it")
    parser.add_argument("--big-timeout", type=float, default=300, help="stop a large-org notebook after this many seconds")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each fan-out configuration (best counts)")
    parser.add_argument("--skip", default="", metavar="A,B", help="sections to skip: startup, big, throughput")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    sys.stdout.reconfigure(line_buffering=True)  # figures appear as they are measured, also into a file
    os.chdir(ROOT)
    cache = Path(args.cache)
    work = cache / "reports" / "runs"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    demo = prepare_org(cache, 120, 120)
    big = None
    if "big" not in skip and args.big_warehouse:
        big = Path(args.big_warehouse).resolve()
        warehouse_mod.connect(big).close()  # a writable open refreshes the views if sql/ changed
        warehouse_mod.refresh_if_stale(big)  # as `copilot-finops report` does before its notebooks
        con = warehouse_mod.connect(big, read_only=True)
        args.big_users = con.execute("SELECT count(*) FROM seat WHERE snapshot_day = "
                                     "(SELECT max(snapshot_day) FROM seat)").fetchone()[0]
        con.close()
    elif "big" not in skip:
        big = prepare_org(cache, args.big_users, 100)
    _, team_books = reports.discover_notebooks(args.notebooks)
    floor_nb = empty_notebook(team_books[0], work)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores; "
          f"notebooks: {', '.join(p.stem for p in team_books)}\n")

    ratios = {}
    if "startup" not in skip:
        print("Kernel start-up (seconds, fresh processes)")
        for label, seconds in startup_section().items():
            print(f"  {label:<52} {seconds:6.2f}")
        print()
    notebook_section(args, [floor_nb, *team_books], demo, work, ratios)
    if big is not None:
        big_section(args, team_books, demo, big, work, ratios)
    if "throughput" not in skip:
        throughput_section(args, team_books, demo, work, ratios)
    print("Ratios (targets: report <= 2x floor; large org <= 2x demo; 2 workers >= 1.7x; dask <= 1.25x pool)")
    for label, value in ratios.items():
        print(f"  {label:<60} {value:5.2f}")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def notebook_section(args, books: list[Path], demo: Path, work: Path, ratios: dict) -> None:
    """Per notebook at demo scale, cold and with a kernel ahead; the first book is the empty floor."""
    print(f"Per notebook at demo scale (120 users), team {args.team}: median of {args.repeats} runs, seconds")
    print(f"  {'notebook':<26} {'cold kernel':>12} {'kernel ahead':>13}  slowest cell")
    timings = {}
    for nb in books:
        cold, result, _ = time_notebook(nb, args.team, demo, work / "demo", args.repeats, warm=False)
        ahead, _, _ = time_notebook(nb, args.team, demo, work / "demo", args.repeats, warm=True)
        timings[nb.stem] = (cold, ahead)
        [(cell_seconds, cell)] = slowest_cells(result, 1)
        print(f"  {nb.stem:<26} {cold:12.2f} {ahead:13.2f}  {cell_seconds:.2f} s `{cell}`")
    floor = timings[books[0].stem][0]
    ratios["median report notebook / empty floor (cold kernels)"] = statistics.median(
        timings[nb.stem][0] for nb in books[1:]) / floor
    ratios["median report notebook, kernel ahead / empty floor (cold)"] = statistics.median(
        timings[nb.stem][1] for nb in books[1:]) / floor
    print()


def clear_memos(warehouse: Path) -> None:
    """Delete the warehouse's memo entries: the next notebook is the first of its period (fills the org-wide ones)."""
    from copilot_finops import cache

    con = warehouse_mod.connect(warehouse)
    try:
        cache.clear(con)
    finally:
        con.close()


def org_wide_seconds(notebook: Path, warehouse: Path) -> float:
    """The org-wide passes the notebook reads, run as `report` runs them before its fan-out (0 when none)."""
    from copilot_finops.params import load_params
    from copilot_finops.reports import orgwide

    names = orgwide.needed({notebook.stem})
    if not names:
        return 0.0
    started = time.perf_counter()
    done = orgwide.run(str(warehouse), load_params(ROOT / "params"), parse_period(PERIOD), names, progress=False)
    if sorted(done) != sorted(names):
        raise SystemExit(f"an org-wide pass of {notebook.name} failed on {warehouse}")
    return time.perf_counter() - started


def big_section(args, books: list[Path], demo: Path, big: Path, work: Path, ratios: dict) -> None:
    """Each team notebook on the large org against the demo org, and the views that cost most there.

    Several pages read an org-wide pass, memoised beside the warehouse (the pattern fit, the delivery window,
    the what-if, the cost history, the guardrails): `report` runs each once before its fan-out. Timed on both orgs, with the memos cleared first:
    that stage, then the first team's notebook (one run), then another team's (median)."""
    other = next(t for t in _teams("all", demo) if t != args.team)
    print(f"Team notebooks on the {args.big_users:,}-user org vs the demo org, cold kernels, seconds: "
          f"org-wide: the passes `report` runs before the fan-out (memos cleared); first: {args.team}, "
          f"after them; next: {other}")
    print(f"  {'notebook':<26} {'org-wide: demo':>14} {'large':>8}   {'first: demo':>11} {'large':>8} {'ratio':>7}   "
          f"{'next: demo':>10} {'large':>8} {'ratio':>7}  slowest cells of the large org's first")
    for nb in books:
        clear_memos(demo)
        demo_wide = org_wide_seconds(nb, demo)
        demo_first, _, _ = time_notebook(nb, args.team, demo, work / "demo-first", 1, warm=False)
        demo_next, _, _ = time_notebook(nb, other, demo, work / "demo-next", args.repeats, warm=False)
        clear_memos(big)
        wide = org_wide_seconds(nb, big)
        first, result, stopped = time_notebook(nb, args.team, big, work / "big", 1, warm=False,
                                               timeout=args.big_timeout)
        nxt, _, next_stopped = time_notebook(nb, other, big, work / "big", args.repeats, warm=False,
                                             timeout=args.big_timeout)
        cells = "; ".join(f"{'stopped' if d == float('inf') else f'{d:.2f} s'} `{src}`" for d, src in slowest_cells(result))
        mark, next_mark = (">" if stopped else " "), (">" if next_stopped else " ")
        print(f"  {nb.stem:<26} {demo_wide:14.2f} {wide:8.2f}   {demo_first:11.2f} {mark}{first:7.2f} "
              f"{first / demo_first:6.2f}x   {demo_next:10.2f} {next_mark}{nxt:7.2f} {nxt / demo_next:6.2f}x  {cells}")
        ratios[f"{nb.stem} on {args.big_users:,} users / on demo, first team{' (stopped)' if stopped else ''}"] = \
            first / demo_first
        ratios[f"{nb.stem} on {args.big_users:,} users / on demo, next team{' (stopped)' if next_stopped else ''}"] = \
            nxt / demo_next
    print("  views computed in full (what to materialize first), seconds, demo -> large org:")
    small_costs = {v: s for s, v in view_costs(demo, top=100)}
    for seconds, view in view_costs(big):
        print(f"    {view:<40} {small_costs.get(view, float('nan')):6.2f} -> {seconds:6.2f}")
    print()


FANOUTS = [("pool, 1 worker", "local", 1, True), ("pool, 2 workers", "local", 2, True),
           ("pool, 1 worker, no kernel ahead", "local", 1, False), ("pool, 2 workers, no kernel ahead", "local", 2, False),
           ("dask LocalCluster, 2 workers", "dask", 2, True)]


def throughput_section(args, books: list[Path], demo: Path, work: Path, ratios: dict) -> None:
    """Whole fan-outs, each configuration `--rounds` times in a rotating order (the load of a shared
    machine drifts: rotating keeps it from favouring one configuration); the best run of each counts."""
    teams = _teams(args.teams, demo)
    tasks = reports.plan_tasks(teams, PERIOD, demo, "params", work / "fanout", args.notebooks, cwd=ROOT,
                               include_org=False)
    print(f"Fan-out throughput at demo scale: {len(teams)} teams x {len(books)} notebooks = {len(tasks)} notebooks, "
          f"best of {args.rounds} rounds")
    runs: dict[str, list[float]] = {label: [] for label, *_ in FANOUTS}
    for r in range(args.rounds):
        for label, executor, workers, ahead in FANOUTS[r % len(FANOUTS):] + FANOUTS[:r % len(FANOUTS)]:
            wall, failed = throughput(tasks, executor, workers, ahead)
            runs[label].append(wall)
            if failed:
                print(f"  {label}: {failed} notebooks FAILED")
    best = {label: min(walls) for label, walls in runs.items()}
    for label, walls in runs.items():
        print(f"  {label:<36} {best[label]:7.1f} s  {len(tasks) / best[label] * 60:6.1f} notebooks/min"
              f"   (runs: {', '.join(f'{w:.0f}' for w in walls)} s)")
    cluster = dask_cluster_start_seconds(2)
    print(f"  (dask LocalCluster start-up alone: {cluster:.1f} s, included above)\n")
    ratios["pool 2 workers / 1 worker throughput"] = best["pool, 1 worker"] / best["pool, 2 workers"]
    ratios["pool 2 / 1 worker throughput, no kernel ahead"] = (best["pool, 1 worker, no kernel ahead"]
                                                               / best["pool, 2 workers, no kernel ahead"])
    ratios["dask 2 workers / pool 2 workers time"] = best["dask LocalCluster, 2 workers"] / best["pool, 2 workers"]
    ratios["  same, without the cluster start-up"] = (best["dask LocalCluster, 2 workers"] - cluster) / best["pool, 2 workers"]


def _teams(arg: str, warehouse: Path) -> list[str]:
    from copilot_finops import usage

    con = warehouse_mod.connect(warehouse, read_only=True)
    try:
        available = usage.teams_in_warehouse(con, parse_period(PERIOD))
    finally:
        con.close()
    if arg == "all":
        return available
    if arg.isdigit():
        return available[:int(arg)]
    return [t.strip() for t in arg.split(",") if t.strip()]


if __name__ == "__main__":  # the Dask LocalCluster spawns workers that re-import this file
    sys.exit(main())
