"""What every report notebook starts with: validated parameters, a read-only warehouse, params, charts set up.

Paths given relative (as papermill should pass them) are resolved by `paths.resolve`, so a notebook
opened from `notebooks/` in JupyterLab finds `data/` and `params/` of the project.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
from IPython.display import HTML, Markdown, display

from .. import charts, formatting, gaps, privacy, usage, warehouse as warehouse_mod
from ..errors import UserError
from ..params import OrgParams, load_params
from ..paths import resolve
from ..period import Period, check_team_slug, parse_period
from . import render
from .task import ORG_TEAM


@dataclass
class ReportContext:
    team: str
    period: Period
    con: duckdb.DuckDBPyConnection
    params: OrgParams
    small: bool = False  # the team had 1 .. k-1 members or active developers in the period: one notice, no figures
    warehouse: Path | None = None  # the file `con` reads, reopened writable for a moment by `identities_allowed`

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

    def gap_banner(self, since: date | None = None) -> None:
        """Show the banner of data gaps in the report's month (from `since`, for a report that reads further back);
        nothing when those days are complete. Every report notebook calls it in its first cell."""
        text = gaps.banner_markdown(self.con, since or self.period.start, self.period.end)
        if text:
            self.md(text)

    def table(self, frame, kinds: dict[str, str] | None = None) -> None:
        """Show a frame through the one formatter (`formatting.table`): %, money in the org's currency, separators,
        words for keys and segment labels; empty cells read 'suppressed (< k)' in suppressed rows, 'n/a' elsewhere."""
        display(HTML(render.table_html(formatting.table(frame, self.params.currency, self.segment_labels, kinds, self.k))))

    @property
    def segment_labels(self) -> dict[str, str]:
        return {segment: s.label for segment, s in self.params.segments.items()}

    def headline(self, figures: list[tuple[str, str, str]]) -> None:
        """A strip of headline figures, (label, value, note) each: what a reader should see first."""
        display(HTML(render.strip_html(figures)))

    def figures_table(self, frame, sentence: str, keys: int = 1) -> None:
        """A table of figures, or `sentence` instead when every row of it is suppressed (`privacy.all_suppressed`;
        `keys`: how many leading columns are labels, not figures)."""
        if privacy.all_suppressed(frame, self.k, keys):
            self.md(sentence)
        else:
            self.table(frame)

    def identities_allowed(self, detail, incident) -> bool:
        """May this report show logins? The incident gate (`privacy.detail_access`) for this team and period.

        A render of `report --detail` finds the access_audit row the command wrote for it. Any other render
        (papermill or JupyterLab by hand) that a recent grant covers first records its own row: the read-only
        connection is closed, a row written through a brief writable one, and `con` reopened. If the row
        cannot be written (another process holds the warehouse), nothing is shown: UserError.
        """
        access = privacy.detail_access(self.con, detail, incident, self.team, self.period.label,
                                       self.params.privacy.incident_access_hours,
                                       run_token=os.environ.get(privacy.AUDIT_TOKEN_ENV))
        if access.must_record:
            self._record_render(access.grant)
        return access.allowed

    def _record_render(self, grant: privacy.IncidentAccess) -> None:
        if self.warehouse is None:
            raise UserError("this report cannot record its access in access_audit: open it with `open_report`")
        label = "the org overview" if self.team == ORG_TEAM else f"team {self.team}"
        self.con.close()  # a process opens a DuckDB file one way at a time: read-only or writable
        try:
            with privacy.owner_only_files():
                writable = warehouse_mod.connect(self.warehouse)
                try:
                    privacy.record_access(writable, grant, f"a notebook run outside `copilot-finops report`: {label}, "
                                          f"{self.period.label}; identities", None, kind=privacy.RENDER,
                                          period=self.period.label, teams=None if self.team == ORG_TEAM else [self.team])
                finally:
                    writable.close()
        except UserError as exc:
            raise UserError(f"identities not shown: this render could not record its access ({exc})") from None
        finally:
            self.con = warehouse_mod.connect(self.warehouse, read_only=True)


def open_report(team: str, period: str, warehouse: str, params: str) -> ReportContext:
    """Validate the notebook's parameters and open what it reads. Raises UserError naming the bad value."""
    team = check_team_slug(team)
    per = parse_period(str(period))
    path = resolve(warehouse)
    con = warehouse_mod.connect(path, read_only=True)
    prm = load_params(resolve(params))
    if team not in usage.teams_in_warehouse(con):
        raise UserError(f"team {team!r} has no members in {warehouse}; teams: {', '.join(usage.teams_in_warehouse(con))}")
    charts.use_svg()
    members, active = usage.team_size(con, team, per)
    k = prm.privacy.k_anonymity
    small = bool(privacy.small_group(members, k) or privacy.small_group(active, k))
    return ReportContext(team, per, con, prm, small, warehouse=path)


def open_org_report(period: str, warehouse: str, params: str) -> ReportContext:
    """The org notebook's start (team '__org__'): validated period, read-only warehouse, params, SVG charts."""
    per = parse_period(str(period))
    path = resolve(warehouse)
    con = warehouse_mod.connect(path, read_only=True)
    prm = load_params(resolve(params))
    charts.use_svg()
    return ReportContext(ORG_TEAM, per, con, prm, warehouse=path)
