"""Evaluation of the delivery verdicts against a generated org's scenarios (evaluation code only).

This module is the one place in `delivery` that reads `ground_truth.json`; the verdicts never do.
Each team is scored against the verdict its scenario calls for: `scaling` or `tighten` where the
team's delivery answers its usage week by week (an effect), `inconclusive` where usage and delivery
only share trends (confounded) or nothing moves (flat). A team under k developers is right when it
is `insufficient_data`. Beside the verdict, the realized strength of each injected effect: the
detrended same-week rho the analysis measured, so a miss can be told from a weak draw.
"""
from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from ..params import OrgParams
from ..period import parse_period
from . import report as delivery_report, usage as delivery_usage

MODERATE_RHO = 0.5  # the "weekly Spearman of about 0.6", measured: the draw a team actually got


def score_document(document: dict, ground_truth: dict) -> dict:
    """Per team: kind, expected and given verdict, right or not, and the realized rho of each injected effect.

    Returns {"teams": [...], "by_kind": {kind: {teams, right, verdicts: {verdict: n}}}, "false_verdicts": n}
    where false_verdicts counts confounded or flat teams given `scaling` or `tighten`.
    """
    scenarios = ground_truth.get("delivery_scenarios", {})
    rows, by_kind = [], {}
    for t in document["teams"]:
        scenario = scenarios.get(t["team"], {"kind": "unknown", "effects": {}})
        expected = ground_truth["delivery"][t["team"]]
        small = bool(t.get("suppressed"))  # under k developers: its head count is not in the document either
        kind = "under k" if small else scenario["kind"]
        right = t["verdict"] == ("insufficient_data" if small else expected)
        lag0 = {c["delivery_metric"]: c for c in t["correlations"]
                if c["lag_weeks"] == 0 and c["usage_measure"] == delivery_usage.VERDICT_USAGE}
        realized = {m: (lag0.get(m) or {}).get("detrended") for m in scenario.get("effects", {})}
        # an effect of the moderate size issue 14 names: a realized detrended rho of 0.5 or more, in its direction
        moderate = kind == "effect" and any(rho is not None and rho * scenario["effects"][m] > 0 and abs(rho) >= MODERATE_RHO
                                            for m, rho in realized.items())
        rows.append({"team": t["team"], "kind": kind, "expected": "insufficient_data" if small else expected,
                     "verdict": t["verdict"], "right": right, "effects": scenario.get("effects", {}),
                     "realized_detrended_rho": realized, "moderate": moderate, "reason": t["reason"],
                     # the same-week relations the verdict read, so a rule can be replayed at another level
                     "same_week": {m: {k: (lag0.get(m) or {}).get(k) for k in ("detrended", "differenced", "p_value", "differenced_p_value", "n")}
                                   for m in t.get("verdict_metrics", [])}})
        slot = by_kind.setdefault(kind, {"teams": 0, "right": 0, "verdicts": {}})
        slot["teams"] += 1
        slot["right"] += int(right)
        slot["verdicts"][t["verdict"]] = slot["verdicts"].get(t["verdict"], 0) + 1
    false = sum(1 for r in rows if r["kind"] in ("confounded", "flat") and r["verdict"] in ("scaling", "tighten"))
    moderate = [r for r in rows if r["moderate"]]
    return {"teams": rows, "by_kind": by_kind, "false_verdicts": false,
            "moderate_effects": {"teams": len(moderate), "right": sum(int(r["right"]) for r in moderate)}}


def evaluate_seed(seed: int, params: OrgParams, users: int = 120, days: int = 120, end: date = date(2026, 10, 31),
                  workdir: str | Path | None = None) -> dict:
    """Generate the demo org of `seed` in a temporary folder, ingest it, run `delivery` on its last month, score it."""
    from ..demo.scratch import generated_warehouse

    t0 = time.perf_counter()
    with generated_warehouse("copilot-finops-eval-delivery-", workdir, seed=seed, users=users, days=days,
                             end=end) as (con, truth):
        document = delivery_report.delivery_report(con, parse_period(end.strftime("%Y-%m")), params)
    result = score_document(document, truth)
    result.update({"seed": seed, "users": users, "days": days, "window_weeks": document["window"]["weeks"],
                   "seconds": round(time.perf_counter() - t0, 1)})
    return result


def summarise(results: list[dict]) -> dict:
    """Totals over several seeds: per kind, teams and right verdicts; false verdicts of confounded and flat teams."""
    by_kind: dict[str, dict] = {}
    for r in results:
        for kind, s in r["by_kind"].items():
            slot = by_kind.setdefault(kind, {"teams": 0, "right": 0})
            slot["teams"] += s["teams"]
            slot["right"] += s["right"]
    moderate = {"teams": sum(r["moderate_effects"]["teams"] for r in results),
                "right": sum(r["moderate_effects"]["right"] for r in results)}
    return {"seeds": [r["seed"] for r in results], "by_kind": by_kind, "moderate_effects": moderate,
            "false_verdicts": sum(r["false_verdicts"] for r in results),
            "null_teams": sum(s["teams"] for k, s in by_kind.items() if k in ("confounded", "flat"))}
