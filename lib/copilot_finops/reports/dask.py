"""Dask executor for the report fan-out: every notebook runs as a task on a Dask distributed cluster.

`report --executor dask` starts a `LocalCluster` (one process per worker, one thread each) unless
`--scheduler tcp://HOST:PORT` names a running cluster. A worker runs its notebook in a worker-local
temporary folder and sends back the executed .ipynb and the rendered .html; the client writes them
to the task's out_dir, so the cluster needs no shared file system for the outputs. The warehouse
and params paths must be readable by the workers: on one machine they are; on a remote cluster pass
paths that every worker mounts at the same place (or start the workers in a checkout of the project
with the same data/ and params/). A task that fails, or whose worker dies, is run once more; a
second failure is reported like any other, without stopping the rest.

`executors.EXECUTORS` names `run_on_dask` as "dask" and imports this module on first use; it never imports
the registry back.
"""
from __future__ import annotations

import logging
import re
import shutil
import socket
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

from ..errors import UserError
from .task import ReportResult, ReportTask, run_task

ATTEMPTS = 2  # a failed task is submitted once more
SCHEDULER_ADDRESS = re.compile(r"^(tcp|tls|ws|wss|ucx|inproc)://\S+$")
WORKER_WAIT_SECONDS = 60  # how long a named cluster may take to show its first worker

_WORKER_CWD: str | None = None  # a stable working folder on a worker that lacks the client's one


@dataclass(frozen=True)
class RenderedReport:
    """What a worker sends back for one notebook: the outcome and the two output files as bytes."""

    ok: bool
    seconds: float
    error: str | None
    ipynb: bytes | None
    html: bytes | None
    worker: str


def _worker_cwd(client_cwd: str) -> str:
    """The client's working folder if the worker has it (one machine, shared mount), else a private one."""
    global _WORKER_CWD
    if Path(client_cwd).is_dir():
        return client_cwd
    if _WORKER_CWD is None:
        _WORKER_CWD = tempfile.mkdtemp(prefix="copilot-finops-worker-")
    return _WORKER_CWD


def render_on_worker(task: ReportTask, notebook_source: bytes, start_next_kernel: bool = False) -> RenderedReport:
    """Run one report notebook on this worker, in a scratch folder, and return the outputs as bytes.

    Parameters
    ----------
    task : the report as planned on the client; its warehouse and params must be readable here.
    notebook_source : the notebook file's bytes, so the worker needs no copy of notebooks/.
    start_next_kernel : start the kernel of this worker's next notebook now (see task.run_task).

    Returns
    -------
    RenderedReport; the executed notebook's papermill paths name the client's input and output.
    """
    import nbformat

    host = socket.gethostname()
    scratch = Path(tempfile.mkdtemp(prefix="copilot-finops-report-"))
    try:
        cwd = _worker_cwd(task.cwd)
        for label, path in (("warehouse", task.warehouse), ("params", task.params)):
            if not Path(cwd, path).exists():
                return RenderedReport(False, 0.0, f"{label} {path} is not readable on Dask worker {host} (working folder "
                                      f"{cwd}): pass --{label} as a path every worker can read", None, None, host)
        source = scratch / "in" / Path(task.notebook).name
        source.parent.mkdir()
        source.write_bytes(notebook_source)
        result = run_task(replace(task, notebook=str(source), out_dir=str(scratch / "out"), cwd=cwd),
                                  start_next_kernel)
        executed, page = scratch / "out" / f"{task.name}.ipynb", scratch / "out" / f"{task.name}.html"
        ipynb = None
        if executed.exists():
            nb = nbformat.read(executed, as_version=4)
            if "papermill" in nb.metadata:  # name the client's files, as the local executor's output does
                nb.metadata.papermill["input_path"] = task.notebook
                nb.metadata.papermill["output_path"] = str(Path(task.cwd, task.out_dir, executed.name))
            ipynb = nbformat.writes(nb).encode()
        return RenderedReport(result.ok, result.seconds, result.error, ipynb,
                              page.read_bytes() if page.exists() else None, host)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _write_outputs(task: ReportTask, rendered: RenderedReport | None, error: str | None) -> ReportResult:
    """Write what came back into the task's out_dir on the client; the result names the local HTML."""
    out_dir = Path(task.cwd, task.out_dir)
    html_path = None
    if rendered is not None and (rendered.ipynb or rendered.html):
        out_dir.mkdir(parents=True, exist_ok=True)
        if rendered.ipynb:
            (out_dir / f"{task.name}.ipynb").write_bytes(rendered.ipynb)
        if rendered.html:
            html_path = out_dir / f"{task.name}.html"
            html_path.write_bytes(rendered.html)
    return ReportResult(task, error is None, rendered.seconds if rendered else 0.0,
                        str(html_path) if html_path else None, error)


@contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator:
    """A client on the named cluster, or on a LocalCluster of `workers` processes closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler is None:
        # processes, not threads: a notebook run holds the GIL while it writes and renders
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            yield client
        return
    if not SCHEDULER_ADDRESS.match(scheduler):
        raise UserError(f"--scheduler {scheduler!r}: expected an address like tcp://HOST:8786 (what `dask scheduler` prints)")
    try:
        client = Client(scheduler, timeout=20)
    except (OSError, TimeoutError) as exc:
        raise UserError(f"--scheduler {scheduler}: no Dask scheduler answered ({exc}); start one with `dask scheduler` "
                        f"and workers with `dask worker {scheduler}`, or leave out --scheduler for a local cluster") from exc
    with client:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
        except TimeoutError as exc:
            raise UserError(f"--scheduler {scheduler}: the cluster has no workers after {WORKER_WAIT_SECONDS} s; "
                            f"start some with `dask worker {scheduler}`") from exc
        yield client


def run_on_dask(tasks: list[ReportTask], workers: int, on_done: Callable[[ReportResult], None],
                scheduler: str | None = None) -> list[ReportResult]:
    """Run the tasks on a Dask cluster; each is retried once; outputs are written here, on the client.

    Parameters
    ----------
    tasks : planned reports (plan.plan_tasks).
    workers : size of the LocalCluster when `scheduler` is None; a named cluster keeps its own size.
    on_done : called with each final result, as it arrives.
    scheduler : address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786.

    Returns
    -------
    One ReportResult per task (in completion order), each holding the task object it was given.
    """
    from distributed import as_completed

    if not tasks:
        return []
    sources = {nb: Path(nb).read_bytes() for nb in {t.notebook for t in tasks}}
    results: list[ReportResult] = []
    with dask_client(scheduler, max(workers, 1)) as client:
        n_workers = max(len(client.scheduler_info().get("workers", {})), 1)
        last = len(tasks) - n_workers  # the last tasks have no successor on their worker: no kernel ahead

        def submit(task: ReportTask, start_next: bool):
            return client.submit(render_on_worker, task, sources[task.notebook], start_next, pure=False,
                                 key=f"report-{task.name}-{uuid.uuid4().hex[:12]}")

        attempts = {submit(t, i < last): (t, 1) for i, t in enumerate(tasks)}
        pending = as_completed(list(attempts))
        for future in pending:
            task, attempt = attempts.pop(future)
            rendered, error = None, None
            try:
                rendered = future.result()
                error = None if rendered.ok else rendered.error or "failed without an error message"
            except Exception as exc:  # the worker died or the task could not run there
                error = f"worker failed: {type(exc).__name__}: {exc}"
            future.release()
            if error is not None and attempt < ATTEMPTS:
                retry = submit(task, False)
                attempts[retry] = (task, attempt + 1)
                pending.add(retry)
                continue
            if error is not None and attempt > 1:
                error = f"{error} (failed {attempt} times)"
            result = _write_outputs(task, rendered, error)
            on_done(result)
            results.append(result)
    return results

