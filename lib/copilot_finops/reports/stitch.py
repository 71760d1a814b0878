"""The combined retro (`report --retro`): a team's month on one page, to read on screen or print for the retro.

It opens with a one-screen summary of the month, then the retro pack (06) and the other reports, each
starting on a new printed page. Every section appears once: the pages' titles and introductions are not
repeated, and a section that another report covers in full (the verdict, the patterns, the guardrail) is
left out where it repeats, with a link to the page that has it.
"""
from __future__ import annotations

import re
from pathlib import Path

from .. import privacy
from . import render
from .site import RETRO_PAGE, Site, page_label

FIRST = "06_monthly_retro"  # the retro pack leads
# Sections left out of the combined retro, by notebook and heading (case-insensitive start of the heading): those
# another section covers (the verdict, the patterns and the guardrail have their own reports; the month's figures
# are in the summary and the retro pack's change table), the week-by-week detail of flagged developer-weeks (a
# retro discusses patterns, not people's weeks), and the org-wide context and method notes each page keeps for itself.
# The retro then prints on a few A4 pages. A heading not listed stays, so a renamed section is shown rather than lost;
# each report's page, a tab away, has everything.
LEFT_OUT = {
    "06_monthly_retro": ("budget guardrail", "high-burn patterns", "delivery verdict", "shared playbooks"),
    "01_team_usage": ("the month in brief", "copilot cli", "by feature and by model", "by language and by editor"),
    "02_cost_baseline": ("against peers", "what the usage is for", "seats nobody uses"),
    "03_guardrails": ("every budget",),
    "04_high_burn_patterns": ("what this report looks for", "the flagged weeks", "the team's weeks",
                              "the team's patterns and their evidence", "across the org", "how the detection"),
    "05_delivery_correlation": ("delivery this month", "correlations, with lags", "adoption tiers",
                                "reading this honestly"),
}
# Left out as well, and linked from the retro's contents (on screen: the printed retro has no room for them, and
# with them it printed on 10 A4 pages, not 8): whole reports, the model-routing what-if (07, a planning page rather
# than the month's record), and sections, page 02's repositories and agent work.
LINKED_ONLY = ("07_model_routing",)
LINKED_SECTIONS = {"02_cost_baseline": ("per repository",)}

# scripts a notebook's HTML output may carry are dropped; a chart's spec (JSON, never run) is kept
_SCRIPT = re.compile(r'<script\b(?! type="application/json" class="vega-spec">)[^>]*>.*?</script\s*>',
                     re.IGNORECASE | re.DOTALL)
# a page's title and introduction: its h1 (in a markdown cell, or in a code cell's markdown output) up to its first h2
_H1_AND_INTRO = re.compile(r'^\s*(?:<div class="output">\s*)?<h1>.*?</h1>.*?(?=<h2>|\Z)', re.DOTALL)
_H2_SPLIT = re.compile(r"(?=<h2>)")
# the gap banner a report opens with (`ReportContext.gap_banner`): kept, once, atop the combined retro
_GAP_BANNER = re.compile(r"<blockquote>\s*<p><strong>Incomplete data\.</strong>.*?</blockquote>", re.DOTALL)
_H2 = re.compile(r"<h2>(.*?)</h2>", re.DOTALL)
_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)


def _unique_svg_ids(body: str, prefix: str) -> str:
    """Prefix ids inside each inline SVG, so clip paths of two stitched charts cannot collide."""
    counter = iter(range(1_000_000))

    def one(match: re.Match) -> str:
        svg, tag = match.group(0), f"{prefix}{next(counter)}-"
        for old in set(re.findall(r'\bid="([^"]+)"', svg)):
            svg = (svg.replace(f'id="{old}"', f'id="{tag}{old}"').replace(f"url(#{old})", f"url(#{tag}{old})")
                   .replace(f'href="#{old}"', f'href="#{tag}{old}"'))
        return svg
    return _SVG.sub(one, body)


def retro_sections(stem: str, body: str) -> tuple[str, list[str], list[str]]:
    """A report's body for the combined retro: without its title and introduction, and without the sections
    LEFT_OUT and LINKED_SECTIONS list for it. Returns (body, headings left out, headings linked from the contents)."""
    body = _H1_AND_INTRO.sub("", body, count=1)
    kept, dropped, linked = [], [], []
    for part in _H2_SPLIT.split(body):
        heading = _H2.match(part)
        title = render.plain(heading.group(1)) if heading else ""
        if heading and title.lower().startswith(LEFT_OUT.get(stem, ())):
            dropped.append(title)
        elif heading and title.lower().startswith(LINKED_SECTIONS.get(stem, ())):
            linked.append(title)
        else:
            kept.append(part)
    return "".join(kept), dropped, linked


