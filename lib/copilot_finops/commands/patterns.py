"""`copilot-finops patterns` (high-burn patterns of a month), `patterns review` (analysts confirm or dismiss
flagged pattern-weeks) and `evaluate-patterns` (score the detector on generated orgs, or sweep effect sizes)."""
from __future__ import annotations

from .common import add_common, add_incident, add_parser, print_json
from .. import formatting

SWEEP_STRENGTHS = (0.6, 0.8, 1.0, 1.2, 1.4)


def register(sub) -> None:
    p = add_parser(
        sub, "patterns", "high-burn, low-value patterns of a month, per team",
        "Find developer-weeks that burn AI credits without value (retries with no acceptance, large\n"
        "output that never merges, heavy use outside delivery windows, duplicate work across repos,\n"
        "token-heavy CLI loops), judged against peers in the same role segment. Prints, per team and\n"
        "pattern, the developer-weeks, developers, credits and the evidence as team medians; a row\n"
        "behind which fewer than k developers stand is suppressed, and teams under k are folded\n"
        "together. Weeks count in the month of their Thursday. Per-week flags, with logins, only in\n"
        "incident mode: --detail --incident ID --reason TEXT --json, recorded in access_audit.\n"
        "`patterns review` lists the month's flagged pattern-weeks per team for analysts to confirm or dismiss.",
        "copilot-finops patterns --period 2026-10 --warehouse data/warehouse.duckdb\n"
        "  copilot-finops patterns --period 2026-10 --detail --incident INC-2031 \\\n"
        "      --reason 'seat misuse reported by the platform team' --json")
    # not required=True: `patterns review --period P` has its own, and argparse would ask for both
    p.add_argument("--period", metavar="YYYY-MM", help="month to report (required)")
    p.add_argument("--random-state", type=int, default=0, metavar="N",
                   help="seed of the anomaly forest and the clustering (default 0); same seed, same result")
    add_incident(p, "list every flagged week with the login, with --json")
    add_common(p, json_output=True)
    p.set_defaults(func=run_patterns)
    actions = p.add_subparsers(dest="patterns_action", metavar="ACTION")
    r = add_parser(
        actions, "review", "list a month's flagged pattern-weeks per team; confirm or dismiss them",
        "Without --confirm or --dismiss: list each team's flagged pattern-weeks of the month (weeks count in\n"
        "the month of their Thursday) with an id, the user-weeks behind it, its weight and its review.\n"
        "With them: record the verdict of each id in the warehouse (table pattern_review: team, week,\n"
        "pattern, verdict, no identity), where ingest never touches it. Dismissed weeks are no longer\n"
        "reported, and weeks shaped like dismissed ones weigh less (params: patterns.review_min_weight).\n"
        "Teams under k developers are not listed.",
        "copilot-finops patterns review --period 2026-10 --dismiss platform-sre/2026-10-05/off_window")
    r.add_argument("--period", required=True, metavar="YYYY-MM", help="month whose flagged weeks to list or review")
    r.add_argument("--confirm", action="append", default=[], metavar="ID", help="confirm a pattern-week (repeatable)")
    r.add_argument("--dismiss", action="append", default=[], metavar="ID", help="dismiss a pattern-week (repeatable)")
    r.add_argument("--note", metavar="TEXT", help="why, stored with the reviews given (no names, please)")
    add_common(r, json_output=True)
    r.set_defaults(func=run_review)

    e = add_parser(
        sub, "evaluate-patterns", "score the pattern detector on generated demo orgs",
        "Generate the demo org of each seed in a temporary folder, ingest it, run the detector on every\n"
        "full week and score it against that org's ground_truth.json: precision and recall per injected\n"
        "pattern, how often distractor weeks (healthy heavy use, one busy day, weekend on-call, identical\n"
        "bump titles) and healthy heavy use are flagged. --strength sets the injected effect size (1.0: the\n"
        "moderate sizes: retries at 0.35x acceptance with 2.5x prompts, 45 % of the week off-window, CLI loops\n"
        "at 6x requests per prompt); --sweep runs every seed at several strengths and prints recall against\n"
        "effect size. Exit code 1 when a target is missed at strength 1.0 (precision >= 0.85, recall >= 0.80,\n"
        "distractor weeks flagged <= 2 %, healthy heavy weeks < 5 %).",
        "copilot-finops evaluate-patterns --seed 101 202 303 --sweep")
    e.add_argument("--seed", type=int, nargs="+", required=True, metavar="N", help="demo org seed(s)")
    e.add_argument("--users", type=int, help="developers in the org (default: the generator's, 120)")
    e.add_argument("--days", type=int, help="days of history (default: the generator's, 120)")
    e.add_argument("--strength", type=float, default=1.0, help="injected effect size (default 1.0, moderate)")
    e.add_argument("--sweep", action="store_true", help=f"run each seed at strengths {', '.join(map(str, SWEEP_STRENGTHS))}")
    e.add_argument("--random-state", type=int, default=0, metavar="N", help="detector seed (default 0)")
    e.add_argument("--params", default="params", metavar="DIR",
                   help="folder with org.yaml (segments, delivery windows, pattern thresholds) (default: params/)")
    e.add_argument("--json", action="store_true", help="print one JSON document on stdout, nothing else")
    e.set_defaults(func=run_evaluate)


