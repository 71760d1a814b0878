"""The report pipeline that `report` and `demo` share: plan, record incident access, run, stitch, index."""
from __future__ import annotations

import secrets
import sys
from dataclasses import replace
from pathlib import Path

from .. import gaps, headline, privacy, teams_source, usage, warehouse as warehouse_mod
from ..params import load_params
from ..paths import DEFAULT_NOTEBOOKS
from ..period import parse_period
from . import orgwide
from .assets import write_assets
from .executors import run_reports
from .index import merge_with_previous, team_headlines, write_index
from .plan import plan_tasks, team_dirname
from .stitch import write_retro
from .task import ORG_TEAM, ReportResult, ReportTask


def make_reports(warehouse: str, params: str, period_text: str, out: str, teams_arg: str | None = None,
                 notebooks: str = DEFAULT_NOTEBOOKS, executor: str = "local", workers: int | None = None,
                 progress: bool = True, extra: tuple = (), retro: bool = False,
                 access: privacy.IncidentAccess | None = None, **executor_options) -> tuple[Path, list[ReportResult]]:
    """Plan, run and index the reports; returns (index path, results).

    `retro`: also stitch each team's reports into <team>/retro.html. `access` (privacy.IncidentAccess): incident
    mode; the access (a grant, and a row per notebook) is recorded in access_audit before any notebook runs, the
    notebooks get `detail`, `incident` and `restricted`, and the output goes under <out>/restricted/<incident>/.
    """
    period = parse_period(period_text)
    prm = load_params(params)
    teams_source.sync(warehouse, prm)  # the views follow params' team source (a brief writable open if it changed)
    con = warehouse_mod.connect(warehouse, read_only=True)
    try:
        teams = usage.select_teams(con, period, teams_arg, warehouse)
    finally:
        con.close()
    restricted_root = Path(out) / "restricted"
    if access is not None:
        out = str(restricted_root / team_dirname(access.incident_id))
        extra = tuple(extra) + (("detail", True), ("incident", access.incident_id), ("restricted", access.notice))
        # identities land here: the folder is closed to others before anything is written in it
        restricted_root.mkdir(parents=True, exist_ok=True)
        privacy.restrict([restricted_root], prm.privacy.readers_group)
    tasks = plan_tasks(teams, period.label, warehouse, params, out, notebooks, include_org=not teams_arg, extra=extra,
                       retro=retro)
    if access is not None:
        tasks = record_incident_access(warehouse, access, period.label, out, tasks, teams if teams_arg else None)
    refreshed = warehouse_mod.refresh_if_stale(warehouse)  # the org-wide tables, once for every team's pages
    if refreshed is not None and progress:
        print(f"refreshed the org-wide tables every team's pages read in {refreshed:.1f} s", file=sys.stderr)
    # the org-wide passes the notebooks share (the pattern fit ...): once, named and timed, before any starts
    orgwide.run(warehouse, prm, period, orgwide.needed({t.name for t in tasks}, extra), progress)
    write_assets(Path(out) / period.label)
    results = run_reports(tasks, executor=executor, workers=workers, progress=progress, **executor_options)
    restricted = dict(extra).get("restricted")
    glance, summaries, glance_error, k = None, {}, None, prm.privacy.k_anonymity
    con = warehouse_mod.connect(warehouse, read_only=True)
    try:
        glance = headline.month_glance(con, period, prm, privacy.key_for(prm, params))
        summaries = {team: headline.team_summary(glance, con, team) for team in teams} if retro else {}
    except Exception as exc:  # the pages are written: the index still lists them, and says why its figures are missing
        glance_error = f"{type(exc).__name__}: {exc}"
    finally:
        con.close()
    retros = write_retros(results, period.label, restricted, summaries, k) if retro else None
    # A run for some teams adds to the period's index: the other teams' reports are still on disk.
    listed, retros = merge_with_previous(Path(out) / period.label, results, retros)
    con = warehouse_mod.connect(warehouse, read_only=True)
    try:
        headlines = team_headlines(con, sorted({r.task.team for r in listed} - {ORG_TEAM}), period, prm)
        gap_banner = gaps.banner_html(con, period.start, period.end)
    finally:
        con.close()
    index = write_index(period.label, Path(out) / period.label, listed, headlines, restricted, retros, k=k,
                        glance=glance, glance_error=glance_error, gap_banner=gap_banner)
    if access is not None:
        privacy.restrict([restricted_root], prm.privacy.readers_group)  # every file written: 0600 (or the group's)
    return index, results


def record_incident_access(warehouse: str, access: privacy.IncidentAccess, period: str, out: str,
                           tasks: list[ReportTask], teams: list[str] | None) -> list[ReportTask]:
    """Write the run's access_audit grant and one row per planned render (a brief writable open, before the
    read-only fan-out); return the tasks carrying the run's token, which lets their kernels find those rows.

    `teams` None: every team and the org overview. The token is a fresh secret: only its hash is stored,
    and it reaches the kernels through their environment, never a notebook parameter.
    """
    token = secrets.token_urlsafe(32)
    scope = f"period {period}; teams: {', '.join(teams) if teams else 'all, with the org overview'}; identities"
    with privacy.owner_only_files():  # the write-ahead log holds the warehouse's rows while it exists
        con = warehouse_mod.connect(warehouse)
        try:
            privacy.record_access(con, access, scope, str(Path(out) / period), period=period, teams=teams)
            for t in tasks:
                label = "the org overview" if t.team == ORG_TEAM else f"team {t.team}"
                privacy.record_access(con, access, f"{t.name} for {label}, {period}; identities",
                                      str(Path(t.out_dir) / f"{t.name}.html"), kind=privacy.RENDER, period=period,
                                      teams=None if t.team == ORG_TEAM else [t.team], notebook=t.name, run_token=token)
        finally:
            con.close()
    return [replace(t, environment=((privacy.AUDIT_TOKEN_ENV, token),)) for t in tasks]


def write_retros(results: list[ReportResult], period: str, restricted: str | None,
                 summaries: dict[str, list] | None = None, k: int | str = "k") -> dict[str, str]:
    """<team>/retro.html for every team that has rendered notebooks, opening with its `summaries` figures;
    returns team -> page path."""
    by_team: dict[str, list[ReportResult]] = {}
    for r in results:
        if r.task.team != ORG_TEAM:
            by_team.setdefault(r.task.team, []).append(r)
    pages = {}
    for team, rs in by_team.items():
        out_dir = Path(rs[0].task.cwd, rs[0].task.out_dir)
        books = [out_dir / f"{r.task.name}.ipynb" for r in rs]
        pages[team] = str(write_retro(out_dir, team, period, books, restricted, rs[0].task.site,
                                      (summaries or {}).get(team), k))
    return pages
