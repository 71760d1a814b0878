"""Executed notebooks to HTML pages: code hidden, charts as inline SVG with their live twin, nothing fetched.

Our own small renderer rather than nbconvert's templates: those reference CDN scripts (require.js,
MathJax) that would make a report blank or slow offline. A chart output carries the SVG and its
Vega-Lite spec (`charts.SPEC_MIMETYPE`); the page shows the SVG, and `assets/report.js` draws the
spec live over it when scripts run (tooltips, zoom). Print and script-less browsers keep the SVG.
"""
from __future__ import annotations

import html
import json
import math
import re

import mistune

from .assets import CSS, REPORT_JS, VEGA_BUNDLE, asset_href

_markdown = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_H2 = re.compile(r"<h2( id=\"[^\"]*\")?>(.*?)</h2>", re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
TOC_MIN_SECTIONS = 4  # a page with this many sections or more gets a table of contents


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _finite(value):
    """NaN and infinities (not JSON) as null, through lists and dicts."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def script_json(value: object) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' that could close it or open a comment."""
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)
    except ValueError:
        text = json.dumps(_finite(value), separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def plain(fragment: str) -> str:
    """The text of an HTML fragment, tags removed and entities read."""
    return html.unescape(_TAGS.sub("", fragment)).strip()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", plain(text).lower()).strip("-") or "section"


def with_section_ids(body: str, prefix: str = "") -> tuple[str, list[tuple[str, str]]]:
    """Give every <h2> an id (unique on the page); returns (body, [(id, heading text)])."""
    seen: dict[str, int] = {}
    headings: list[tuple[str, str]] = []

    def one(match: re.Match) -> str:
        base = prefix + slug(match.group(2))
        seen[base] = seen.get(base, 0) + 1
        hid = base if seen[base] == 1 else f"{base}-{seen[base]}"
        headings.append((hid, plain(match.group(2))))
        return f'<h2 id="{esc(hid)}">{match.group(2)}</h2>'
    return _H2.sub(one, body), headings


def toc_html(headings: list[tuple[str, str]], title: str = "On this page", inline: bool = True) -> str:
    items = "".join(f'<li><a href="#{esc(hid)}">{esc(text)}</a></li>' for hid, text in headings)
    kind = "toc inline" if inline else "toc"
    return f'<nav class="{kind}" aria-label="{esc(title)}"><strong>{esc(title)}</strong><ol>{items}</ol></nav>'


def add_toc(body: str) -> str:
    """Number the page's sections and, on a long page, put their list before the first one."""
    body, headings = with_section_ids(body)
    if len(headings) < TOC_MIN_SECTIONS:
        return body
    first = body.index("<h2 ")
    return body[:first] + toc_html(headings) + body[first:]


def link_teams(body: str, links: dict[str, str]) -> str:
    """Table cells that hold exactly a team's name become links to the team's pages."""
    if not links:
        return body
    names = sorted((esc(t) for t in links), key=len, reverse=True)
    href = {esc(t): h for t, h in links.items()}
    cell = re.compile(r"(<td[^>]*>)\s*(" + "|".join(map(re.escape, names)) + r")\s*(</td>)")
    return cell.sub(lambda m: f'{m.group(1)}<a href="{esc(href[m.group(2)])}">{m.group(2)}</a>{m.group(3)}', body)


_FIGURE = re.compile(r"^[-+]?[\d,]+(\.\d+)?( ?%| [A-Z]{3}| AI credits)?( / [-+]?[\d,]+(\.\d+)?%)?( \(.*\))?$")
_NO_FIGURE = re.compile(r"^(n/a|suppressed( \(.*\))?|none|—|)$")


def numeric_columns(frame) -> set:
    """Columns of a text frame that hold figures (and blanks): these align right."""
    return {c for c in frame.columns if any(_FIGURE.match(str(v)) for v in frame[c])
            and all(_FIGURE.match(str(v)) or _NO_FIGURE.match(str(v)) for v in frame[c])}


def strip_html(figures: list[tuple[str, str, str]]) -> str:
    """Headline figures as a strip of cards: (label, value, note) each, already written by `figures.show`."""
    cards = "".join(f'<div class="figure"><div class="label">{esc(label)}</div><div class="value">{esc(value)}</div>'
                    + (f'<div class="label">{esc(note)}</div>' if note else "") + "</div>"
                    for label, value, note in figures)
    return f'<div class="summary">{cards}</div>'


def table_html(frame, classes: str = "figures") -> str:
    """A text frame (as `formatting.table` writes it) as an HTML table: figures right-aligned, words left-aligned."""
    columns, numeric = list(frame.columns), numeric_columns(frame)
    align = {c: ' class="num"' if c in numeric else "" for c in columns}
    head = "".join(f"<th{align[c]}>{esc(c)}</th>" for c in columns)
    rows = "".join("<tr>" + "".join(f"<td{align[c]}>{esc(v)}</td>" for c, v in zip(columns, row)) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f'<table class="{esc(classes)}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def page(title: str, body: str, crumbs: list[tuple[str, str | None]] = (), restricted: str | None = None,
         tabs: list[tuple[str, str, bool]] = (), depth: int = 1, toc: bool = True,
         team_links: dict[str, str] | None = None) -> str:
    """A whole HTML page: inline CSS; the chart scripts from ../assets/ only when the page has a chart.

    crumbs : (label, href or None) from the period's index down to this page.
    tabs : (label, href, current) of the team's pages.
    depth : how many folders below the period's folder the page sits (0 for the index), for asset links.
    toc : add a table of contents when the page has TOC_MIN_SECTIONS sections or more.
    team_links : team name -> href; table cells holding a team's name link there.
    """
    nav = ' <span class="sep">›</span> '.join(
        f'<a href="{esc(href)}">{esc(label)}</a>' if href else f'<span class="crumb">{esc(label)}</span>'
        for label, href in crumbs)
    tab_bar = ('<nav class="tabs" aria-label="pages of this team">' + "".join(
        f'<a href="{esc(href)}"' + (' aria-current="page"' if current else "") + f">{esc(label)}</a>"
        for label, href, current in tabs) + "</nav>") if tabs else ""
    banner = f'<div class="restricted">RESTRICTED: {esc(restricted)}</div>' if restricted else ""
    body = link_teams(add_toc(body) if toc else body, team_links or {})
    scripts = ""
    if 'class="vega-spec"' in body:
        scripts = "".join(f'<script src="{esc(asset_href(depth, name))}" defer></script>' for name in (VEGA_BUNDLE, REPORT_JS))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{CSS}</style>{scripts}</head><body>"
        f"{banner}<header class=\"site\"><strong>copilot-finops</strong>{nav}</header>{tab_bar}"
        f"<main>{body}</main>{banner}</body></html>\n"
    )