def run_patterns(args) -> int:
    from .. import figures, patterns, privacy, warehouse as warehouse_mod
    from ..errors import UserError
    from ..params import load_params, load_playbooks
    from ..period import parse_period

    if not args.period:
        raise UserError("--period is required: the month to report, e.g. --period 2026-10")
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


def run_review(args) -> int:
    from .. import warehouse as warehouse_mod
    from ..params import load_params
    from ..patterns import review_list
    from ..patterns.review import parse_review_id, record
    from ..period import parse_period
    from ..errors import UserError

    period = parse_period(args.period)
    params = load_params(args.params)
    marks = [(i, "confirmed") for i in args.confirm] + [(i, "dismissed") for i in args.dismiss]
    parsed = [(parse_review_id(i), verdict) for i, verdict in marks]
    con = warehouse_mod.connect(args.warehouse, read_only=not marks)
    try:
        listing = review_list.review_listing(con, params, period)
        by_id = {row["id"]: row for row in listing["pattern_weeks"]}
        for (team, week, pattern), verdict in parsed:
            row = by_id.get(f"{team}/{week.isoformat()}/{pattern}")
            if row is None:
                raise UserError(f"review id {team}/{week}/{pattern}: not a flagged pattern-week of {period.label} "
                                "(run `copilot-finops patterns review --period P` for the ids)")
            record(con, team, week, pattern, verdict, row["shape"], args.note)
        if marks:
            listing = review_list.review_listing(con, params, period)
    finally:
        con.close()
    if args.json:
        print_json(listing)
        return 0
    if marks:
        print(f"Recorded {len(marks)} review{'s' if len(marks) != 1 else ''}.\n")
    print(review_list.listing_text(listing))
    return 0


def run_evaluate(args) -> int:
    from ..params import load_params
    from ..patterns.evaluate import evaluate_seed, sweep_summary

    params = load_params(args.params)
    strengths = SWEEP_STRENGTHS if args.sweep else (args.strength,)
    results = [evaluate_seed(seed, params, users=args.users, days=args.days, random_state=args.random_state,
                             strength=s) for s in strengths for seed in args.seed]
    summary = sweep_summary(results)
    moderate = next((row for row in summary if row["strength"] == (1.0 if args.sweep else args.strength)), None)
    ok = moderate["meets_targets"] if moderate else True  # over the seeds together (sweep_summary says why)
    if args.json:
        print_json({"results": results, "summary": summary, "meets_targets": ok})
        return 0 if ok else 1
    for r in results:
        _print_result(r)
    _print_summary(summary)
    if moderate:
        pooled = f"over {formatting.plural(len(moderate['seeds']), 'seed')} together at strength {moderate['strength']}"
        each = f"; {moderate['seeds_meeting_targets']} of {len(moderate['seeds'])} meet them alone"
        print(f"\ntargets met {pooled}{each}" if ok else
              f"\nTARGETS MISSED {pooled}{each} (see --json for the weeks missed and the false alarms)")
    return 0 if ok else 1


def _rate(x) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _print_result(result: dict) -> None:
    print(f"seed {result['seed']} at strength {result['pattern_strength']}: {result['users']} developers, "
          f"{result['days']} days, {result['user_weeks']} user-weeks (detector {result['detect_seconds']} s, "
          f"total {result['seconds']} s)")
    print(f"  {'pattern':<18} {'injected':>8} {'detected':>8} {'precision':>9} {'recall':>7}")
    for name, s in result["patterns"].items():
        print(f"  {name:<18} {s['injected']:>8} {s['detected']:>8} {_rate(s['precision']):>9} {_rate(s['recall']):>7}")
    d = result["distractors"]
    kinds = ", ".join(f"{k} {v['flagged']}/{v['weeks']}" for k, v in d.items() if k != "all")
    print(f"  distractor weeks flagged: {d['all']['flagged']} of {d['all']['weeks']} ({kinds})")
    h = result["healthy_heavy"]["all"]
    print(f"  healthy heavy user-weeks flagged: {h['flagged']} of {h['weeks']}\n")


def _print_summary(summary: list[dict]) -> None:
    print("recall (precision) per pattern against effect strength, over the seeds; distractor weeks flagged:")
    names = list(summary[0]["patterns"]) if summary else []
    print(f"  {'strength':>8} " + " ".join(f"{n:>18}" for n in names) + f" {'distractors':>12}")
    for row in summary:
        cells = [f"{_rate(row['patterns'][n]['recall'])} ({_rate(row['patterns'][n]['precision'])})" for n in names]
        d = row["distractors"]
        print(f"  {row['strength']:>8} " + " ".join(f"{c:>18}" for c in cells)
              + f" {d['flagged']:>4}/{d['weeks']:<4} ({_rate(d['rate'])})")
