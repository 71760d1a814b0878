"""Usage against delivery on the demo org: verdicts against the injected relationships, the command, the notebook.

ground_truth.json is read here, in the tests, and nowhere in the product.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
from datetime import date
from pathlib import Path

import pytest

from copilot_finops.period import parse_period
from copilot_finops.delivery import usage as delivery_usage, verdict as delivery_verdict
from copilot_finops.demo import org as demo_org
from copilot_finops.cli import main

ROOT = Path(__file__).resolve().parents[1]
PERIOD = "2026-10"
TEAM_KEYS = {"team", "verdict", "reason", "evidence", "weeks", "developers", "correlations", "metrics", "caveat"}
CORRELATION_KEYS = {"usage_measure", "delivery_metric", "lag_weeks", "spearman", "ci_low", "ci_high", "n"}


def _build(base: Path, seed: int) -> tuple[Path, dict]:
    from copilot_finops.demo import generate_org
    from copilot_finops.ingest import ingest_raw

    result = generate_org(base / "raw", seed=seed, users=120, days=120, end=date(2026, 10, 31))
    ingest_raw(base / "raw", base / "warehouse.duckdb")
    truth = json.loads((base / "raw" / "ground_truth.json").read_text())
    assert truth == result.ground_truth
    return base / "warehouse.duckdb", truth


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The default demo org (seed 7, 120 developers, 120 days to 2026-10-31): 17 weeks to correlate."""
    return _build(tmp_path_factory.mktemp("delivery-demo"), 7)


def _delivery_json(warehouse: Path, *extra: str) -> dict:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main(["delivery", "--period", PERIOD, "--warehouse", str(warehouse), "--params", str(ROOT / "params"),
                   "--json", *extra])
    assert rc == 0
    return json.loads(stdout.getvalue())  # exactly one JSON document, nothing else


@pytest.fixture(scope="module")
def org_document(demo) -> dict:
    """`copilot-finops delivery --period 2026-10 --json` on the demo org, every team."""
    return _delivery_json(demo[0])


def _disagreements(document: dict, truth: dict) -> list[tuple]:
    """Teams whose verdict differs from the injected relationship (under 5 developers: insufficient_data is right)."""
    wrong = []
    for t in document["teams"]:
        expected = truth["delivery"][t["team"]]
        if t["suppressed"]:  # under 5 developers: their head count is not shown either
            ok = t["verdict"] == "insufficient_data" and "fewer than 5 developers" in t["reason"]
        else:
            ok = t["verdict"] == expected
        if not ok:
            wrong.append((t["team"], expected, t["verdict"], t["reason"]))
    return wrong


def test_verdicts_match_the_injected_relationships(demo, org_document):
    truth, document = demo[1], org_document
    assert {t["team"] for t in document["teams"]} == set(truth["delivery"])
    assert _disagreements(document, truth) == []
    verdicts = {t["verdict"] for t in document["teams"]}
    assert {"scaling", "tighten", "inconclusive", "insufficient_data"} <= verdicts
    assert document["window"] == {"start": "2026-07-06", "end": "2026-10-31", "weeks": 17}


def test_every_verdict_carries_its_evidence_correlations_and_caveat(org_document):
    for t in org_document["teams"]:
        assert TEAM_KEYS <= set(t)
        assert t["caveat"].startswith("Correlation is not causation")
        assert t["evidence"] and all(isinstance(e, str) and e for e in t["evidence"])
        assert t["verdict"] in delivery_verdict.VERDICTS and t["reason"]
    for t in (t for t in org_document["teams"] if t["verdict"] != "insufficient_data"):
        assert len(t["evidence"]) >= 4
        assert t["weeks"] == 17 and t["developers"] >= 5
        assert {c["lag_weeks"] for c in t["correlations"]} == {0, 1, 2}
        assert {c["usage_measure"] for c in t["correlations"]} == set(delivery_usage.USAGE_MEASURES)
        for c in t["correlations"]:
            assert set(c) == CORRELATION_KEYS
            if c["ci_low"] is not None:
                assert -1 <= c["ci_low"] <= c["ci_high"] <= 1 and c["n"] >= 8
        m = t["metrics"]
        assert m["deployments"] > 0 and 0 <= m["change_failure_rate"] <= 1
        assert m["failed_deployments"] == round(m["change_failure_rate"] * m["deployments"])
        assert m["cycle_time_hours"] > 0 and m["usage"]["active_developers"] >= 5


