"""The org-wide passes a period's team pages share, run once before the fan-out starts them.

Several pages judge a team against the whole org (peers judge peers): the pattern fit (pages 04 and 06), the
delivery window (05 and 06) and the what-if's repricing (07); others read org-wide figures every team's page
shares: the cost history, repositories and agent costs (02) and the budget guardrails (00, 03 and 06). Each is
memoised beside the warehouse (`cache`).
Without this step the first notebook of a period to need one paid for it (minutes at 30,000 developers) while
the others waited on its lock with no word on the terminal. Here each pass runs once, is named and timed, and
every team's page, the first included, reads it.

A pass is called with the very arguments the notebooks give it (their defaults), so the entry it writes is
the one they read; a notebook given other values (a what-if `route`) computes its own, as before. A pass that
fails is reported and skipped: the pages that need it meet the same error and say so on the page.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Iterable

from .. import cache, warehouse as warehouse_mod
from ..params import OrgParams
from ..period import Period


def _patterns(con, period: Period, params: OrgParams) -> None:
    from .. import patterns

    first, last = patterns.period_weeks(period)
    patterns.flagged_user_weeks(con, params, first, last)  # fits the detector (label_user_weeks) on the way
    patterns.org_team_weeks(con, params, period)
    patterns.org_pattern_table(con, params, period, params.privacy.k_anonymity)  # page 04's org table


def _delivery(con, period: Period, params: OrgParams) -> None:
    from ..delivery import report as delivery_report

    delivery_report.team_verdicts(con, period, params)  # reads the window and every team's analysis on the way


def _whatif(con, period: Period, params: OrgParams) -> None:
    from .. import whatif

    whatif.evaluate(con, period, params, params.routing.default_route)


def _costs(con, period: Period, params: OrgParams) -> None:
    from .. import agents, cost, repos

    cost.team_costs_history(con, period, params, months=3)  # page 02's three months
    repos.repository_credits(con, period, params)
    agents.agent_costs(con, period, params)


def _guardrails(con, period: Period, params: OrgParams) -> None:
    from .. import budget

    budget.evaluate_guardrails(con, period, params)  # as of the month's last day with data


# name -> (what the terminal calls it, the pass, the notebooks that read it, parameters that change its arguments)
PASSES: dict[str, tuple[str, Callable, tuple[str, ...], tuple[str, ...]]] = {
    "patterns": ("the pattern fit", _patterns, ("00_org_overview", "04_high_burn_patterns", "06_monthly_retro"), ()),
    "delivery": ("the delivery window", _delivery, ("00_org_overview", "05_delivery_correlation", "06_monthly_retro"),
                 ()),
    "whatif": ("the what-if", _whatif, ("07_model_routing",), ("route",)),
    "costs": ("the cost history", _costs, ("02_cost_baseline",), ()),
    "guardrails": ("the guardrails", _guardrails, ("00_org_overview", "03_guardrails", "06_monthly_retro"), ("as_of",)),
}


def needed(notebooks: Iterable[str], extra: tuple = ()) -> list[str]:
    """The passes the given notebooks (stems) read with their default arguments, in PASSES order."""
    stems, given = set(notebooks), {name for name, _ in extra}
    return [name for name, (_, _, readers, changes) in PASSES.items()
            if stems & set(readers) and not given & set(changes)]


def run(warehouse: str, params: OrgParams, period: Period, names: list[str], progress: bool = True) -> dict[str, float]:
    """Run the named passes on the warehouse (read-only); returns seconds per pass that completed. Nothing runs
    when the memo is off (COPILOT_FINOPS_CACHE=0) or cannot be kept: the pages would compute each pass again."""
    if not names:
        return {}
    con = warehouse_mod.connect(warehouse, read_only=True)
    done: dict[str, float] = {}
    try:
        if not cache.can_keep(con):
            return {}
        for name in names:
            label, compute, _, _ = PASSES[name]
            if progress:
                print(f"org-wide: {label} for {period.label} (once for every team's pages) ...", end="",
                      file=sys.stderr, flush=True)
            started = time.perf_counter()
            try:
                compute(con, period, params)
            except Exception as exc:  # the pages that read it meet the same error, and show it
                if progress:
                    print(f" failed ({type(exc).__name__}: {exc}); the pages that need it will say so",
                          file=sys.stderr)
                continue
            done[name] = time.perf_counter() - started
            if progress:
                print(f" {done[name]:.1f} s", file=sys.stderr)
    finally:
        con.close()
    return done
