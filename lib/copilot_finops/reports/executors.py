"""Executors: where the planned notebooks run. A registry keyed by name, as papermill's engines are.

`local` (a process pool, the default) lives here; `dask` is loaded on first use from `reports.dask`,
which never imports this module back. Adding an executor touches `EXECUTORS` and its own module.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Callable, Iterator

from ..errors import UserError
from .task import ReportResult, ReportTask, run_task


def end_with_parent(parent_pid: int) -> None:
    """Pool worker initializer: the worker ends when the command that started it does, SIGKILL included.

    Its kernels follow (ipykernel ends a kernel whose parent is gone). Interrupts are the command's to
    handle: a Ctrl-C in the terminal reaches the whole process group, and the command then ends the pool.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):  # at once, from the kernel: prctl(PR_SET_PDEATHSIG, SIGTERM)
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)

    def watch() -> None:  # elsewhere, and for a parent that died before prctl: poll
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def _end_pool(pool: ProcessPoolExecutor) -> None:
    """Stop the pool now: queued notebooks are cancelled and running ones end with their worker."""
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in multiprocessing.active_children():  # this process's workers (the pool's, here)
        worker.terminate()
    for worker in multiprocessing.active_children():
        worker.join(timeout=5)


def run_on_pool(tasks: list[ReportTask], workers: int, on_done: Callable[[ReportResult], None], **_) -> list[ReportResult]:
    """The `local` executor: a pool of `workers` spawned processes (one notebook at a time in this one for 1)."""
    results = []
    # a worker starts the next kernel ahead unless the task is among the last ones (nothing to follow)
    last = len(tasks) - max(workers, 1)
    if workers <= 1:
        try:
            for i, t in enumerate(tasks):
                r = run_task(t, start_next_kernel=i < last)
                on_done(r)
                results.append(r)
        except BaseException:
            # Interrupted mid-notebook: its kernel ends with this process, and the client's pending asyncio
            # tasks with it; asyncio would print each one's traceback at exit.
            logging.getLogger("asyncio").setLevel(logging.CRITICAL)
            raise
        return results
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                               initializer=end_with_parent, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(run_task, t, i < last): t for i, t in enumerate(tasks)}
        for fut in as_completed(futures):
            try:
                r = fut.result()
            except Exception as exc:  # a worker died: report it as that task's failure
                r = ReportResult(futures[fut], False, 0.0, None, f"worker failed: {exc!r}")
            on_done(r)
            results.append(r)
    except BaseException:  # interrupted (Ctrl-C, SIGTERM): no worker or kernel may outlive the command
        _end_pool(pool)
        raise
    pool.shutdown()
    return results


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While reports run, SIGTERM unwinds like Ctrl-C (KeyboardInterrupt), so the executor can end its workers
    and kernels; Python's default would end this process alone and leave them running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
        with _terminate_as_interrupt():
            results = runner(tasks, workers, on_done, **executor_options)
    finally:
        if bar is not None:
            bar.close()
    # Results come back in completion order, as copies from other processes: restore the plan's order.
    order = {(t.team, t.notebook): i for i, t in enumerate(tasks)}
    return sorted(results, key=lambda r: order.get((r.task.team, r.task.notebook), len(order)))