def test_small_team_is_insufficient_data_and_shows_no_figures(org_document):
    (team,) = [t for t in org_document["teams"] if t["team"] == demo_org.SMALL_TEAM]
    assert team["verdict"] == "insufficient_data" and team["suppressed"] and team["developers"] is None
    assert team["metrics"] == {"suppressed": True, "k": 5}
    assert all(c["spearman"] is None for c in team["correlations"])


def test_table_output_and_a_clear_error_for_an_unknown_team(demo, org_document, capsys):
    warehouse, _ = demo
    rc = main(["delivery", "--period", PERIOD, "--warehouse", str(warehouse), "--params", str(ROOT / "params"),
               "--teams", f"appsec,{demo_org.SMALL_TEAM}"])
    out = capsys.readouterr().out
    assert rc == 0 and "Correlation is not causation" in out
    verdicts = {t["team"]: t["verdict"] for t in org_document["teams"]}
    for slug in ("appsec", demo_org.SMALL_TEAM):
        assert re.search(rf"^\s*{re.escape(slug)}\s+{verdicts[slug]}\b", out, re.M)
    assert "payments-api" not in out
    rc = main(["delivery", "--period", PERIOD, "--warehouse", str(warehouse), "--params", str(ROOT / "params"),
               "--teams", "no-such-team"])
    err = capsys.readouterr().err
    assert rc == 2 and "--teams: no-such-team not in the warehouse" in err


@pytest.mark.slow
def test_notebook_figures_equal_the_library(demo, tmp_path, monkeypatch):
    import duckdb
    import nbformat
    import papermill

    from copilot_finops import charts, warehouse as wh
    from copilot_finops.delivery import charts as delivery_charts, report as delivery_report
    from copilot_finops.reports import notebook
    from copilot_finops.params import load_params

    warehouse, _ = demo
    team = "payments-api"
    out = tmp_path / "05.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks/05_delivery_correlation.ipynb"), str(out), cwd=str(ROOT),
                               parameters={"team": team, "period": PERIOD, "warehouse": str(warehouse),
                                           "params": "params"}, progress_bar=False, kernel_name="python3")
    outputs = [o for c in nbformat.read(out, as_version=4).cells for o in c.get("outputs", [])]
    markdown = [o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    svg = [o["data"]["image/svg+xml"] for o in outputs if "image/svg+xml" in o.get("data", {})]

    con = wh.connect(warehouse, read_only=True)
    params = load_params(ROOT / "params")
    window = delivery_report.prepare(con, parse_period(PERIOD), params)
    td = delivery_report.team_delivery(con, window, team)
    shown = []
    monkeypatch.setattr(notebook, "display", shown.append)
    ctx = notebook.ReportContext(team, parse_period(PERIOD), con, params)
    for table in (delivery_report.metrics_table(td), delivery_report.same_week_table(td), delivery_report.tiers_table(td)):
        ctx.table(table)
    assert html == [h.data for h in shown]
    assert delivery_report.verdict_markdown(td) in markdown
    charts.use_svg()
    assert svg == [delivery_charts.usage_against_delivery(td)._repr_mimebundle_()["image/svg+xml"]]
    # aggregate and pseudonymous: no developer's login anywhere in the report
    logins = {r[0] for r in duckdb.connect(str(warehouse), read_only=True).execute(
        "SELECT DISTINCT user_login FROM user_day WHERE user_login IS NOT NULL").fetchall()}
    text = "\n".join(markdown + html)
    assert not [login for login in logins if re.search(rf"\b{re.escape(login)}\b", text)]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 23])
def test_verdicts_hold_on_other_seeds(seed, tmp_path):
    warehouse, truth = _build(tmp_path, seed)
    assert _disagreements(_delivery_json(warehouse), truth) == []
