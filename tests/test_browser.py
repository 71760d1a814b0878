"""The rendered demo in headless Chromium, as a reader sees it: every page at 1400 px with scripts, and at A4 print
width as printed. No horizontal overflow, no overlapping text in charts, no `nan`, tabs that reach every page of a
team, live charts with tooltips, the combined retro within 8 A4 pages, and no request that leaves the machine.

The demo is rendered once per session (`rendered_demo`, the slow part); every check reads the same pages.
Skipped, with the reason shown, when no Chromium binary is installed (`make test` installs Debian's `chromium`
when run as root, as CI is).
"""
from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest

from devtools import BROWSERS, chromium_page, decode_png, find_chromium, ink, png_chunk

SCREEN_WIDTH = 1400
A4_PRINT_WIDTH = 703  # px: 210 mm less the stylesheet's 12 mm margins, at 96 px per inch
MAX_RETRO_PAGES = 8

# Run in the page: what a reader would see wrong. Returns plain data for the assertions.
PAGE_CHECKS = r"""(() => {
  const width = document.documentElement.clientWidth;
  const name = el => el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined && el.className
                     ? "." + String(el.className).split(" ")[0] : "");
  const shown = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const seen = el => {  // drawn and not transparent: a label hidden to avoid an overlap has opacity 0
    if (!shown(el)) return false;
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const s = getComputedStyle(e); if (s.opacity === "0" || s.visibility === "hidden") return false; }
    return true; };
  const overflow = [];
  if (document.documentElement.scrollWidth > width + 1) overflow.push("page " + document.documentElement.scrollWidth);
  for (const el of document.querySelectorAll("body *:not(svg *)")) {
    if (!shown(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.right > width + 1) overflow.push(name(el) + " ends at " + Math.round(r.right));
    const style = getComputedStyle(el);
    if (["auto", "scroll", "hidden"].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1)
      overflow.push(name(el) + " cuts " + el.scrollWidth + " to " + el.clientWidth);
  }
  const overlaps = [];
  for (const svg of document.querySelectorAll("svg")) {
    if (!shown(svg)) continue;
    const boxes = Array.from(svg.querySelectorAll("text")).filter(t => t.textContent.trim() && seen(t))
      .map(t => [t.textContent.trim(), t.getBoundingClientRect()]);
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      const dx = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const dy = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (dx > 1 && dy > 2) overlaps.push(a + " | " + b);
    }
  }
  const svgText = Array.from(document.querySelectorAll("svg text")).filter(seen).map(t => t.textContent).join(" ");
  const text = document.body.innerText + " " + svgText;
  return {overflow: overflow.slice(0, 8), overlaps: overlaps.slice(0, 8),
          nan: (text.match(/.{0,40}\b(nan|NaN|inf|undefined)\b.{0,40}/g) || []).slice(0, 3),
          tabs: Array.from(document.querySelectorAll("nav.tabs a")).map(a => a.href),
          links: Array.from(document.querySelectorAll("a[href]")).map(a => a.href).filter(h => h.startsWith("file:")),
          charts: document.querySelectorAll("figure.chart").length,
          live: document.querySelectorAll("figure.chart.is-live").length,
          ready: document.documentElement.getAttribute("data-charts")};
})()"""


@pytest.fixture(scope="module")
def chromium():
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium binary on PATH (tried: " + ", ".join(BROWSERS) + "); `make test` run as root installs "
                    "Debian's `chromium`, or run `apt-get install chromium` to include this test")
    return path


@pytest.fixture(scope="module")
def rendered(chromium, rendered_demo) -> Path:
    """The whole demo report set, with the combined retros (the session's `rendered_demo`, shared with
    test_trust when both run in one process): outputs/<period>/."""
    return rendered_demo.pages


def pages_of(root: Path) -> list[Path]:
    return sorted(root.rglob("*.html"))


def test_png_decoder_and_ink_measure_on_a_known_image():
    width, height = 4, 2  # left half blue, right half white; rows filtered with type 0 (None), then 1 (Sub)
    rows = [bytes([0x1F, 0x6F, 0xEB] * 2 + [255, 255, 255] * 2)] * 2
    raw = b"".join(bytes([0]) + r for r in rows)
    png = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))
    assert decode_png(png)[3] == b"".join(rows)
    assert ink(png) == (0.5, 2)
    sub = b"".join(bytes([1]) + bytes([r[0], r[1], r[2]]) + bytes((r[i] - r[i - 3]) & 0xFF for i in range(3, len(r)))
                   for r in rows)  # filter 1 (Sub) must decode to the same pixels
    png_sub = png.replace(png_chunk(b"IDAT", zlib.compress(raw)), png_chunk(b"IDAT", zlib.compress(sub)))
    assert decode_png(png_sub)[3] == b"".join(rows)


def _wait_for_charts(tools) -> None:
    for _ in range(60):
        if tools.evaluate("document.querySelectorAll('figure.chart').length === 0 || "
                          "document.documentElement.getAttribute('data-charts') === 'ready'"):
            return
        tools.call("Runtime.evaluate", expression="new Promise(r => setTimeout(r, 100))", awaitPromise=True)
    raise AssertionError("charts never finished drawing")


