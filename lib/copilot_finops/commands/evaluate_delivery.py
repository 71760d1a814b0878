"""`copilot-finops evaluate-delivery`: score the delivery verdicts on generated orgs, confounded teams included."""
from __future__ import annotations

from .common import add_parser, print_json


def register(sub) -> None:
    e = add_parser(
        sub, "evaluate-delivery", "score the delivery verdicts on generated demo orgs",
        "Generate the demo org of each seed in a temporary folder, ingest it, run `delivery` on its last\n"
        "month and compare each team's verdict with its scenario: `scaling` or `tighten` where delivery\n"
        "answers usage week by week (an effect drawn at a weekly Spearman of about 0.5-0.7), `inconclusive`\n"
        "where usage and delivery only share trends (confounded) or nothing moves (flat). Prints each team's\n"
        "scenario, verdict and the realized strength of its effect, then totals per scenario and the number\n"
        "of confounded or flat teams given a verdict. Exit code 1 when any confounded or flat team got one.",
        "copilot-finops evaluate-delivery --seed 11 12 13 --json")
    e.add_argument("--seed", type=int, nargs="+", required=True, metavar="N", help="demo org seed(s)")
    e.add_argument("--users", type=int, default=120, help="developers in each org (default 120)")
    e.add_argument("--days", type=int, default=120, help="days of history (default 120: 17 weeks in the window)")
    e.add_argument("--params", default="params", metavar="DIR",
                   help="folder with org.yaml (k-anonymity, incident label) (default: params/)")
    e.add_argument("--json", action="store_true", help="print one JSON document on stdout, nothing else")
    e.set_defaults(func=run)


def run(args) -> int:
    from ..delivery.evaluate import evaluate_seed, summarise
    from ..params import load_params

    params = load_params(args.params)
    results = []
    for seed in args.seed:
        results.append(evaluate_seed(seed, params, users=args.users, days=args.days))
        if not args.json:
            _print_seed(results[-1])
    summary = summarise(results)
    if args.json:
        print_json({"results": results, "summary": summary})
    else:
        print("totals:")
        for kind, s in sorted(summary["by_kind"].items()):
            print(f"  {kind:<11} {s['right']:>3} of {s['teams']:>3} teams with the right verdict")
        m = summary["moderate_effects"]
        print(f"  effect teams of moderate measured size (detrended rho >= 0.5 in the injected direction): "
              f"{m['right']} of {m['teams']} with the right verdict")
        print(f"  confounded or flat teams given scaling or tighten: {summary['false_verdicts']} of "
              f"{summary['null_teams']}")
    return 0 if summary["false_verdicts"] == 0 else 1


def _print_seed(r: dict) -> None:
    print(f"seed {r['seed']}: {r['users']} developers, {r['days']} days, {r['window_weeks']} weeks in the window "
          f"({r['seconds']} s)")
    print(f"  {'team':<18} {'scenario':<11} {'expected':<17} {'verdict':<17} effects (elasticity -> realized rho)")
    for t in r["teams"]:
        effects = ", ".join(f"{m} {v:+.2f} -> " + ("n/a" if t["realized_detrended_rho"].get(m) is None
                                                   else f"{t['realized_detrended_rho'][m]:+.2f}")
                            for m, v in t["effects"].items())
        mark = "" if t["right"] else "  <- wrong"
        print(f"  {t['team']:<18} {t['kind']:<11} {t['expected']:<17} {t['verdict']:<17} {effects}{mark}")
    print()
