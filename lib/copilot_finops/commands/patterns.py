"""`copilot-finops patterns` (high-burn patterns of a month) and `evaluate-patterns` (score the detector)."""
from __future__ import annotations

from .common import add_common, add_parser, print_json


def register(sub) -> None:
    p = add_parser(
        sub, "patterns", "high-burn, low-value patterns of a month, per team",
        "Find developer-weeks that burn AI credits without value (retries with no acceptance, large\n"
        "output that never merges, heavy use outside delivery windows, duplicate work across repos,\n"
        "token-heavy CLI loops), judged against peers in the same role segment. Prints, per team and\n"
        "pattern, the developer-weeks, developers, credits and the evidence as team medians; a row\n"
        "behind which fewer than k developers stand is suppressed, and teams under k are folded\n"
        "together. Weeks count in the month of their Thursday. Per-week flags, with logins, only in\n"
        "incident mode: --detail --incident ID --reason TEXT --json, recorded in access_audit.",
        "copilot-finops patterns --period 2026-10 --warehouse data/warehouse.duckdb\n"
        "  copilot-finops patterns --period 2026-10 --detail --incident INC-2031 \\\n"
        "      --reason 'seat misuse reported by the platform team' --json")
    p.add_argument("--period", required=True, metavar="YYYY-MM", help="month to report")
    p.add_argument("--random-state", type=int, default=0, metavar="N",
                   help="seed of the anomaly forest and the clustering (default 0); same seed, same result")
    p.add_argument("--detail", action="store_true",
                   help="incident mode: list every flagged week with the login (needs --incident, --reason and "
                        "--json; recorded in access_audit)")
    p.add_argument("--incident", metavar="ID", help="incident id the identities are needed for (with --detail)")
    p.add_argument("--reason", metavar="TEXT", help="why identities are needed (with --detail); kept in access_audit")
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
    from .. import figures, patterns, privacy, warehouse as warehouse_mod
    from ..errors import UserError
    from ..period import parse_period
    from ..params import load_params, load_playbooks

    access = None
    if args.detail:
        access = privacy.incident_access(args.incident, args.reason)
        if not args.json:
            raise UserError("--detail lists identities as data only: add --json")
    elif args.incident or args.reason:
        raise UserError("--incident and --reason go with --detail (incident mode); without --detail the output is "
                        "per team and pattern, with no person in it")
    period = parse_period(args.period)
    params = load_params(args.params)
    playbooks = load_playbooks(args.params)
    key = privacy.key_for(params, args.params)
    with privacy.owner_only_files():  # a detail run writes to the warehouse: its WAL is the owner's alone
        con = warehouse_mod.connect(args.warehouse, read_only=access is None)
        try:
            flagged = patterns.detect(con, params, period, random_state=args.random_state, playbooks=playbooks, key=key)
            sizes = patterns.active_developers_by_team(con, period)
            if access is not None:  # the audit row first: no identity leaves without it (this render's own row)
                privacy.record_access(con, access, f"patterns {period.label}; flagged developer-weeks; identities",
                                      "stdout (copilot-finops patterns --detail --json)", kind=privacy.RENDER,
                                      period=period.label)
                detail = patterns.with_logins(flagged, con, key)
        finally:
            con.close()
    k = params.privacy.k_anonymity
    table = patterns.pattern_table(flagged, sizes, k)
    small = {t for t, n in sizes.items() if n < k}
    folded = sorted(small & set(flagged["team_slug"]))
    if args.json:
        document = {"period": period.label, "k": k, "table": patterns.table_records(table, k),
                    "flagged": [], "teams_folded": folded}
        if access is not None:
            document.update(flagged=patterns.to_records(detail), incident=access.incident_id, notice=access.notice)
        print_json(document)
        return 0
    if table.empty:
        print(f"No high-burn patterns found in {period.label}.")
        return 0
    print(f"High-burn, low-value patterns in {period.label}, per team and pattern (weeks count in the month of "
          "their Thursday):\n")
    if table["suppressed"].all():
        seen = "; ".join(f"{patterns.PATTERN_BY_NAME[p].title} ({', '.join(sorted(g['team_slug']))})"
                         for p, g in table.groupby("pattern"))
        print(f"Seen this month, each behind fewer than {k} developers, so without figures: {seen}. Coaching advice "
              "per pattern: notebook 04_high_burn_patterns.")
        return 0
    print(patterns.table_for_display(table, k).drop(columns=["evidence: team median (peer median)"])
          .to_string(index=False))
    shown = table[~table["suppressed"]]
    print(f"\nShown: {figures.show('flagged_weeks', shown['user_weeks'].sum())} developer-weeks, "
          f"{figures.show('flagged_credits', shown['credits'].sum())} AI credits; rows "
          f"behind fewer than {k} developers are suppressed. Evidence (team medians): --json, or notebook "
          "04_high_burn_patterns.")
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
