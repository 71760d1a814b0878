"""Analysts teach the detector: reviews round-trip through the warehouse, survive re-ingest, and weigh on similar weeks."""
from __future__ import annotations

import json
import shutil
from datetime import date

import pandas as pd
import pytest

from copilot_finops import patterns, warehouse
from copilot_finops.cli import main
from copilot_finops.errors import UserError
from copilot_finops.ingest import ingest_raw
from copilot_finops.params import load_params
from copilot_finops.patterns import review
from copilot_finops.period import parse_period

from conftest import ROOT


def _weeks(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["team_slug", "week_start", "pattern", "user_login", "z_cli_requests_per_prompt"])


def test_weights_follow_the_reviews_of_similar_shapes():
    week = date(2026, 10, 5)
    labelled = _weeks([("a", week, "cli_token_loop", "u1", 9.0), ("b", week, "cli_token_loop", "u2", 4.0),
                       ("c", week, "", "u3", 0.0), ("d", week, "cli_token_loop", "u4", 9.1)])
    reviewed = pd.DataFrame([
        {"team_slug": "x", "week_start": date(2026, 9, 7), "pattern": "cli_token_loop", "verdict": "dismissed",
         "shape": {"cli_requests_per_prompt": 9.0}},
        {"team_slug": "y", "week_start": date(2026, 9, 14), "pattern": "cli_token_loop", "verdict": "dismissed",
         "shape": {"cli_requests_per_prompt": 9.2}},
        {"team_slug": "d", "week_start": week, "pattern": "cli_token_loop", "verdict": "dismissed",
         "shape": {"cli_requests_per_prompt": 9.1}},
    ])
    w = review.weights(labelled, reviewed)
    assert w.iloc[0] < 0.4  # shaped like three dismissed weeks, none confirmed
    assert w.iloc[1] > 0.95  # five spreads away from them: untouched
    assert w.iloc[2] == 1.0  # no pattern, no weight to lower
    assert w.iloc[3] == 0.0  # this very pattern-week was dismissed
    confirmed = reviewed.assign(verdict=["confirmed", "confirmed", "dismissed"])
    assert review.weights(labelled, confirmed).iloc[0] > 0.7  # confirmations keep similar weeks reported


def test_review_ids_name_the_input_and_the_fix():
    assert review.parse_review_id("platform-sre/2026-10-05/off_window") == ("platform-sre", date(2026, 10, 5), "off_window")
    for bad, words in (("platform-sre/off_window", "TEAM/YYYY-MM-DD/PATTERN"), ("a/2026-10-06/off_window", "Monday"),
                       ("a/2026-10-05/napping", "unknown pattern")):
        with pytest.raises(UserError, match=words):
            review.parse_review_id(bad)


def test_confirmed_precision_per_pattern_and_month():
    reviewed = pd.DataFrame({"team_slug": ["a", "b", "c", "a"], "pattern": ["off_window"] * 3 + ["cli_token_loop"],
                             "week_start": [date(2026, 9, 28), date(2026, 10, 5), date(2026, 10, 12), date(2026, 9, 7)],
                             "verdict": ["confirmed", "confirmed", "dismissed", "dismissed"]})
    table = review.confirmed_precision(reviewed).set_index(["month", "pattern"])
    assert table.loc[("2026-10", "off_window"), "precision"] == pytest.approx(2 / 3, abs=1e-3)  # 28 Sep is October
    assert table.loc[("2026-09", "cli_token_loop"), "precision"] == 0.0


def _review(wh, *args, capsys) -> dict:
    assert main(["patterns", "review", "--period", "2026-10", "--warehouse", str(wh), "--params", str(ROOT / "params"),
                 "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_reviews_round_trip_through_the_warehouse_and_survive_reingest(small_demo, tmp_path, capsys):
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(small_demo.warehouse, wh)
    listing = _review(wh, capsys=capsys)
    rows = listing["pattern_weeks"]
    assert len(rows) >= 2 and all(r["review"] is None and r["weight"] == 1.0 for r in rows)
    assert not {r["team_slug"] for r in rows} & set(listing["teams_folded"])
    dismissed, confirmed = rows[0], rows[1]
    after = _review(wh, "--dismiss", dismissed["id"], "--confirm", confirmed["id"], "--note", "reviewed in the retro",
                    capsys=capsys)
    verdicts = {r["id"]: r["review"] for r in after["pattern_weeks"]}
    assert verdicts[dismissed["id"]] == "dismissed" and verdicts[confirmed["id"]] == "confirmed"

    def reported(path) -> set:
        """The month's flagged pattern-weeks as `patterns` counts them (per-week rows stay in the library)."""
        con = warehouse.connect(path, read_only=True)
        try:
            flagged = patterns.detect(con, load_params(ROOT / "params"), parse_period("2026-10"))
        finally:
            con.close()
        return {f"{r.team_slug}/{r.week_start}/{r.pattern}" for r in flagged.itertuples()}

    assert dismissed["id"] not in reported(wh) and dismissed["id"] in reported(small_demo.warehouse)
    ingest_raw(small_demo.raw, wh, full=True)  # every raw file read again: the reviews are not raw data
    again = {r["id"]: r["review"] for r in _review(wh, capsys=capsys)["pattern_weeks"]}
    assert again[dismissed["id"]] == "dismissed" and again[confirmed["id"]] == "confirmed"
    con = warehouse.connect(wh, read_only=True)
    try:
        stored = review.reviews(con)
        assert set(stored["note"]) == {"reviewed in the retro"} and len(stored) == 2
        assert set(patterns.review_precision(con)["pattern"]) <= {dismissed["pattern"], confirmed["pattern"]}
    finally:
        con.close()
    assert main(["patterns", "review", "--period", "2026-10", "--warehouse", str(wh), "--params", str(ROOT / "params"),
                 "--confirm", "nobody/2026-10-05/off_window"]) == 2
    assert "not a flagged pattern-week of 2026-10" in capsys.readouterr().err