@pytest.mark.slow
def test_every_page_at_1400px_reads_cleanly_with_live_charts_and_no_outside_request(chromium, rendered, tmp_path):
    pages = pages_of(rendered)
    teams = sorted(p.name for p in rendered.iterdir() if p.is_dir() and p.name not in ("assets", "org"))
    assert len(teams) >= 8 and all((rendered / t / "retro.html").exists() for t in teams)
    problems, live, charts, reached = [], 0, 0, set()
    with chromium_page(chromium, str(tmp_path / "profile"), SCREEN_WIDTH, 1000) as tools:
        for page in pages:
            url = page.as_uri()
            tools.open(url, settle=0.05)
            _wait_for_charts(tools)
            state = tools.evaluate(PAGE_CHECKS)
            where = page.relative_to(rendered)
            for kind in ("overflow", "overlaps", "nan"):
                if state[kind]:
                    problems.append(f"{where}: {kind}: {state[kind]}")
            if tools.errors():
                problems.append(f"{where}: console errors: {tools.errors()[:2]}")
            outside = {u for u in tools.requests() if not u.startswith(rendered.as_uri())}
            if outside or tools.failed_requests():
                problems.append(f"{where}: requests outside the report folder or failed: {outside} "
                                f"{tools.failed_requests()[:2]}")
            charts, live = charts + state["charts"], live + state["live"]
            if page.parent.name in teams:  # a team's tabs lead to every page of the team, and only there
                tabs = {Path(re.sub(r"^file://", "", t)) for t in state["tabs"]}
                if tabs != set(page.parent.glob("*.html")):
                    problems.append(f"{where}: tabs {sorted(t.name for t in tabs)}")
            reached |= {Path(re.sub(r"^file://|#.*$", "", h)) for h in state["links"]}
    assert not problems, "\n".join(problems)
    missing = [p for p in reached if p.suffix == ".html" and not p.exists()]
    assert not missing, missing  # no link to a page that is not there
    assert set(pages) <= reached | {rendered / "index.html"}  # every page is reachable through a link
    assert charts > 100 and live >= 0.9 * charts, (live, charts)  # nearly every chart is drawn live at 1400 px


@pytest.mark.slow
def test_every_page_at_a4_print_width_keeps_inside_the_page(chromium, rendered, tmp_path):
    problems = []
    with chromium_page(chromium, str(tmp_path / "profile"), A4_PRINT_WIDTH, 1100, scripts=False) as tools:
        tools.call("Emulation.setEmulatedMedia", media="print")
        for page in pages_of(rendered):
            tools.open(page.as_uri(), settle=0.05)
            state = tools.evaluate(PAGE_CHECKS)
            for kind in ("overflow", "overlaps", "nan"):
                if state[kind]:
                    problems.append(f"{page.relative_to(rendered)}: {kind}: {state[kind]}")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_tooltips_appear_on_hover_offline(chromium, rendered, tmp_path):
    page = rendered / "platform-sre" / "01_team_usage.html"
    with chromium_page(chromium, str(tmp_path / "profile"), SCREEN_WIDTH, 1000) as tools:
        tools.open(page.as_uri(), settle=0.05)
        _wait_for_charts(tools)
        point = tools.evaluate("""(() => {
            const mark = document.querySelector("figure.chart.is-live .live g.mark-symbol path, "
                                                + "figure.chart.is-live .live g.mark-rect path");
            mark.scrollIntoView({block: "center"});
            const r = mark.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2]; })()""")
        for kind in ("mouseMoved", "mouseMoved"):
            tools.call("Input.dispatchMouseEvent", type=kind, x=point[0], y=point[1])
        tools.call("Runtime.evaluate", expression="new Promise(r => setTimeout(r, 300))", awaitPromise=True)
        tip = tools.evaluate("""(() => { const t = document.getElementById("vg-tooltip-element");
            return t ? [t.classList.contains("visible"), t.innerText] : null; })()""")
        assert tip and tip[0] and re.search(r"\d", tip[1]), tip
        assert all(u.startswith(rendered.as_uri()) for u in tools.requests()), tools.requests()
        assert not tools.errors()


@pytest.mark.slow
def test_combined_retro_prints_to_at_most_eight_a4_pages(chromium, rendered, tmp_path):
    import base64

    counts = {}
    with chromium_page(chromium, str(tmp_path / "profile"), SCREEN_WIDTH, 1000) as tools:
        for retro in sorted(rendered.glob("*/retro.html")):
            tools.open(retro.as_uri(), settle=0.05)
            _wait_for_charts(tools)
            pdf = base64.b64decode(tools.call("Page.printToPDF", preferCSSPageSize=True, printBackground=True)["data"])
            counts[retro.parent.name] = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
    assert counts and all(1 <= n <= MAX_RETRO_PAGES for n in counts.values()), counts
