"""One report: a notebook run for a team and period with papermill, then rendered to an HTML page.

`ReportTask` is what the pipeline plans and an executor runs; `run_task` runs one in this process,
in a kernel started ahead of it where the executor runs several in a row.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import render
from .site import Site, page_label

ORG_TEAM = "__org__"  # the team parameter of org-level notebooks (00_*), run once per period


@dataclass(frozen=True)
class ReportTask:
    notebook: str  # path of the source notebook
    team: str
    period: str
    warehouse: str  # relative to cwd, as papermill stores paths verbatim
    params: str
    out_dir: str  # outputs/<period>/<team-dir>
    cwd: str
    extra: tuple = ()  # extra (name, value) parameters, e.g. incident mode
    # (name, value) set in the environment the notebook's kernel starts with: a detail run's audit token. Never a
    # parameter (papermill writes those into the notebook), never in a repr or run.json.
    environment: tuple = field(default=(), repr=False)
    site: Site = Site()  # the team's pages (tabs) and every team's folder, for the page's links

    @property
    def name(self) -> str:
        return Path(self.notebook).stem


@dataclass
class ReportResult:
    task: ReportTask
    ok: bool
    seconds: float
    html: str | None = None
    error: str | None = None


_KERNEL_SOCKETS: str | None = None
# What a spare kernel imports and initialises while the previous notebook runs: the library modules the
# report notebooks import, and one tiny chart through altair's SVG renderer (schema validators and
# vl-convert's engine start on first use, ~1 s). Module state only, the same in every kernel: no report
# data, nothing one notebook could pass on to the next.
KERNEL_WARM_UP = (  # expressions that bind no name in the notebook's namespace
    "[__import__(m) for m in ('copilot_finops.reports.notebook', 'copilot_finops.cost', 'copilot_finops.budget', "
    "'copilot_finops.segments', 'copilot_finops.patterns', 'copilot_finops.privacy', 'copilot_finops.retro', "
    "'copilot_finops.delivery.report', 'copilot_finops.delivery.charts')] and None",
    "__import__('copilot_finops.charts').charts.use_svg()",
    "__import__('altair').Chart(__import__('altair').Data(values=[{'x': 1}])).mark_point().encode(x='x:Q')"
    "._repr_mimebundle_() and None",
)
_SPARE_KERNEL: list = []  # [((cwd, thread), kernel manager)]: at most one kernel booting ahead, per process


def _kernel_manager_class(adopt=None):
    """Kernels talk over Unix sockets in a private folder: no TCP ports to race for, no plain-TCP warning.

    Each manager gets its own socket path, so concurrent kernels started from the same working
    folder cannot collide (jupyter_client numbers IPC sockets per folder, racily). With `adopt`, an
    already started manager, papermill gets that kernel instead of starting one, and still owns it:
    it shuts the kernel down and closes the channels when the notebook is done.
    """
    import atexit
    import shutil
    import tempfile
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    global _KERNEL_SOCKETS
    if _KERNEL_SOCKETS is None:
        _KERNEL_SOCKETS = tempfile.mkdtemp(prefix="copilot-finops-kernels-")
        atexit.register(shutil.rmtree, _KERNEL_SOCKETS, True)
    sockets = _KERNEL_SOCKETS

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self):
            return "ipc"

        @default("ip")
        def _ip_default(self):
            return os.path.join(sockets, uuid.uuid4().hex[:12])

    if adopt is None:
        return IPCKernelManager

    class AdoptedKernelManager(IPCKernelManager):
        def __new__(cls, *args, **kwargs):  # `adopt` is not an instance of this class: __init__ is skipped
            return adopt

    return AdoptedKernelManager


def _take_spare_kernel(cwd: str, start_next: bool):
    """The kernel started ahead for `cwd`, or None (papermill then starts a cold one).

    With `start_next`, the next notebook's kernel starts now, warming up (KERNEL_WARM_UP) while this
    notebook runs. A kernel still runs exactly one notebook and is then shut down: the pool only starts
    kernels early, so reports stay independent. COPILOT_FINOPS_KERNEL_AHEAD=0 turns this off.
    """
    import atexit
    import threading
    from multiprocessing import util

    from jupyter_core.utils import run_sync

    spare, key = None, (cwd, threading.get_ident())  # the manager belongs to this thread's event loop
    if _SPARE_KERNEL:
        spare_key, km = _SPARE_KERNEL.pop()
        if spare_key == key and run_sync(km.is_alive)():
            spare = km
        else:
            run_sync(km.shutdown_kernel)(now=True)
    if start_next and os.environ.get("COPILOT_FINOPS_KERNEL_AHEAD", "1") != "0":
        km = _kernel_manager_class()(kernel_name="python3")
        try:
            run_sync(km.start_kernel)(cwd=cwd, extra_arguments=[f"--IPKernelApp.exec_lines={json.dumps(KERNEL_WARM_UP)}"])
        except Exception:  # no spare then: the next notebook starts its own kernel and reports any error
            return spare
        if not hasattr(_take_spare_kernel, "cleanup"):
            def cleanup():
                while _SPARE_KERNEL:
                    run_sync(_SPARE_KERNEL.pop()[1].shutdown_kernel)(now=True)
            _take_spare_kernel.cleanup = cleanup
            atexit.register(cleanup)
            util.Finalize(None, cleanup, exitpriority=10)  # pool workers leave by os._exit, past atexit
        _SPARE_KERNEL.append((key, km))
    return spare


def task_page(task: ReportTask, nb) -> str:
    """The executed notebook as a page of the team's small site: crumbs, the team's tabs, team names linked."""
    org = task.team == ORG_TEAM
    label = "organization" if org else task.team
    title = f"{task.name.split('_', 1)[-1].replace('_', ' ').capitalize()}: {label}, {task.period}"
    crumbs = [(f"{task.period} reports", "../index.html"),
              (label, None if org else task.site.team_href(task.team)), (page_label(task.name), None)]
    return render.page(title, render.notebook_body(nb), crumbs=crumbs, restricted=dict(task.extra).get("restricted"),
                       tabs=[] if org else task.site.tabs(task.name), team_links=task.site.team_links())


def run_task(task: ReportTask, start_next_kernel: bool = False) -> ReportResult:
    """Execute one notebook with papermill and render it to HTML next to the executed .ipynb.

    `start_next_kernel`: the caller expects to run another notebook in this process, so start its
    kernel now (see `_take_spare_kernel`); this one uses the kernel started ahead of it, if any.
    """
    started = time.perf_counter()
    # before any kernel starts (this one's or the next's, started ahead: the same run, the same environment)
    saved = {name: os.environ.get(name) for name, _ in task.environment}
    os.environ.update(dict(task.environment))
    try:
        return _run_task(task, start_next_kernel, started)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_task(task: ReportTask, start_next_kernel: bool, started: float) -> ReportResult:
    import nbformat
    import papermill

    kernel = _take_spare_kernel(task.cwd, start_next_kernel)
    out_dir = Path(task.cwd, task.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out_nb = out_dir / f"{task.name}.ipynb"
    parameters = {"team": task.team, "period": task.period, "warehouse": task.warehouse, "params": task.params}
    parameters.update(dict(task.extra))
    error = None
    try:
        papermill.execute_notebook(
            task.notebook, str(out_nb), parameters=parameters, cwd=task.cwd, kernel_name="python3",
            progress_bar=False, log_output=False,
            kernel_manager_class=_kernel_manager_class(adopt=kernel),
            # papermill writes the notebook once at the end, and on a cell's error before raising it; saving it
            # at every cell's start and end as well cost a notebook about a second of this process's time
            request_save_on_cell_execute=False,
            shutdown_kernel="immediate")  # every output is in by then; a graceful exit costs ~0.4 s a notebook
    except Exception as exc:  # papermill wraps the cell's error; one team's failure must not stop the run
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc!r}"
        if not out_nb.exists():  # not a cell's error (the kernel died, timed out): the page still says why
            _write_failure(task, out_nb, exc)
    html_path = None
    if out_nb.exists():
        html_path = out_dir / f"{task.name}.html"
        html_path.write_text(task_page(task, nbformat.read(out_nb, as_version=4)))
    return ReportResult(task, error is None, time.perf_counter() - started,
                        str(html_path) if html_path else None, error)


def _write_failure(task: ReportTask, out_nb: Path, exc: Exception) -> None:
    """The notebook's page for a run that ended outside any cell: its parameters and the error, as a cell's."""
    import nbformat

    nb = nbformat.read(task.notebook, as_version=4)
    nb.cells = [nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
        "error", ename=type(exc).__name__, evalue=str(exc).strip() or repr(exc), traceback=[])])]
    nbformat.write(nb, str(out_nb))
