"""Report fan-out: papermill runs every report notebook per team, renders HTML, and writes the index.

Executors are a small registry keyed by name (`local` process pool by default); adding one
touches one place. One failing team never stops the others: failures are collected, shown in
the index and the summary, and make the command exit non-zero.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterable

from . import render
from .errors import UserError

ORG_TEAM = "__org__"  # the team parameter of org-level notebooks (00_*), run once per period
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


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


@dataclass
class ReportRun:
    period: str
    out_dir: Path
    results: list[ReportResult] = field(default_factory=list)

    @property
    def failed(self) -> list[ReportResult]:
        return [r for r in self.results if not r.ok]


def team_dirname(team: str) -> str:
    """A folder name for a team that cannot escape outputs/: the slug if it is safe, else a cleaned, hashed one."""
    if SAFE_NAME.match(team) and ".." not in team:
        return team
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", team).strip("_")[:40] or "team"
    return f"{cleaned}-{hashlib.sha256(team.encode()).hexdigest()[:8]}"


def discover_notebooks(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """(org notebooks 00_*, team notebooks 01_* and up), in number order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"notebook folder {folder} not found: pass --notebooks with the folder of the report notebooks")
    books = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    return [p for p in books if p.name.startswith("00_")], [p for p in books if not p.name.startswith("00_")]


def _relative(path: str | Path, cwd: Path) -> str:
    p = Path(path)
    if not p.is_absolute():
        return str(p)
    try:
        return os.path.relpath(p, cwd)
    except ValueError:
        return str(p)


_KERNEL_SOCKETS: str | None = None
# What a spare kernel imports and initialises while the previous notebook runs: the library modules the
# report notebooks import, and one tiny chart through altair's SVG renderer (schema validators and
# vl-convert's engine start on first use, ~1 s). Module state only, the same in every kernel: no report
# data, nothing one notebook could pass on to the next.
KERNEL_WARM_UP = (  # expressions that bind no name in the notebook's namespace
    "[__import__(m) for m in ('copilot_finops.notebook', 'copilot_finops.cost', 'copilot_finops.budget', "
    "'copilot_finops.segments', 'copilot_finops.patterns', 'copilot_finops.privacy', 'copilot_finops.retro', "
    "'copilot_finops.delivery_report', 'copilot_finops.delivery_charts')] and None",
    "__import__('altair').renderers.enable('svg') and None",
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


def run_task(task: ReportTask, start_next_kernel: bool = False) -> ReportResult:
    """Execute one notebook with papermill and render it to HTML next to the executed .ipynb.

    `start_next_kernel`: the caller expects to run another notebook in this process, so start its
    kernel now (see `_take_spare_kernel`); this one uses the kernel started ahead of it, if any.
    """
    import nbformat
    import papermill

    started = time.perf_counter()
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
            shutdown_kernel="immediate")  # every output is in by then; a graceful exit costs ~0.4 s a notebook
    except Exception as exc:  # papermill wraps the cell's error; one team's failure must not stop the run
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc!r}"
    html_path = None
    if out_nb.exists():
        nb = nbformat.read(out_nb, as_version=4)
        label = "organization" if task.team == ORG_TEAM else task.team
        title = f"{task.name.split('_', 1)[-1].replace('_', ' ').capitalize()}: {label}, {task.period}"
        restricted = dict(task.extra).get("restricted")
        html_path = out_dir / f"{task.name}.html"
        html_path.write_text(render.page(title, render.notebook_body(nb),
                                         crumbs=[(f"{task.period} reports", "../index.html"), (label, None)],
                                         restricted=restricted))
    return ReportResult(task, error is None, time.perf_counter() - started,
                        str(html_path) if html_path else None, error)


# -- executors: name -> function(tasks, workers, on_done) -> results ------------------------------
def _local_pool(tasks: list[ReportTask], workers: int, on_done: Callable[[ReportResult], None], **_) -> list[ReportResult]:
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


EXECUTORS: dict[str, Callable] = {"local": _local_pool}


def register_executor(name: str, runner: Callable) -> None:
    EXECUTORS[name] = runner


def plan_tasks(teams: Iterable[str], period: str, warehouse: str | Path, params: str | Path, out: str | Path,
               notebooks_dir: str | Path, cwd: Path | None = None, include_org: bool = True,
               extra: tuple = ()) -> list[ReportTask]:
    cwd = Path(cwd or Path.cwd()).resolve()
    org_books, team_books = discover_notebooks(notebooks_dir)
    wh, pr = _relative(warehouse, cwd), _relative(params, cwd)
    base = Path(_relative(out, cwd)) / period
    tasks = []
    if include_org:
        tasks += [ReportTask(str(nb.resolve()), ORG_TEAM, period, wh, pr, str(base / "org"), str(cwd), extra)
                  for nb in org_books]
    for team in teams:
        tasks += [ReportTask(str(nb.resolve()), team, period, wh, pr, str(base / team_dirname(team)), str(cwd), extra)
                  for nb in team_books]
    return tasks


