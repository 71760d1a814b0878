"""Planning a report run: which notebooks, for which teams, written where."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Iterable

from .. import paths
from ..errors import UserError
from .site import ORG_DIR, RETRO_PAGE, Site
from .task import ORG_TEAM, ReportTask

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def team_dirname(team: str) -> str:
    """A folder name for a team that cannot escape outputs/: the slug if it is safe, else a cleaned, hashed one."""
    if SAFE_NAME.match(team) and ".." not in team:
        return team
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", team).strip("_")[:40] or "team"
    return f"{cleaned}-{hashlib.sha256(team.encode()).hexdigest()[:8]}"


def discover_notebooks(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """(org notebooks 00_*, team notebooks 01_* and up), in number order."""
    folder = paths.notebooks_dir(folder)
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


def plan_tasks(teams: Iterable[str], period: str, warehouse: str | Path, params: str | Path, out: str | Path,
               notebooks_dir: str | Path, cwd: Path | None = None, include_org: bool = True,
               extra: tuple = (), retro: bool = False) -> list[ReportTask]:
    """One task per org notebook (when `include_org`) and per team × team notebook, each knowing its site:
    the team's pages for the tabs (the stitched retro last, when `retro`) and every team's folder."""
    cwd = Path(cwd or Path.cwd()).resolve()
    org_books, team_books = discover_notebooks(notebooks_dir)
    teams = list(teams)
    site = Site(tuple(nb.stem for nb in team_books) + ((RETRO_PAGE,) if retro else ()),
                tuple((team, team_dirname(team)) for team in teams))
    wh, pr = _relative(warehouse, cwd), _relative(params, cwd)
    base = Path(_relative(out, cwd)) / period
    tasks = []
    if include_org:
        tasks += [ReportTask(str(nb.resolve()), ORG_TEAM, period, wh, pr, str(base / ORG_DIR), str(cwd), extra,
                             site=site)
                  for nb in org_books]
    for team in teams:
        tasks += [ReportTask(str(nb.resolve()), team, period, wh, pr, str(base / team_dirname(team)), str(cwd), extra,
                             site=site) for nb in team_books]
    return tasks
