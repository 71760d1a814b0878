"""The one formatter's table side: plurals, words for keys, whole tables (%, money with its currency, separators,
the suppression label), and the month at a glance (headline strip, team rows, a team's summary) on the demo
warehouse, whose figures are written by `figures.show` as on the pages."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from copilot_finops import figures, formatting, headline, privacy, usage, warehouse
from copilot_finops.params import load_params
from copilot_finops.period import parse_period

ROOT = Path(__file__).resolve().parents[1]


def test_plurals_and_numbers_of_unknown_scale_read_as_words():
    assert formatting.auto(19.0) == "19" and formatting.auto(19.07) == "19.1" and formatting.auto(3.904) == "3.90"
    assert formatting.auto(6375.0) == "6,375" and formatting.auto(-0.004) == "0.00"
    assert formatting.percent(-0.001) == "0%" and formatting.number(-0.3) == "0"  # a value that rounds to 0 has no sign
    assert [formatting.plural(n, "seat") for n in (0, 1, 2)] == ["0 seats", "1 seat", "2 seats"]
    assert formatting.plural(1, "developer-week") == "1 developer-week"
    assert formatting.plural(1204, "developer-week") == "1,204 developer-weeks"
    for missing in (None, float("nan"), np.nan, pd.NA):
        assert formatting.auto(missing) == formatting.percent(missing) == formatting.money(missing) == "n/a"


def test_keys_become_words_and_names_stay_names():
    assert formatting.words("chat_panel_agent_mode") == "chat panel, agent mode" and formatting.words("code_changes") == "code changes"
    assert formatting.words("platform_sre", {"platform_sre": "Platform / SRE"}) == "Platform / SRE"
    assert formatting.words("platform-sre") == "platform-sre" and formatting.words("gpt-5-mini") == "gpt-5-mini"
    assert formatting.heading("loc_added") == "lines added" and formatting.heading("spend (USD)") == "spend (USD)"
    assert [formatting.kind_of(c) for c in ("cost_per_merged_change", "acceptance_ratio", "change", "generations")] == [
        "money", "pct", "signed_pct", "count"]


def test_a_raw_frame_becomes_a_table_a_reader_can_read():
    frame = pd.DataFrame({"feature": ["code_completion", "agent_edit", "other (fewer than 5 users)"],
                          "users": [13, 13, np.nan], "generations": [6375.0, 518.0, np.nan],
                          "loc_added": [24020.0, 2.0, np.nan], "acceptance_ratio": [0.2899, np.nan, np.nan]})
    table = formatting.table(frame, "EUR", k=5)
    assert list(table.columns) == ["feature", "developers", "outputs generated", "lines added", "acceptance ratio"]
    assert table.iloc[0].tolist() == ["code completion", "13", "6,375", "24,020", "29%"]
    assert table.iloc[1]["acceptance ratio"] == "n/a"  # agent edits carry no acceptances: nothing to measure
    assert set(table.iloc[2].tolist()[1:]) == {privacy.suppressed_label(5)}  # its developers are blank: suppressed
    marked = formatting.table(pd.DataFrame({"team": ["a", "b", "c"], "total_cost": [231.0, np.nan, 42.5],
                                            "change": [0.123, -0.004, np.nan], "suppressed": [False, True, False]}), k=5)
    assert marked.to_dict("list") == {"team": ["a", "b", "c"], "spend": ["231 USD", "suppressed (< 5)", "42.50 USD"],
                                      "change": ["+12%", "0%", "n/a"]}
    already = formatting.table(pd.DataFrame({"measure": ["Spend"], "team": [figures.show("spend", 1305.5)]}))
    assert already.iloc[0].tolist() == ["Spend", "1,306 USD"]  # text written by figures.show is kept as it is


@pytest.fixture(scope="module")
def glance(small_demo):
    params = load_params(ROOT / "params")
    con = warehouse.connect(small_demo.warehouse, read_only=True)
    yield con, headline.month_glance(con, parse_period(small_demo.period), params, b"k" * 20), params
    con.close()


def test_headline_strip_and_team_rows_quote_the_modules_figures(glance):
    con, g, params = glance
    strip = dict((label, (value, note)) for label, value, note in headline.org_strip(g))
    assert strip["Spend this month"][0] == figures.show("spend", g.org["total_cost"], currency=params.currency)
    assert strip["AI credits used"][0] == figures.show("ai_credits", g.org["ai_credits"])
    beyond = g.org["ai_credit_cost"] + g.org["premium_cost"]
    assert (figures.show("ai_credit_cost", beyond, currency=params.currency) in strip["Spend this month"][1]
            if beyond > 0 else "within the included pool, no charge" in strip["Spend this month"][1])
    assert "0.00" not in strip["Spend this month"][1]  # no charge reads as words, never as a zero amount
    staged = g.teams["stage_status"].isin(["reached", "forecast"]).sum()
    assert strip["Teams at a budget stage"][0] == f"{staged} of {len(g.teams)}"
    assert sum(int(n) for n in re.findall(r"(\d+) (?:scaling|tighten)", strip["Delivery verdicts"][0])) + sum(
        int(n) for n in re.findall(r": (\d+)", strip["Delivery verdicts"][1])) == len(g.teams)
    rows = headline.team_rows(g).set_index("team")
    small = g.teams.loc[g.teams["suppressed"], "team_slug"]
    assert len(small) and all(rows.loc[t, "spend"].startswith("suppressed") for t in small)
    shown = g.teams[~g.teams["suppressed"]].set_index("team_slug")
    for team, row in shown.iterrows():
        assert rows.loc[team, "spend"] == figures.show("spend", row["total_cost"], currency=params.currency)
        assert rows.loc[team, "segment"] == params.segments[row["segment"]].label
    assert not rows.stack().astype(str).str.contains(r"\bnan\b|_").any()


def test_a_teams_summary_is_its_index_row_and_its_usage_page(glance):
    con, g, params = glance
    team = "platform-sre"
    cards = dict((label, value) for label, value, _ in headline.team_summary(g, con, team))
    t = usage.team_period_summary(con, team, g.month.period, g.k)["team"]
    assert cards["AI credits used"] == figures.show("ai_credits", t["ai_credits_used"])
    assert cards["Spend"] == headline.team_rows(g).set_index("team").loc[team, "spend"]
    small = g.teams.loc[g.teams["suppressed"], "team_slug"].iloc[0]
    hidden = dict((label, value) for label, value, _ in headline.team_summary(g, con, small))
    assert hidden["AI credits used"].startswith("suppressed") and hidden["Spend"].startswith("suppressed")


def test_language_and_editor_shares_never_show_a_group_under_k(glance):
    con, g, _ = glance
    for team in sorted(set(g.teams["team_slug"])):
        for by in ("language", "ide"):
            shares = usage.team_shares(con, team, g.month.period, by, g.k)
            shown = shares[~shares["suppressed"]]
            assert (shown["developers"] >= g.k).all()
            if len(shown):  # what is shown adds up: no hidden remainder to work out by subtraction
                for column in [c for c in shares if c.startswith("share")]:
                    assert shown[column].sum() == pytest.approx(1.0) or shares["suppressed"].all()