def run_reports(tasks: list[ReportTask], executor: str = "local", workers: int | None = None,
                progress: bool = True, **executor_options) -> list[ReportResult]:
    """Run the tasks on the named executor; a progress bar counts teams done."""
    if executor not in EXECUTORS:
        if executor == "dask":
            from . import reports_dask  # noqa: F401  (registers itself)
        if executor not in EXECUTORS:
            raise UserError(f"unknown executor {executor!r}; available: {', '.join(sorted(EXECUTORS))}")
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
        results = EXECUTORS[executor](tasks, workers, on_done, **executor_options)
    finally:
        if bar is not None:
            bar.close()
    # Results come back in completion order, as copies from other processes: restore the plan's order.
    order = {(t.team, t.notebook): i for i, t in enumerate(tasks)}
    return sorted(results, key=lambda r: order.get((r.task.team, r.task.notebook), len(order)))


def write_index(period: str, out: Path, results: list[ReportResult], headlines: dict[str, dict],
                restricted: str | None = None, retros: dict[str, str] | None = None) -> Path:
    """outputs/<period>/index.html: the org overview first, then every team with its headline numbers and links.

    `retros` maps a team to its stitched retro page (report --retro), linked first in the team's row.
    """
    esc = render.esc
    by_team: dict[str, list[ReportResult]] = {}
    for r in results:
        by_team.setdefault(r.task.team, []).append(r)

    def links(rs: list[ReportResult]) -> str:
        items = []
        for r in rs:
            label = r.task.name.split("_", 1)[-1].replace("_", " ")
            if r.html:
                rel = os.path.relpath(r.html, out)
                items.append(f'<a href="{esc(rel)}">{esc(label)}</a>' + ("" if r.ok else ' <span class="badge failed">failed</span>'))
            else:
                items.append(f'{esc(label)} <span class="badge failed">failed</span>')
        return " · ".join(items)

    def retro_link(team: str) -> str:
        page = (retros or {}).get(team)
        return f'<a href="{esc(os.path.relpath(page, out))}"><strong>retro</strong></a> · ' if page else ""

    body = [f"<h1>Copilot FinOps reports, {esc(period)}</h1>",
            '<p class="muted">Aggregate and pseudonymous. Figures over fewer than k developers are suppressed.</p>']
    if ORG_TEAM in by_team:
        body.append(f"<h2>Organization overview</h2><p>{links(by_team[ORG_TEAM])}</p>")
    body.append('<h2>Teams</h2><table class="index"><thead><tr><th>Team</th><th>Segment</th>'
                "<th>Active developers</th><th>Requests / developer</th><th>Accepted-output ratio</th>"
                "<th>AI credits</th><th>Reports</th></tr></thead><tbody>")
    for team in sorted(t for t in by_team if t != ORG_TEAM):
        h = headlines.get(team, {})
        body.append(
            f"<tr><td>{esc(team)}</td><td>{esc(h.get('segment', ''))}</td><td>{esc(h.get('active_developers', 'n/a'))}</td>"
            f"<td>{esc(h.get('requests_per_active_developer', 'n/a'))}</td><td>{esc(h.get('accepted_output_ratio', 'n/a'))}</td>"
            f"<td>{esc(h.get('ai_credits_used', 'n/a'))}</td><td>{retro_link(team)}{links(by_team[team])}</td></tr>")
    body.append("</tbody></table>")
    failed = [r for r in results if not r.ok]
    if failed:
        body.append("<h2>Failed</h2><ul>" + "".join(
            f"<li>{esc(r.task.team)} / {esc(r.task.name)}: {esc(r.error)}</li>" for r in failed) + "</ul>")
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    index.write_text(render.page(f"Copilot FinOps reports, {period}", "\n".join(body),
                                 crumbs=[(f"{period}", None)], restricted=restricted))
    (out / "run.json").write_text(json.dumps(
        {"period": period, "results": [{**{k: v for k, v in asdict(r).items() if k != "task"},
                                        "team": r.task.team, "notebook": r.task.name} for r in results]},
        indent=2, default=str))
    return index


def team_headlines(con, teams: list[str], period, params) -> dict[str, dict]:
    """Formatted headline numbers per team for the index (suppressed teams say so)."""
    from . import usage

    k = params.privacy.k_anonymity
    out = {}
    for team in teams:
        s = usage.team_period_summary(con, team, period, k)
        t = s["team"]
        if s["suppressed"]:
            cells = dict.fromkeys(["active_developers", "requests_per_active_developer", "accepted_output_ratio",
                                   "ai_credits_used"], f"suppressed (< {k})")
        else:
            cells = {"active_developers": usage._fmt(t["active_developers"]),
                     "requests_per_active_developer": usage._fmt(t["requests_per_active_developer"]),
                     "accepted_output_ratio": usage._fmt(t["accepted_output_ratio"], pct=True),
                     "ai_credits_used": usage._fmt(t["ai_credits_used"])}
        out[team] = {"segment": params.segment_of(team), **cells}
    return out