def _text(value) -> str:
    return value if isinstance(value, str) else "".join(value)


def _spec_of(data: dict) -> dict | None:
    key = next((k for k in data if k.startswith("application/vnd.vegalite.") and k.endswith("+json")), None)
    return data[key] if key and isinstance(data[key], dict) else None


def _output_html(output: dict) -> str:
    kind = output.get("output_type")
    if kind in ("display_data", "execute_result"):
        data = output.get("data", {})
        if "image/svg+xml" in data:
            svg, spec = _text(data["image/svg+xml"]), _spec_of(data)
            if spec is None:
                return svg
            return (f'<figure class="chart"><div class="static">{svg}</div>'
                    f'<script type="application/json" class="vega-spec">{script_json(spec)}</script></figure>')
        if "text/html" in data:
            return _text(data["text/html"])
        if "text/markdown" in data:
            return _markdown(_text(data["text/markdown"]))
        if "image/png" in data:
            return f'<img alt="chart" src="data:image/png;base64,{esc(data["image/png"])}">'
        if "text/plain" in data:
            return f"<pre>{esc(_text(data['text/plain']))}</pre>"
        return ""
    if kind == "stream":
        if output.get("name") == "stderr":
            return ""  # warnings and progress noise belong in logs, not in a report
        return f"<pre>{esc(_text(output.get('text', '')))}</pre>"
    if kind == "error":
        trace = ANSI.sub("", "\n".join(output.get("traceback", [])))
        return (f'<div class="error"><strong>This report failed:</strong> {esc(output.get("ename"))}: '
                f'{esc(output.get("evalue"))}<pre>{esc(trace[-4000:])}</pre></div>')
    return ""


def notebook_body(nb: dict) -> str:
    """The executed notebook's markdown and outputs, without code or the parameters cells."""
    parts = []
    for cell in nb.get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            continue
        if cell.get("cell_type") == "markdown":
            parts.append(_markdown(_text(cell.get("source", ""))))
        elif cell.get("cell_type") == "code":
            outs = "".join(_output_html(o) for o in cell.get("outputs", []))
            if outs:
                parts.append(f'<div class="output">{outs}</div>')
    return "\n".join(parts)
