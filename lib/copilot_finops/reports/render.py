"""Executed notebooks to self-contained HTML pages: code hidden, charts inline SVG, nothing fetched.

Our own small renderer rather than nbconvert's templates: those reference CDN scripts
(require.js, MathJax) that would make a report blank or slow offline.
"""
from __future__ import annotations

import html
import re

import mistune

_markdown = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --accent:#1f6feb; --bg:#ffffff; --soft:#f6f8fa; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.55 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color:var(--fg); background:var(--bg); }
header.site { background:#0d1117; color:#f0f6fc; padding:10px 24px; display:flex; gap:18px; align-items:baseline; flex-wrap:wrap; }
header.site a { color:#9ecbff; text-decoration:none; }
header.site .crumb { color:#c9d1d9; }
main { max-width: 1000px; margin: 0 auto; padding: 12px 24px 60px; }
h1 { font-size: 1.7em; margin: .6em 0 .2em; } h2 { font-size:1.3em; margin-top:1.6em; border-bottom:1px solid var(--line); padding-bottom:.2em; }
p, li { max-width: 75ch; }
table.figures, table.index { border-collapse: collapse; margin: .6em 0 1.2em; font-variant-numeric: tabular-nums; }
table.figures th, table.figures td, table.index th, table.index td { border-bottom:1px solid var(--line); padding:5px 12px; text-align:right; }
table.figures th:first-child, table.figures td:first-child, table.index th:first-child, table.index td:first-child { text-align:left; }
table.figures thead th, table.index thead th { background:var(--soft); }
table.index td:last-child, table.index th:last-child { text-align:left; max-width:26em; }
.output svg { max-width:100%; height:auto; }
.output { margin: .4em 0 1em; overflow-x:auto; }
pre { background:var(--soft); padding:8px 12px; overflow-x:auto; font-size:13px; }
.error { border-left:4px solid #cf222e; background:#ffebe9; padding:8px 12px; }
.restricted { background:#cf222e; color:#fff; padding:8px 24px; font-weight:600; }
.muted { color:var(--muted); }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; background:var(--soft); border:1px solid var(--line); }
.badge.failed { background:#ffebe9; border-color:#cf222e; }
nav.toc { background:var(--soft); padding:8px 16px; border-radius:6px; }
@media print { header.site { display:none; } }
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def page(title: str, body: str, crumbs: list[tuple[str, str | None]] = (), restricted: str | None = None) -> str:
    """A whole HTML page: inline CSS, no scripts, no external links."""
    nav = " › ".join(f'<a href="{esc(href)}">{esc(label)}</a>' if href else f'<span class="crumb">{esc(label)}</span>'
                     for label, href in crumbs)
    banner = f'<div class="restricted">RESTRICTED: {esc(restricted)}</div>' if restricted else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"{banner}<header class=\"site\"><strong>copilot-finops</strong>{nav}</header>"
        f"<main>{body}</main>{banner}</body></html>\n"
    )


def _output_html(output: dict) -> str:
    kind = output.get("output_type")
    if kind in ("display_data", "execute_result"):
        data = output.get("data", {})
        if "image/svg+xml" in data:
            svg = data["image/svg+xml"]
            return svg if isinstance(svg, str) else "".join(svg)
        if "text/html" in data:
            value = data["text/html"]
            return value if isinstance(value, str) else "".join(value)
        if "text/markdown" in data:
            value = data["text/markdown"]
            return _markdown(value if isinstance(value, str) else "".join(value))
        if "image/png" in data:
            return f'<img alt="chart" src="data:image/png;base64,{esc(data["image/png"])}">'
        if "text/plain" in data:
            value = data["text/plain"]
            return f"<pre>{esc(value if isinstance(value, str) else ''.join(value))}</pre>"
        return ""
    if kind == "stream":
        if output.get("name") == "stderr":
            return ""  # warnings and progress noise belong in logs, not in a report
        text = output.get("text", "")
        return f"<pre>{esc(text if isinstance(text, str) else ''.join(text))}</pre>"
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
            src = cell.get("source", "")
            parts.append(_markdown(src if isinstance(src, str) else "".join(src)))
        elif cell.get("cell_type") == "code":
            outs = "".join(_output_html(o) for o in cell.get("outputs", []))
            if outs:
                parts.append(f'<div class="output">{outs}</div>')
    return "\n".join(parts)
