"""Pages as a small site, on hand-made bodies: tabs, crumbs, contents, team links, live charts beside their SVG,
and the combined retro's sections (each once). The pages in a browser are tests/test_browser.py's."""
from __future__ import annotations

import json
import re

import altair as alt
import pandas as pd

from copilot_finops import charts
from copilot_finops.reports import plan, render, site, stitch
from copilot_finops.reports.assets import REPORT_JS, VEGA_BUNDLE, write_assets

EVIL = '</script><script>alert(1)</script>'


def chart_output(chart) -> dict:
    """A chart as a notebook stores it, through the report renderer."""
    charts.use_svg()
    return {"output_type": "display_data", "data": chart._repr_mimebundle_(), "metadata": {}}


def test_a_chart_is_its_svg_with_its_spec_beside_it_and_the_page_loads_the_local_scripts():
    frame = pd.DataFrame({"day": pd.to_datetime(["2026-10-01", "2026-10-02"]), "value": [1.0, 2.0],
                          "who": [EVIL, EVIL]})
    output = chart_output(alt.Chart(frame).mark_line().encode(x="day:T", y="value:Q", color="who:N",
                                                                tooltip=["who:N"]))
    assert charts.SPEC_MIMETYPE in output["data"] and "image/svg+xml" in output["data"]
    body = render.notebook_body({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [output]}]})
    assert body.count('<figure class="chart">') == 1 and "<svg" in body
    spec_text = re.search(r'<script type="application/json" class="vega-spec">(.*?)</script>', body, re.S).group(1)
    assert "<" not in spec_text and json.loads(spec_text)["mark"]["type"] == "line"  # escaped, and still the spec
    assert EVIL in json.dumps(json.loads(spec_text))
    page = render.page("t", body, depth=1)
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts == [f'<script src="../assets/{VEGA_BUNDLE}" defer>', f'<script src="../assets/{REPORT_JS}" defer>',
                       '<script type="application/json" class="vega-spec">']
    assert "<script" not in render.page("no chart", "<p>text</p>")  # a page without charts loads nothing


def test_assets_are_written_once_per_period_and_carry_vega_embed(tmp_path):
    folder = write_assets(tmp_path)
    bundle = folder / VEGA_BUNDLE
    text = bundle.read_text()
    assert "window.vegaEmbed" in text and "http://" not in text.split("\n", 1)[0]
    stamp = bundle.stat().st_mtime_ns
    write_assets(tmp_path)
    assert bundle.stat().st_mtime_ns == stamp  # unchanged: not rewritten


def test_team_pages_are_a_site_with_tabs_crumbs_and_linked_team_names(tmp_path):
    books = tmp_path / "nb"
    books.mkdir()
    for name in ("00_org_overview", "01_team_usage", "03_guardrails"):
        (books / f"{name}.ipynb").write_text("{}")
    tasks = plan.plan_tasks(["appsec", "web"], "2026-10", "w.duckdb", "params", tmp_path / "out", books, cwd=tmp_path,
                            retro=True)
    s = tasks[-1].site
    assert s.team_pages == ("01_team_usage", "03_guardrails", "retro")
    assert s.tabs("03_guardrails") == [("01 Team usage", "01_team_usage.html", False),
                                       ("03 Guardrails", "03_guardrails.html", True),
                                       ("Retro, one page", "retro.html", False)]
    assert s.team_href("web") == "../web/01_team_usage.html" and s.team_href("web", depth=0) == "web/01_team_usage.html"
    from copilot_finops.reports.task import task_page

    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# T\n\n| team | x |\n|---|---|\n| web | 1 |"}]}
    html = task_page(tasks[-1], nb)
    assert '<a href="../web/01_team_usage.html">web</a>' in html  # team name in a table cell links to its pages
    assert '<nav class="tabs"' in html and 'aria-current="page">03 Guardrails</a>' in html
    assert re.search(r'<a href="\.\./index\.html">2026-10 reports</a>.*<a href="\.\./web/01_team_usage\.html">web</a>', html)
    no_retro = plan.plan_tasks(["appsec"], "2026-10", "w.duckdb", "params", tmp_path / "out", books, cwd=tmp_path)
    assert "retro" not in no_retro[-1].site.team_pages  # no tab to a page that is not written