def stitch_retro(team: str, period: str, sections: list[tuple[str, str, str]], restricted: str | None = None,
                 site: Site = Site(), summary: list[tuple[str, str, str]] | None = None, k: int | str = "k",
                 linked: tuple[str, ...] = ()) -> str:
    """One page from a team's rendered report bodies: the summary, a table of contents, then each report.

    Parameters
    ----------
    sections : (anchor, title, body HTML) per report, in the order to show; anchors must be unique. An anchor
        that names a notebook (its stem) has that notebook's LEFT_OUT sections removed.
    restricted : the incident-mode banner, shown on the page when set.
    site : the team's pages, for the tabs and the links to sections left out.
    summary : (label, value, note) figures of the month, shown first.
    k : the privacy threshold, quoted to readers.
    linked : notebook stems of the team's reports left out whole (LINKED_ONLY), linked from the contents with the
        sections LINKED_SECTIONS leaves out.

    Returns the whole HTML page: inline CSS and SVG, the charts' specs for the live charts, nothing fetched.
    """
    toc, parts, banners, also = [], [], [], []
    for anchor, title, body in sections:
        stem = anchor
        anchor = re.sub(r"[^A-Za-z0-9_-]+", "-", anchor)
        intro = _H1_AND_INTRO.match(body)
        banners += [b for b in _GAP_BANNER.findall(intro.group(0) if intro else "") if b not in banners]
        body, dropped, linked_here = retro_sections(stem, _unique_svg_ids(_SCRIPT.sub("", body), f"{anchor}-svg"))
        if linked_here and stem in site.team_pages:
            also.append(f'<a href="{render.esc(stem)}.html">{render.esc(page_label(stem))}</a>: '
                        + "; ".join(render.esc(t) for t in linked_here))
        body = re.sub(r"<(/?)h3>", r"<\1h4>", body)
        body = re.sub(r"<(/?)h2>", r"<\1h3>", body)
        headings = []

        def number(match: re.Match, anchor=anchor, headings=headings) -> str:
            hid = f"{anchor}-{len(headings) + 1}"
            headings.append((hid, render.plain(match.group(1))))
            return f'<h3 id="{hid}">{match.group(1)}</h3>'

        body = re.sub(r"<h3>(.*?)</h3>", number, body, flags=re.DOTALL)
        if dropped and stem in site.team_pages:
            body += (f'<p class="muted">On <a href="{render.esc(stem)}.html">{render.esc(page_label(stem))}</a> only: '
                     + "; ".join(render.esc(d) for d in dropped) + ".</p>")
        inner = "".join(f'<li><a href="#{hid}">{render.esc(text)}</a></li>' for hid, text in headings)
        toc.append(f'<li><a href="#{anchor}">{render.esc(title)}</a>' + (f"<ul>{inner}</ul>" if inner else "") + "</li>")
        parts.append(f'<section id="{anchor}" class="report"><h2>{render.esc(title)}</h2>{body}</section>')
    head = (f"<h1>Monthly retro: {render.esc(team)}, {render.esc(period)}</h1>"
            '<p class="muted">For the team, to improve how it works with the assistant: not for ranking people. '
            "Aggregate and pseudonymous. " + render.esc(privacy.minimum_note(k) if isinstance(k, int) else
                                                      "Figures over too few developers are suppressed.") + "</p>")
    also += [f'<a href="{render.esc(stem)}.html">{render.esc(page_label(stem))}</a>' for stem in linked
             if stem in site.team_pages]
    contents = (f'<nav class="toc" id="contents"><strong>Contents</strong><ol>{"".join(toc)}</ol>'
                + (f'<p class="muted">Not in this retro, on the team\'s pages: {"; ".join(also)}.</p>' if also else "")
                + "</nav>")
    body = (f'<section class="opening">{head}{"".join(banners)}{render.strip_html(summary) if summary else ""}'
            f'{contents}</section>' + "".join(parts))
    return render.page(f"Monthly retro: {team}, {period}", body,
                       crumbs=[(f"{period} reports", "../index.html"), (team, site.team_href(team)), ("retro", None)],
                       restricted=restricted, tabs=site.tabs(RETRO_PAGE), toc=False, team_links=site.team_links())


def write_retro(out_dir: str | Path, team: str, period: str, notebooks: list[str | Path],
                restricted: str | None = None, site: Site = Site(),
                summary: list[tuple[str, str, str]] | None = None, k: int | str = "k") -> Path:
    """outputs/<period>/<team>/retro.html from the team's executed notebooks: the retro pack first, then the rest.

    `notebooks` are the executed .ipynb files (missing ones are skipped). Returns the page's path.
    """
    import nbformat

    paths = sorted((Path(p) for p in notebooks if Path(p).exists()), key=lambda p: (p.stem != FIRST, p.stem))
    linked = tuple(p.stem for p in paths if p.stem in LINKED_ONLY)
    sections = []
    for path in (p for p in paths if p.stem not in LINKED_ONLY):
        nb = nbformat.read(path, as_version=4)
        sections.append((path.stem, page_label(path.stem), render.notebook_body(nb)))
    page = Path(out_dir) / f"{RETRO_PAGE}.html"
    page.write_text(stitch_retro(team, period, sections, restricted, site, summary, k, linked))
    return page
