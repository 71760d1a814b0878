"""A period's reports as one small site: each team's pages behind tabs, team names linked to the team's pages.

The layout is fixed by the plan: `outputs/<period>/index.html`, the org pages in `org/`, each team's pages
in its own folder (`plan.team_dirname`), the shared scripts in `assets/`. Every link is relative, so the
folder can be moved, zipped or served as it is.
"""
from __future__ import annotations

from dataclasses import dataclass

RETRO_PAGE = "retro"  # the stitched retro (report --retro), <team>/retro.html
ORG_DIR = "org"


def page_label(stem: str) -> str:
    """A notebook's tab label: '03_guardrails' -> '03 Guardrails', 'retro' -> 'Retro, one page'."""
    if stem == RETRO_PAGE:
        return "Retro, one page"
    number, _, words = stem.partition("_")
    words = words.replace("_", " ") if words else number
    return f"{number} {words[:1].upper()}{words[1:]}" if words != number else words


@dataclass(frozen=True)
class Site:
    """Where a page sits: its team's pages (the tabs) and every team's folder.

    team_pages : notebook stems of a team's pages, in tab order (the stitched retro last, when written).
    teams : (team slug, folder) of every team in the run.
    """
    team_pages: tuple[str, ...] = ()
    teams: tuple[tuple[str, str], ...] = ()

    def tabs(self, current: str) -> list[tuple[str, str, bool]]:
        """(label, href, is this page) for each page of a team, seen from one of the team's pages."""
        return [(page_label(stem), f"{stem}.html", stem == current) for stem in self.team_pages]

    def team_href(self, team: str, depth: int = 1) -> str | None:
        """The link to a team's first page from a page `depth` folders below the period's folder, or None."""
        folder = dict(self.teams).get(team)
        if folder is None or not self.team_pages:
            return None
        return "../" * depth + f"{folder}/{self.team_pages[0]}.html"

    def team_links(self, depth: int = 1) -> dict[str, str]:
        """Every team's first page, as `team_href` links."""
        return {team: href for team, _ in self.teams if (href := self.team_href(team, depth))}
