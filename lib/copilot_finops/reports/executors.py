"""Executors: where the planned notebooks run. A registry keyed by name, as papermill's engines are.

`local` (a process pool, the default) lives here; `dask` is loaded on first use from `reports.dask`,
which never imports this module back. Adding an executor touches `EXECUTORS` and its own module.
"""
from __future__ import annotations

import importlib
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Callable

from ..errors import UserError
from .task import ReportResult, ReportTask, run_task


def run_on_pool(tasks: list[ReportTask], workers: int, on_done: Callable[[ReportResult], None], **_) -> list[ReportResult]:
    """The `local` executor: a pool of `workers` spawned processes (one notebook at a time in this one for 1)."""
    results = []
    # a worker starts the next kernel ahead unless the task is among the last ones (nothing to follow)
    last = len(tasks) - max(workers, 1)
    if workers <= 1:
        for i, t in enumerate(tasks):
            r = run_task(t, start_next_kernel=i < last)
            on_done(r)
            results.append(r)
        return results
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_task, t, i < last): t for i, t in enumerate(tasks)}
        for fut in as_completed(futures):
            try:
                r = fut.result()
            except Exception as exc:  # a worker died: report it as that task's failure
                r = ReportResult(futures[fut], False, 0.0, None, f"worker failed: {exc!r}")
            on_done(r)
            results.append(r)
    return results


# name -> "module:function" of a runner(tasks, workers, on_done, **options) -> results, imported on first use so
# that the local pool never pays for Dask's imports and a plugin never needs this module.
EXECUTORS: dict[str, str] = {
    "local": f"{__name__}:run_on_pool",
    "dask": "copilot_finops.reports.dask:run_on_dask",
}


def runner_for(name: str) -> Callable:
    """The runner registered as `name`; UserError for an unknown name or a missing optional dependency."""
    if name not in EXECUTORS:
        raise UserError(f"--executor {name!r}: unknown executor; available: {', '.join(EXECUTORS)}")
    module, _, function = EXECUTORS[name].partition(":")
    try:
        return getattr(importlib.import_module(module), function)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("dask", "distributed"):
            raise UserError(f"--executor {name} needs Dask: pip install 'copilot-finops[dask]'") from exc
        raise


def run_reports(tasks: list[ReportTask], executor: str = "local", workers: int | None = None,
                progress: bool = True, **executor_options) -> list[ReportResult]:
    """Run the tasks on the named executor; a progress bar counts teams done."""
    runner = runner_for(executor)
    workers = workers or min(len(tasks), os.cpu_count() or 1) or 1
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(tasks), desc="reports", unit="notebook")

    def on_done(result: ReportResult) -> None:
        if bar is not None:
            bar.set_postfix_str(f"{result.task.team}/{result.task.name}{'' if result.ok else ' FAILED'}")
            bar.update(1)

    try:
        results = runner(tasks, workers, on_done, **executor_options)
    finally:
        if bar is not None:
            bar.close()
    # Results come back in completion order, as copies from other processes: restore the plan's order.
    order = {(t.team, t.notebook): i for i, t in enumerate(tasks)}
    return sorted(results, key=lambda r: order.get((r.task.team, r.task.notebook), len(order)))
