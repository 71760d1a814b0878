"""Monthly retro and org overview: discussion questions, month-over-month change, stitching, team-name safety."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import nbformat
import pandas as pd
import pytest

from copilot_finops.period import parse_period
from copilot_finops import overview, privacy, reports, retro, usage, warehouse
from copilot_finops.reports import render, stitch
from copilot_finops.cli import main
from copilot_finops.params import load_params, load_playbooks

ROOT = Path(__file__).resolve().parents[1]
EVIL = '../../../evil"<script>alert(1)</script>'


# -- discussion questions ------------------------------------------------------------------------------------------------
def test_questions_come_from_the_numbers_most_pressing_first():
    facts = {"previous": "2026-09", "stage_label": "80%", "stage_status": "forecast", "pct_forecast": 0.87,
             "actions": ["Model-routing changes: default routine chat to a lighter model."],
             "credits_per_dev_change": 0.42, "acceptance_change": -0.06, "acceptance_now": 0.24,
             "verdict": "tighten", "top_feature": "code_completion", "top_feature_share": 0.5}
    questions = retro.discussion_questions(facts)
    assert len(questions) == 3
    assert "80%" in questions[0] and "87%" in questions[0] and "Model-routing changes" in questions[0]
    assert "tighten" in questions[1]
    assert "42%" in questions[2] and "2026-09" in questions[2]  # credits moved more than acceptance
    assert not any("ode completion" in q for q in questions)  # the weakest signal did not make the cut


def test_quiet_months_still_get_three_questions_and_suppressed_teams_are_not_quoted():
    assert len(retro.discussion_questions({})) == 3
    calm = retro.discussion_questions({"credits_per_dev_change": 0.05, "acceptance_change": 0.01,
                                       "top_feature": "chat_inline", "top_feature_share": 0.41})
    assert calm[0].startswith("Inline chat produced 41%") and len(calm) == 3  # the feature in words, not its key
    hidden = retro.discussion_questions({"suppressed": True, "k": 5, "credits_per_dev_change": float("nan")})
    assert "Fewer than 5 developers" in hidden[0] and not re.search(r"\d+%", " ".join(hidden))


def test_pattern_and_cli_questions_quote_their_evidence():
    questions = retro.discussion_questions({
        "top_pattern": "Token-heavy CLI loops", "top_pattern_weeks": 2, "top_pattern_step": "Start CLI tasks with a check.",
        "cli_requests_per_prompt": 9.4, "org_cli_requests_per_prompt": 4.1})
    assert "Token-heavy CLI loops" in questions[0] and "2 developer-week" in questions[0] and "Start CLI tasks" in questions[0]
    assert "9.4" in questions[1] and "4.1" in questions[1]


# -- change since last month ------------------------------------------------------------------------------------------------
def _summary(suppressed: bool, **team) -> dict:
    keys = [key for _, key, _ in retro.CHANGE_MEASURES]
    values = {key: None if suppressed else team.get(key, 1.0) for key in keys}
    return {"team": values, "org": {}, "suppressed": suppressed, "k": 5}


def test_month_change_hides_differences_against_a_suppressed_month():
    now = _summary(False, active_developers=12, ai_credits_used=1500.0, accepted_output_ratio=0.30)
    before = _summary(False, active_developers=10, ai_credits_used=1000.0, accepted_output_ratio=0.34)
    change = retro.month_change(now, before).set_index("key")
    assert change.loc["active_developers", "change"] == 2
    assert change.loc["ai_credits_used", "change"] == pytest.approx(0.5)
    assert change.loc["accepted_output_ratio", "change"] == pytest.approx(-0.04)
    shown = retro.month_change_display(change.reset_index(), 5).set_index("measure")
    assert shown.loc["AI credits", "change"] == "+50%" and shown.loc["Accepted-output ratio", "change"] == "-4.0 pts"
    hidden = retro.month_change(now, _summary(True))
    assert hidden["change"].isna().all() and hidden["last_month"].isna().all()
    text = retro.month_change_display(hidden, 5)
    assert (text["change"] == "suppressed (< 5)").all() and (text["last month"] == "suppressed (< 5)").all()


# -- stitching ------------------------------------------------------------------------------------------------------------------
def test_stitched_page_has_a_working_toc_no_scripts_and_unique_svg_ids():
    chart = '<svg><defs><clipPath id="clip1"><rect/></clipPath></defs><g clip-path="url(#clip1)"><rect/></g></svg>'
    sections = [
        ("06_monthly_retro", "Monthly retro", f"<h1>Retro</h1><h2>Questions</h2><p>x</p>{chart}"),
        ("01_team_usage", "Team usage", f"<h1>Usage</h1><h2>Questions</h2><script>alert(1)</script>{chart}"),
    ]
    page = stitch.stitch_retro(EVIL, "2026-10", sections, restricted="incident INC-1")
    assert "<script" not in page.lower() and "alert(1)" not in page.replace("&lt;script&gt;alert(1)", "")
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # two "Questions" headings and two clip paths, all distinct
    for href in re.findall(r'href="#([^"]+)"', page):
        assert href in ids
    for target in re.findall(r"url\(#([^)]+)\)", page):
        assert target in ids
    assert page.index('id="06_monthly_retro"') < page.index('id="01_team_usage"')
    assert render.esc(EVIL) in page and "RESTRICTED: incident INC-1" in page


# -- the pack and the overview on the demo warehouse ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(small_demo):
    con = warehouse.connect(small_demo.warehouse, read_only=True)
    yield con, parse_period(small_demo.period), load_params(ROOT / "params")
    con.close()


def test_retro_pack_reads_the_usage_figures_it_quotes(demo):
    con, period, params = demo
    team = "platform-sre"
    pack = retro.build_pack(con, team, period, params, load_playbooks(ROOT / "params"), b"k" * 20)
    summary = usage.team_period_summary(con, team, period, 5)
    change = pack.change.set_index("key")
    for _, key, _ in retro.CHANGE_MEASURES:
        assert change.loc[key, "this_month"] == pytest.approx(summary["team"][key])
    assert pack.features["share of outputs"].sum() <= 1 + 1e-9
    assert (pack.features["developers"].dropna() >= 5).all()
    assert len(pack.questions) == 3 and len(set(pack.questions)) == 3
    if pack.delivery is not None:
        assert pack.delivery.verdict in ("scaling", "tighten", "inconclusive", "insufficient_data")


def test_overview_blanks_small_teams_and_the_totals_that_would_reveal_them(demo):
    con, period, params = demo
    month = overview.collect(con, period, params, b"k" * 20)
    members = overview.membership(con, period)
    figures = overview.team_figures(month, members, params)
    teams = overview.team_table(figures, 5).set_index("team_slug")
    sizes = members.groupby("team_slug")["user_id"].nunique()
    active = members[members["active"]].groupby("team_slug")["user_id"].nunique().reindex(sizes.index, fill_value=0)
    small = privacy.small_group(sizes, 5) | privacy.small_group(active, 5)
    assert small.any()  # the demo org has a team under five
    assert teams["suppressed"].equals(small.reindex(teams.index))
    assert privacy.k_violations(teams.reset_index(), 5, ["members", "active_developers"]) == []
    segments = overview.segment_table(figures, members, 5, counted_once=overview.person_totals(con, month, params))
    segments = segments.set_index("segment")
    for segment, group in figures.groupby("segment"):
        hidden = members[members["team_slug"].isin(group.loc[group["small"], "team_slug"])]["user_id"].nunique()
        assert segments.loc[segment, "suppressed"] == bool(0 < hidden < 5), segment


def test_reclaim_list_is_cost_models_idle_seats_minus_joiners_and_leavers(demo):
    from copilot_finops import seats

    con, period, params = demo
    as_of = period.end
    idle = seats.inactive_seats(con, as_of, params).set_index("team_slug")
    reclaim, left_out = overview.reclaim_list(con, as_of, params, b"k" * 20)
    assert len(reclaim) + left_out["joiners"] + left_out["leavers"] == idle.loc["(org)", "inactive_seats"]
    assert reclaim["developer"].str.fullmatch(r"dev-[0-9a-f]{12}").all()
    logins = {r[0] for r in con.execute("SELECT user_login FROM seat").fetchall()}
    named, _ = overview.reclaim_list(con, as_of, params, b"k" * 20, detail=True)
    assert set(named["developer"]) <= logins and not set(reclaim["developer"]) & logins


def test_cohorts_fold_small_groups_and_count_every_seat_holder(demo):
    frame = pd.DataFrame({"cohort": ["2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2"], "developers": [3, 9, 2, 1],
                          "active": [3, 8, 2, 1]})
    folded = overview.fold_small_cohorts(frame, 5)
    assert folded["cohort"].tolist() == ["2025-Q3 – 2026-Q2"]
    assert folded["developers"].sum() == 15 and (folded["developers"] >= 5).all()
    two = overview.fold_small_cohorts(pd.DataFrame({"cohort": list("abc"), "developers": [6, 2, 7], "active": [1, 1, 1]}), 5)
    assert two["cohort"].tolist() == ["a", "b – c"] and two["developers"].tolist() == [6, 9]
    con, period, _ = demo
    cohorts = overview.adoption_cohorts(con, period, 5)
    holders = con.execute("SELECT count(DISTINCT user_id) FROM int_cost_seat_day WHERE day BETWEEN ? AND ?",
                          [period.start, period.end]).fetchone()[0]
    assert cohorts["developers"].sum() == holders and (cohorts["developers"] >= 5).all()
    assert privacy.k_violations(cohorts, 5, ["developers", "active"]) == []


# -- team names that try to escape -------------------------------------------------------------------------------------------
def test_hostile_team_names_are_escaped_and_cannot_leave_outputs(small_demo, project_cwd):
    wh = project_cwd / "w.duckdb"
    shutil.copy(small_demo.warehouse, wh)
    con = duckdb.connect(str(wh))
    con.execute("""INSERT INTO user_team_day (day, user_id, team_id, team_slug, user_login, organization_id)
                   SELECT day, user_id, 666, ?, user_login, organization_id FROM user_team_day
                   WHERE team_slug = 'platform-sre'""", [EVIL])
    warehouse.refresh_materialized(con)  # as a report run does before its notebooks
    con.close()
    books = project_cwd / "books"
    books.mkdir()
    shutil.copy(ROOT / "notebooks/06_monthly_retro.ipynb", books)
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell('team = "x"\nperiod = "2026-10"\nwarehouse = "w"\nparams = "p"',
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("from IPython.display import HTML, Markdown, display\n"
                                          "print(team)\ndisplay(Markdown('team **' + team + '**'))")]
    nbformat.write(nb, books / "01_probe.ipynb")
    before = {p for p in project_cwd.parent.rglob("*")}
    rc = main(["report", "--period", "2026-10", "--teams", EVIL, "--warehouse", "w.duckdb",
               "--notebooks", str(books), "--out", "out", "--retro", "--workers", "2"])
    assert rc == 1  # the retro notebook refuses a slug that is not a slug; the run goes on
    created = {p for p in project_cwd.parent.rglob("*")} - before
    out = (project_cwd / "out").resolve()
    memo = project_cwd / "w.duckdb.cache"  # the month's org-wide frames, memoised beside the warehouse by design
    assert created and all(p.resolve().is_relative_to(out) or p.resolve().is_relative_to(project_cwd / "books")
                           or p.resolve().is_relative_to(memo) or p.name.endswith((".wal", ".key"))
                           for p in created), created
    evil_dir = out / "2026-10" / reports.team_dirname(EVIL)
    assert evil_dir.parent == out / "2026-10" and ".." not in evil_dir.name and "<" not in evil_dir.name
    pages = list(out.rglob("*.html"))
    assert {p.name for p in evil_dir.iterdir()} >= {"01_probe.html", "06_monthly_retro.html", "retro.html"}
    ours = re.compile(r'<script (src="(\.\./)?assets/[a-z-]+\.js" defer|type="application/json" class="vega-spec")>')
    for page in pages:
        text = page.read_text()
        assert all(ours.fullmatch(tag) for tag in re.findall(r"<script\b[^>]*>", text, re.I)), page  # only ours
        assert EVIL not in text, page
    index = (out / "2026-10/index.html").read_text()
    assert render.esc(EVIL) in index
    assert "is not a team slug" in (evil_dir / "06_monthly_retro.html").read_text()
    assert "<strong>" + render.esc(EVIL) + "</strong>" in (evil_dir / "01_probe.html").read_text()
