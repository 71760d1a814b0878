"""What every report page shares: the stylesheet (screen and A4 print), and the chart scripts written once per period.

Pages carry their CSS inline, so a page read without its folder still reads well. Charts are inline SVG
(what prints, and what a browser without scripts shows); with scripts, `assets/report.js` replaces each SVG
by the same Vega-Lite chart drawn live by vega-embed, for tooltips and zoom. Vega, Vega-Lite and vega-embed
come from vl-convert's JavaScript bundle (the engine that already draws the SVG), copied into
`outputs/<period>/assets/`: nothing is fetched from the network.
"""
from __future__ import annotations

from pathlib import Path

ASSETS_DIR = "assets"
VEGA_BUNDLE = "vega-bundle.js"
REPORT_JS = "report.js"

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --accent:#0969da; --bg:#ffffff; --soft:#f6f8fa; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin:0; font: 15px/1.55 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color:var(--fg); background:var(--bg); }
header.site { background:#0d1117; color:#f0f6fc; padding:10px 24px; display:flex; gap:14px; align-items:baseline; flex-wrap:wrap; }
header.site a { color:#9ecbff; text-decoration:none; }
header.site a:hover { text-decoration:underline; }
header.site .crumb { color:#c9d1d9; }
header.site .sep { color:#6e7681; }
nav.tabs { border-bottom:1px solid var(--line); background:var(--soft); padding:0 24px; display:flex; flex-wrap:wrap; gap:2px; }
nav.tabs a { display:inline-block; padding:8px 14px; color:var(--fg); text-decoration:none; border-bottom:3px solid transparent; white-space:nowrap; }
nav.tabs a:hover { border-bottom-color:var(--line); }
nav.tabs a[aria-current="page"] { border-bottom-color:var(--accent); font-weight:600; }
main { max-width: 1160px; margin: 0 auto; padding: 12px 24px 60px; }
h1 { font-size: 1.7em; margin: .6em 0 .2em; }
h2 { font-size:1.3em; margin-top:1.6em; border-bottom:1px solid var(--line); padding-bottom:.2em; }
h3 { font-size:1.08em; margin-top:1.3em; }
p, li { max-width: 80ch; }
a { color: var(--accent); }
table.figures, table.index { border-collapse: collapse; margin: .6em 0 1.2em; font-variant-numeric: tabular-nums; max-width:100%; }
table.figures th, table.figures td, table.index th, table.index td { border-bottom:1px solid var(--line); padding:5px 8px; text-align:left; vertical-align:top; }
table.figures .num, table.index .num { text-align:right; }
table.figures, table.index { font-size:14px; }
@media screen { table.figures td.num, table.index td.num { white-space:nowrap; } }
table.figures thead th, table.index thead th { background:var(--soft); vertical-align:bottom; }
table.figures td, table.index td { overflow-wrap:break-word; }
.output { margin: .4em 0 1em; max-width:100%; overflow-x:auto; }
.output svg { max-width:100%; height:auto; }
figure.chart { margin: .6em 0 1.2em; max-width:100%; }
figure.chart .static svg { display:block; max-width:100%; height:auto; }
figure.chart .live { display:none; }
figure.chart.is-live .live { display:block; }
figure.chart.is-live .static { display:none; }
pre { background:var(--soft); padding:8px 12px; overflow-x:auto; font-size:13px; white-space:pre-wrap; }
.error { border-left:4px solid #cf222e; background:#ffebe9; padding:8px 12px; }
.notice { border-left:4px solid #9a6700; background:#fff8c5; padding:8px 12px; margin:1em 0; }
.restricted { background:#cf222e; color:#fff; padding:8px 24px; font-weight:600; }
.muted { color:var(--muted); }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; background:var(--soft); border:1px solid var(--line); }
.badge.failed { background:#ffebe9; border-color:#cf222e; }
nav.toc { background:var(--soft); padding:8px 16px; border-radius:6px; margin:1em 0; }
nav.toc ol, nav.toc ul { margin:.3em 0; padding-left:1.4em; }
nav.toc.inline ol { list-style:none; padding:0; display:flex; flex-wrap:wrap; gap:4px 18px; }
.summary { display:grid; grid-template-columns:repeat(auto-fill, minmax(170px, 1fr)); gap:10px; margin:1em 0 1.4em; }
.summary .figure { border:1px solid var(--line); border-radius:6px; padding:8px 12px; }
.summary .figure .value { font-size:1.35em; font-weight:600; font-variant-numeric: tabular-nums; }
.summary .figure .label { color:var(--muted); font-size:.9em; }
@page { size: A4; margin: 12mm 12mm; }
@media print {
  body { font-size: 9.5pt; line-height: 1.35; }
  h1 { font-size: 1.5em; margin: 0 0 .2em; } h2 { font-size: 1.25em; } h3 { font-size: 1.08em; margin-top: 1em; }
  p, ul, ol { margin: .4em 0; }
  header.site, nav.tabs, nav.toc.inline { display:none; }
  main { max-width:none; padding:0; }
  p, li { max-width:none; }
  h1, h2, h3 { break-after: avoid; page-break-after: avoid; }
  h2 { margin-top:1.1em; }
  .output, figure.chart { overflow:visible; break-inside: avoid; page-break-inside: avoid; }
  figure.chart .live, figure.chart.is-live .live { display:none !important; }
  figure.chart .static, figure.chart.is-live .static { display:block !important; }
  table.figures, table.index { width:100%; table-layout:auto; font-size:8.5pt; margin:.3em 0 .8em; }
  table.figures th, table.figures td, table.index th, table.index td { padding:2px 6px; }
  tr, .summary .figure { break-inside: avoid; page-break-inside: avoid; }
  section.report { break-before: page; page-break-before: always; }
  section.opening + section.report { break-before: auto; page-break-before: auto; }
  section.opening nav.toc { display:none; }
  a { color: inherit; text-decoration: none; }
}
"""

# Replace each inline SVG by the live chart when scripts run and the chart fits its column (a chart scaled down
# by CSS would place its tooltips wrongly, so a narrow window keeps the SVG). Printing shows the SVG (CSS).
REPORT_JS_SOURCE = r"""(function () {
  "use strict";
  function live(figure) {
    var source = figure.querySelector("script.vega-spec");
    var drawn = figure.querySelector(".static svg");
    if (!source || !window.vegaEmbed) { return; }
    var natural = drawn ? parseFloat(drawn.getAttribute("width")) || 0 : 0;
    if (natural > figure.clientWidth + 1) { return; }
    var target = document.createElement("div");
    target.className = "live";
    figure.appendChild(target);
    return window.vegaEmbed(target, JSON.parse(source.textContent), {renderer: "svg", actions: false})
      .then(function () { figure.classList.add("is-live"); })
      .catch(function (error) { target.remove(); console.error("chart not drawn live: " + error); });
  }
  function start() {
    var drawing = Array.prototype.map.call(document.querySelectorAll("figure.chart"), live);
    Promise.all(drawing).then(function () { document.documentElement.setAttribute("data-charts", "ready"); });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
"""


def asset_href(depth: int, name: str) -> str:
    """The link to an asset from a page `depth` folders below the period's folder."""
    return "../" * depth + f"{ASSETS_DIR}/{name}"


def write_assets(period_dir: str | Path) -> Path:
    """outputs/<period>/assets/: the Vega bundle and the page script, written once (rewritten only if they changed).

    Returns the assets folder.
    """
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    folder = Path(period_dir) / ASSETS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    bundle = "// Vega, Vega-Lite and vega-embed, bundled by vl-convert " + vl_convert.__version__ + "\n" \
        + vl_convert.javascript_bundle(vl_version=vl_version_for_vl_convert()) + "\n"
    for name, text in ((VEGA_BUNDLE, bundle), (REPORT_JS, REPORT_JS_SOURCE)):
        path = folder / name
        if not path.exists() or path.read_text() != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(path)
    return folder
