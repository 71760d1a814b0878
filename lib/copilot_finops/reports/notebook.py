"""What every report notebook starts with: validated parameters, a read-only warehouse, params, charts set up.

Paths given relative (as papermill should pass them) are resolved by `paths.resolve`, so a notebook
opened from `notebooks/` in JupyterLab finds `data/` and `params/` of the project.
"""
from __future__ import annotations

from dataclasses import dataclass

import duckdb
from IPython.display import HTML, Markdown, display

from .. import charts, usage, warehouse as warehouse_mod
from ..errors import UserError
from ..params import OrgParams, load_params
from ..paths import resolve
from ..period import Period, check_team_slug, parse_period
from .task import ORG_TEAM


@dataclass
class ReportContext:
    team: str
    period: Period
    con: duckdb.DuckDBPyConnection
    params: OrgParams

    @property
    def k(self) -> int:
        return self.params.privacy.k_anonymity

    @property
    def segment(self) -> str:
        return self.params.segment_of(self.team)

    def md(self, text: str) -> None:
        display(Markdown(text))

    def table(self, frame, **format_kwargs) -> None:
        display(HTML(frame.to_html(index=False, border=0, classes="figures", na_rep="suppressed", **format_kwargs)))


def open_report(team: str, period: str, warehouse: str, params: str) -> ReportContext:
    """Validate the notebook's parameters and open what it reads. Raises UserError naming the bad value."""
    team = check_team_slug(team)
    per = parse_period(str(period))
    con = warehouse_mod.connect(resolve(warehouse), read_only=True)
    prm = load_params(resolve(params))
    if team not in usage.teams_in_warehouse(con):
        raise UserError(f"team {team!r} has no members in {warehouse}; teams: {', '.join(usage.teams_in_warehouse(con))}")
    charts.use_svg()
    return ReportContext(team, per, con, prm)


def open_org_report(period: str, warehouse: str, params: str) -> ReportContext:
    """The org notebook's start (team '__org__'): validated period, read-only warehouse, params, SVG charts."""
    per = parse_period(str(period))
    con = warehouse_mod.connect(resolve(warehouse), read_only=True)
    prm = load_params(resolve(params))
    charts.use_svg()
    return ReportContext(ORG_TEAM, per, con, prm)