def test_long_pages_get_a_table_of_contents_with_unique_anchors():
    body = "<h1>T</h1>" + "".join(f"<h2>Part {i % 3}</h2><p>x</p>" for i in range(5))
    page = render.page("t", body)
    ids = re.findall(r'<h2 id="([^"]+)"', page)
    assert len(ids) == 5 and len(set(ids)) == 5
    toc = re.findall(r'<nav class="toc inline".*?</nav>', page, re.S)[0]
    assert re.findall(r'href="#([^"]+)"', toc) == ids and page.index(toc) < page.index("<h2 ")
    short = render.page("t", "<h1>T</h1><h2>Only</h2>")
    assert "nav class=\"toc" not in short


def test_combined_retro_has_each_section_once_and_a_summary_first():
    report = lambda title, *heads: f'<div class="output"><h1>{title}</h1><p>intro</p></div>' + "".join(
        f"<h2>{h}</h2><p>{h} body</p>" for h in heads)
    sections = [("06_monthly_retro", "06 Monthly retro", report("Retro", "Questions for this retro", "Delivery verdict",
                                                                  "High-burn patterns and coaching")),
                ("04_high_burn_patterns", "04 Patterns", report("Patterns", "Coaching", "Across the org")),
                ("05_delivery_correlation", "05 Delivery", report("Delivery", "The verdict", "Reading this honestly"))]
    s = site.Site(("04_high_burn_patterns", "05_delivery_correlation", "06_monthly_retro", "retro"), (("t", "t"),))
    page = stitch.stitch_retro("t", "2026-10", sections, site=s,
                               summary=[("AI credits", "39,828", "1.9× the org's per developer")])
    assert page.count("<h1>") == 1 and "intro" not in page  # one title; the pages' introductions are not repeated
    assert page.count("verdict body") == 1 and "Delivery verdict body" not in page  # the verdict once, from 05
    assert "Across the org body" not in page and "Coaching body" in page
    assert '<a href="04_high_burn_patterns.html">04 High burn patterns</a> only: Across the org' in page
    assert page.index('class="summary"') < page.index("Questions for this retro")
    assert page.count('class="report"') == 3


def test_combined_retro_links_the_routing_page_and_page_02s_repositories_instead_of_stitching_them(tmp_path):
    import nbformat

    def book(stem: str, *heads: str):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
            f"# {stem}\n\nintro\n\n" + "".join(f"## {h}\n\n{h} body\n\n" for h in heads))])
        path = tmp_path / f"{stem}.ipynb"
        nbformat.write(nb, path)
        return path

    books = [book("02_cost_baseline", "What the team spends and what it gets", "Per repository, and agent work"),
             book("06_monthly_retro", "Questions for this retro"), book("07_model_routing", "What routing would have saved")]
    s = site.Site(("02_cost_baseline", "06_monthly_retro", "07_model_routing", "retro"), (("t", "t"),))
    page = stitch.write_retro(tmp_path, "t", "2026-10", books, site=s).read_text()
    assert "What the team spends and what it gets body" in page and "Questions for this retro body" in page
    assert "Per repository, and agent work body" not in page and "What routing would have saved" not in page
    assert page.count('class="report"') == 2 and 'id="07_model_routing"' not in page
    contents = re.findall(r'<nav class="toc" id="contents">.*?</nav>', page, re.S)[0]  # hidden in print
    assert ('<a href="02_cost_baseline.html">02 Cost baseline</a>: Per repository, and agent work; '
            '<a href="07_model_routing.html">07 Model routing</a>') in contents
