"""`copilot-finops patterns` (high-burn patterns of a month) and `evaluate-patterns` (score the detector)."""
from __future__ import annotations

from .common import add_common, add_parser, print_json


def register(sub) -> None:
    p = add_parser(
        sub, "patterns", "high-burn, low-value patterns of a month, per team",
        "Find user-weeks that burn AI credits without value (retries with no acceptance, large\n"
        "output that never merges, heavy use outside delivery windows, duplicate work across repos,\n"
        "token-heavy CLI loops), judged against peers in the same role segment. Prints pattern,\n"
        "team, user-weeks and the credits involved; --json adds every flagged week with its\n"
        "evidence and coaching advice (params/playbooks.yaml), users as pseudonyms only.\n"
        "Weeks count in the month of their Thursday. Teams under k developers are folded together.",
        "copilot-finops patterns --period 2026-10 --warehouse data/warehouse.duckdb")
    p.add_argument("--period", required=True, metavar="YYYY-MM", help="month to report")
    p.add_argument("--random-state", type=int, default=0, metavar="N",
                   help="seed of the anomaly forest and the clustering (default 0); same seed, same result")
    add_common(p, json_output=True)
    p.set_defaults(func=run_patterns)

    e = add_parser(
        sub, "evaluate-patterns", "score the pattern detector on a generated demo org",
        "Generate the demo org of a seed in a temporary folder, ingest it, run the detector on every\n"
        "full week and score it against that org's ground_truth.json: precision and recall per\n"
        "injected pattern, and how often healthy heavy use (heavy for its segment, accepted and\n"
        "merged) is flagged. Exit code 1 when a target is missed (precision >= 0.85, recall >= 0.80,\n"
        "healthy heavy weeks flagged < 5 %).",
        "copilot-finops evaluate-patterns --seed 7 --users 120 --json")
    e.add_argument("--seed", type=int, required=True, help="demo org seed (7 is the default demo org)")
    e.add_argument("--users", type=int, help="developers in the org (default: the generator's, 120)")
    e.add_argument("--days", type=int, help="days of history (default: the generator's, 120)")
    e.add_argument("--random-state", type=int, default=0, metavar="N", help="detector seed (default 0)")
    e.add_argument("--params", default="params", metavar="DIR",
                   help="folder with org.yaml (segments, delivery windows) (default: params/)")
    e.add_argument("--json", action="store_true", help="print one JSON document on stdout, nothing else")
    e.set_defaults(func=run_evaluate)


def run_patterns(args) -> int:
    from .. import patterns, privacy, warehouse as warehouse_mod
    from ..period import parse_period
    from ..params import load_params, load_playbooks

    period = parse_period(args.period)
    params = load_params(args.params)
    playbooks = load_playbooks(args.params)
    con = warehouse_mod.connect(args.warehouse, read_only=True)
    try:
        flagged = patterns.detect(con, params, period, random_state=args.random_state, playbooks=playbooks,
                                  key=privacy.key_for(params, args.params))
        sizes = patterns.active_developers_by_team(con, period)
    finally:
        con.close()
    k = params.privacy.k_anonymity
    table = patterns.pattern_table(flagged, sizes, k)
    small = {t for t, n in sizes.items() if n < k}
    if args.json:
        shown = flagged[~flagged["team_slug"].isin(small)]
        print_json({"period": period.label, "k": k, "table": table.to_dict(orient="records"),
                    "flagged": patterns.to_records(shown), "teams_folded": sorted(small & set(flagged["team_slug"]))})
        return 0
    if table.empty:
        print(f"No high-burn patterns found in {period.label}.")
        return 0
    print(f"High-burn, low-value patterns in {period.label} (weeks count in the month of their Thursday):\n")
    print(table.rename(columns={"team_slug": "team", "user_weeks": "user-weeks"}).to_string(index=False))
    print(f"\n{int(table['user_weeks'].sum())} user-weeks, {table['credits'].sum():,.0f} AI credits. "
          "Evidence and coaching advice: --json, or notebook 04_high_burn_patterns.")
    return 0


def run_evaluate(args) -> int:
    from ..params import load_params
    from ..patterns.evaluate import evaluate_seed

    params = load_params(args.params)
    result = evaluate_seed(args.seed, params, users=args.users, days=args.days, random_state=args.random_state)
    if args.json:
        print_json(result)
        return 0 if result["meets_targets"] else 1
    print(f"seed {result['seed']}: {result['users']} developers, {result['days']} days, "
          f"{result['weeks']} full weeks, {result['user_weeks']} user-weeks "
          f"(detector {result['detect_seconds']} s, total {result['seconds']} s)\n")
    print(f"{'pattern':<18} {'injected':>8} {'detected':>8} {'precision':>9} {'recall':>7}")
    for name, s in result["patterns"].items():
        precision = "n/a" if s["precision"] is None else f"{s['precision']:.2f}"
        recall = "n/a" if s["recall"] is None else f"{s['recall']:.2f}"
        print(f"{name:<18} {s['injected']:>8} {s['detected']:>8} {precision:>9} {recall:>7}")
    for label, h in (("healthy heavy user-weeks", result["healthy_heavy"]["all"]),
                     ("  of which platform/SRE CLI users", result["healthy_heavy"]["platform_sre_cli"])):
        rate = "n/a" if h["rate"] is None else f"{h['rate']:.1%}"
        print(f"{label}: {h['flagged']} of {h['weeks']} flagged ({rate})")
    print("\ntargets met" if result["meets_targets"] else "\nTARGETS MISSED (see --json for the weeks missed)")
    return 0 if result["meets_targets"] else 1
