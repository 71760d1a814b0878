"""The period's index page: the month's headline figures, the org overview, and one row per team linking its pages."""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from .. import figures, headline, privacy, usage
from . import render
from .site import page_label
from .task import ORG_TEAM, ReportResult, ReportTask


HEADLINE_FIGURES = ("active_developers", "prompts_per_active_developer", "accepted_output_ratio", "ai_credits_used")


def write_index(period: str, out: Path, results: list[ReportResult], headlines: dict[str, dict],
                restricted: str | None = None, retros: dict[str, str] | None = None, k: int | None = None,
                glance: headline.Glance | None = None, glance_error: str | None = None, gap_banner: str = "") -> Path:
    """outputs/<period>/index.html: the org's month in headline figures, the org overview, then one row per team
    (its usage figures as on page 01, then stage, spend, verdict: `headline.team_rows`) whose name links to its
    pages; the tabs there lead to the rest. A failed page is named in its team's row.

    `glance` : the month's headline figures (`headline.month_glance`); without it the rows carry names only, and
    `glance_error` says why. `k` : the privacy threshold, quoted to readers.
    `retros` maps a team to its stitched retro page (report --retro), reached through the team's tabs.
    `gap_banner` (HTML, from `gaps.banner_html`) says which report days of the period are missing, late or partial.
    """
    esc = render.esc
    by_team: dict[str, list[ReportResult]] = {}
    for r in results:
        by_team.setdefault(r.task.team, []).append(r)

    def link(r: ReportResult) -> str:
        label = page_label(r.task.name)
        badge = "" if r.ok else ' <span class="badge failed">failed</span>'
        return (f'<a href="{esc(os.path.relpath(r.html, out))}">{esc(label)}</a>' if r.html else esc(label)) + badge

    def team_cell(team: str, rs: list[ReportResult]) -> str:
        # the combined retro when there is one (kept from an earlier --retro run too): it opens with the team's
        # month and its tabs lead to every page; else the team's first page
        first = (retros or {}).get(team) or next((r.html for r in rs if r.html), None)
        href = os.path.relpath(first, out) if first else None
        name = f'<a href="{esc(href)}"><strong>{esc(team)}</strong></a>' if href else f"<strong>{esc(team)}</strong>"
        failed = [r for r in rs if not r.ok]
        return name + ("".join(f"<br>{link(r)}" for r in failed) if failed else "")

    note = privacy.minimum_note(k) if k else "Figures over too few developers are suppressed."
    body = [f"<h1>Copilot FinOps reports, {esc(period)}</h1>"]
    if glance is not None:
        body.append(render.strip_html(headline.org_strip(glance)))
    elif glance_error:
        body.append(f'<div class="error">The headline figures could not be computed: {esc(glance_error)}</div>')
    body.append(f'<p class="muted">Aggregate and pseudonymous. {esc(note)} Per active developer: prompts (IDE and '
                "CLI), not requests. A team's name opens its pages; the tabs at the top of each page lead to the others"
                + (", and to the retro on one page" if retros else "") + ".</p>")
    if gap_banner:
        body.append(gap_banner)
    if ORG_TEAM in by_team:
        body.append("<h2>Organization overview</h2><p>" + " · ".join(link(r) for r in by_team[ORG_TEAM]) + "</p>")
    teams = sorted(t for t in by_team if t != ORG_TEAM)
    labels = {key: figures.label(usage.SUMMARY_FIGURES.get(key, key)) for key in HEADLINE_FIGURES}
    rows = pd.DataFrame([{"segment": headlines.get(t, {}).get("segment", ""),
                          **{labels[key]: headlines.get(t, {}).get(key, "n/a") for key in HEADLINE_FIGURES}}
                         for t in teams], index=teams, columns=["segment", *labels.values()])
    if glance is not None:
        more = headline.team_rows(glance).set_index("team").drop(columns=["segment", "developers"], errors="ignore")
        rows = rows.join(more)
    columns, numeric = list(rows.columns), render.numeric_columns(rows)
    align = {c: ' class="num"' if c in numeric else "" for c in columns}
    body.append('<h2>Teams</h2><table class="index"><thead><tr><th>Team</th>'
                + "".join(f"<th{align[c]}>{esc(c[:1].upper() + c[1:])}</th>" for c in columns) + "</tr></thead><tbody>")
    for team in teams:
        cells = rows.loc[team]
        body.append(f"<tr><td>{team_cell(team, by_team[team])}</td>"
                    + "".join(f"<td{align[c]}>{esc(cells.get(c) if isinstance(cells.get(c), str) else 'n/a')}</td>"
                              for c in columns) + "</tr>")
    body.append("</tbody></table>")
    failed = [r for r in results if not r.ok]
    if failed:
        body.append("<h2>Failed</h2><ul>" + "".join(
            f"<li>{esc(r.task.team)} / {esc(r.task.name)}: {esc(r.error)}</li>" for r in failed) + "</ul>")
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    index.write_text(render.page(f"Copilot FinOps reports, {period}", "\n".join(body),
                                 crumbs=[(f"{period} reports", None)], restricted=restricted, depth=0,
                                 toc=False))
    (out / "run.json").write_text(json.dumps(
        {"period": period, "results": [{**{k: v for k, v in asdict(r).items() if k != "task"},
                                        "team": r.task.team, "notebook": r.task.name} for r in results],
         "retros": dict(sorted((retros or {}).items()))},
        indent=2, default=str))
    return index


def merge_with_previous(out: Path, results: list[ReportResult],
                        retros: dict[str, str] | None) -> tuple[list[ReportResult], dict[str, str]]:
    """This run's results and retro pages, plus those an earlier run recorded in out/run.json for notebooks and
    teams this run did not render (`report --teams` after a full run keeps every other team and the overview).

    Entries whose page has since been deleted are dropped; org first, then teams, each in notebook order.
    """
    try:
        recorded = json.loads((out / "run.json").read_text())
        previous = [ReportResult(ReportTask(f"{e['notebook']}.ipynb", str(e["team"]), str(recorded["period"]), "", "",
                                            "", ""), bool(e["ok"]), float(e["seconds"]), e.get("html"), e.get("error"))
                    for e in recorded["results"]]
        previous_retros = {str(t): str(p) for t, p in recorded.get("retros", {}).items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        previous, previous_retros = [], {}  # no earlier run here (or a run.json this code cannot read)
    done = {(r.task.team, r.task.name) for r in results}
    kept = [r for r in previous if (r.task.team, r.task.name) not in done and (r.html is None or Path(r.html).exists())]
    merged = sorted(kept + list(results), key=lambda r: (r.task.team != ORG_TEAM, r.task.team, r.task.name))
    pages = {t: p for t, p in previous_retros.items() if Path(p).exists()} | dict(retros or {})
    return merged, pages


def team_headlines(con, teams: list[str], period, params) -> dict[str, dict]:
    """Headline figures per team for the index, written by `usage.show` as on page 01 (suppressed teams say so)."""
    k = params.privacy.k_anonymity
    out = {}
    for team in teams:
        s = usage.team_period_summary(con, team, period, k)
        cells = {key: usage.show(s, key) for key in (*HEADLINE_FIGURES, "requests_per_active_developer")}
        segment = params.segment_of(team)
        out[team] = {"segment": params.segments[segment].label if segment in params.segments else segment, **cells}
    return out
