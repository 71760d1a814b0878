"""What every report notebook starts with: validated parameters, a read-only warehouse, params, charts set up.

Paths given relative (as papermill should pass them) are resolved by `paths.resolve`, so a notebook
opened from `notebooks/` in JupyterLab finds `data/` and `params/` of the project.
"""
from __future__ import annotations

from dataclasses import dataclass

import duckdb
from IPython.display import HTML, Markdown, display

from .. import charts, privacy, usage, warehouse as warehouse_mod
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
    small: bool = False  # the team had 1 .. k-1 members or active developers in the period: one notice, no figures

    @property
    def k(self) -> int:
        return self.params.privacy.k_anonymity

    @property
    def segment(self) -> str:
        return self.params.segment_of(self.team)

    @property
    def segment_label(self) -> str:
        """The team's role segment as people read it (its label in params), not its id."""
        segment = self.segment
        return self.params.segments[segment].label if segment in self.params.segments else "Unassigned"

    def md(self, text: str) -> None:
        display(Markdown(text))

    @property
    def shown(self) -> bool:
        """Whether the team's figures are shown (a team under k gets one notice instead of empty sections)."""
        return not self.small

    def section(self, text: str) -> None:
        """A section's heading and prose, written only when the team's figures are shown."""
        if self.shown:
            self.md(text)

    def notice(self) -> None:
        """The one notice a team under k gets instead of the page's sections."""
        if self.small:
            self.md(privacy.small_team_notice(self.team, self.period.label, self.k))

    def table(self, frame, **format_kwargs) -> None:
        display(HTML(frame.to_html(index=False, border=0, classes="figures", na_rep="suppressed", **format_kwargs)))

    def figures_table(self, frame, sentence: str, keys: int = 1) -> None:
        """A table of figures, or `sentence` instead when every row of it is suppressed (`privacy.all_suppressed`;
        `keys`: how many leading columns are labels, not figures)."""
        if privacy.all_suppressed(frame, self.k, keys):
            self.md(sentence)
        else:
            self.table(frame)


def open_report(team: str, period: str, warehouse: str, params: str) -> ReportContext:
    """Validate the notebook's parameters and open what it reads. Raises UserError naming the bad value."""
    team = check_team_slug(team)
    per = parse_period(str(period))
    con = warehouse_mod.connect(resolve(warehouse), read_only=True)
    prm = load_params(resolve(params))
    if team not in usage.teams_in_warehouse(con):
        raise UserError(f"team {team!r} has no members in {warehouse}; teams: {', '.join(usage.teams_in_warehouse(con))}")
    charts.use_svg()
    members, active = usage.team_size(con, team, per)
    k = prm.privacy.k_anonymity
    small = bool(privacy.small_group(members, k) or privacy.small_group(active, k))
    return ReportContext(team, per, con, prm, small)


def open_org_report(period: str, warehouse: str, params: str) -> ReportContext:
    """The org notebook's start (team '__org__'): validated period, read-only warehouse, params, SVG charts."""
    per = parse_period(str(period))
    con = warehouse_mod.connect(resolve(warehouse), read_only=True)
    prm = load_params(resolve(params))
    charts.use_svg()
    return ReportContext(ORG_TEAM, per, con, prm)
