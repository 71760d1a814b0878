"""The stitched retro (`report --retro`): a team's rendered reports on one page, with a table of contents."""
from __future__ import annotations

import html as html_mod
import re
from pathlib import Path

from . import render


_SCRIPT = re.compile(r"<script\b.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_HEADING = re.compile(r"<h([12])>(.*?)</h\1>", re.DOTALL)
_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


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


def stitch_retro(team: str, period: str, sections: list[tuple[str, str, str]], restricted: str | None = None) -> str:
    """One page from a team's rendered report bodies: a table of contents with anchors, then each report.

    Parameters
    ----------
    sections : (anchor, title, body HTML) per report, in the order to show; anchors must be unique.
    restricted : the incident-mode banner, shown on the page when set.

    Returns the whole HTML page: inline CSS and SVG only, no scripts, nothing fetched.
    """
    toc, parts = [], []
    for anchor, title, body in sections:
        anchor = re.sub(r"[^A-Za-z0-9_-]+", "-", anchor)
        headings = []

        def number(match: re.Match, anchor=anchor, headings=headings) -> str:
            hid = f"{anchor}-{len(headings) + 1}"
            headings.append((hid, html_mod.unescape(_TAGS.sub("", match.group(2))).strip()))
            return f'<h{match.group(1)} id="{hid}">{match.group(2)}</h{match.group(1)}>'

        body = _HEADING.sub(number, _unique_svg_ids(_SCRIPT.sub("", body), f"{anchor}-svg"))
        inner = "".join(f'<li><a href="#{hid}">{render.esc(text)}</a></li>' for hid, text in headings[1:])
        toc.append(f'<li><a href="#{anchor}">{render.esc(title)}</a>' + (f"<ul>{inner}</ul>" if inner else "") + "</li>")
        parts.append(f'<section id="{anchor}" class="report">{body}</section>')
    body = (f"<h1>Monthly retro: {render.esc(team)}, {render.esc(period)}</h1>"
            '<p class="muted">For the team, to improve how it works with the assistant: not for ranking people. '
            "Aggregate and pseudonymous; each report below states the privacy minimum its figures keep to.</p>"
            f'<nav class="toc" id="contents"><strong>Contents</strong><ol>{"".join(toc)}</ol></nav>'
            + '<hr>'.join(parts))
    return render.page(f"Monthly retro: {team}, {period}", body,
                       crumbs=[(f"{period} reports", "../index.html"), (team, None), ("retro", None)],
                       restricted=restricted)


def write_retro(out_dir: str | Path, team: str, period: str, notebooks: list[str | Path],
                restricted: str | None = None) -> Path:
    """outputs/<period>/<team>/retro.html from the team's executed notebooks: the retro pack first, then the rest.

    `notebooks` are the executed .ipynb files (missing ones are skipped). Returns the page's path.
    """
    import nbformat

    paths = sorted((Path(p) for p in notebooks if Path(p).exists()),
                   key=lambda p: (not p.stem.split("_", 1)[-1].startswith("monthly_retro"), p.stem))
    sections = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        title = path.stem.split("_", 1)[-1].replace("_", " ").capitalize()
        sections.append((path.stem, title, render.notebook_body(nb)))
    page = Path(out_dir) / "retro.html"
    page.write_text(stitch_retro(team, period, sections, restricted))
    return page
