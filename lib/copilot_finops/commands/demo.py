"""`copilot-finops demo`: generate the demo org, ingest it, and render its reports for the last full month."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..paths import DEFAULT_OUTPUTS, DEMO_RAW
from .common import add_common, add_parser, day, readers_group, workers, writable_folder


def register(sub) -> None:
    from ..demo import DEFAULT_DAYS, DEFAULT_END, DEFAULT_SEED, DEFAULT_USERS

    p = add_parser(
        sub, "demo", "generate + ingest + report on the built-in demo org",
        "The whole path on a synthetic org: generate its raw zone, ingest it into the warehouse, and\n"
        "render every team's reports for the last complete month of the data. Prints where the index is.",
        "copilot-finops demo   # then open outputs/2026-10/index.html\n  "
        "copilot-finops demo --teams platform-sre,appsec   # a quicker look: two teams' pages")
    p.add_argument("--raw", default=DEMO_RAW, metavar="DIR", help=f"raw zone to write (default {DEMO_RAW})")
    p.add_argument("--out", default=DEFAULT_OUTPUTS, metavar="DIR", help=f"report folder (default {DEFAULT_OUTPUTS}/)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--users", type=int, default=DEFAULT_USERS)
    p.add_argument("--days", type=int, default=DEFAULT_DAYS)
    p.add_argument("--end", type=day, default=DEFAULT_END, help="last day of the data, YYYY-MM-DD")
    p.add_argument("--workers", type=workers, help="parallel notebooks (default: number of cores)")
    p.add_argument("--teams", metavar="A,B", help="render only these team slugs (default: every team and the org "
                                                   "overview), as `report --teams` does")
    add_common(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import privacy
    from ..demo import generate_org
    from ..ingest import ingest_raw
    from ..period import last_complete_month
    from ..reports import make_reports

    t0 = time.perf_counter()
    raw = Path(args.raw)
    writable_folder(args.out, "--out", "the reports")
    writable_folder(raw, "--raw", "the demo org's raw zone")
    group = readers_group(args.params)
    stamp = raw / ".demo-args.json"
    wanted = {"seed": args.seed, "users": args.users, "days": args.days, "end": args.end.isoformat()}
    with privacy.owner_only_files():  # raw zone and warehouse; the reports below stay readable
        if stamp.exists() and json.loads(stamp.read_text()) == wanted:
            print(f"[1/3] demo org already in {raw} (seed {args.seed}), reusing it")
        else:
            print(f"[1/3] generating the demo org ({args.users} developers, {args.days} days) into {raw}")
            generate_org(raw, seed=args.seed, users=args.users, days=args.days, end=args.end,
                         progress=sys.stderr.isatty())
            stamp.write_text(json.dumps(wanted))
        print(f"[2/3] ingesting into {args.warehouse}")
        summary = ingest_raw(raw, args.warehouse, progress=sys.stderr.isatty())
    privacy.restrict([raw, *privacy.warehouse_files(args.warehouse)], group)
    print(f"      {summary.files_ingested} files, {summary.rows_loaded:,} rows, "
          f"{summary.lines_quarantined} quarantined, {summary.files_unchanged} unchanged")
    period = last_complete_month(args.end)
    print(f"[3/3] rendering the reports for {period}")
    index, results = make_reports(args.warehouse, args.params, period, args.out, args.teams, workers=args.workers)
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"  FAILED {r.task.team}/{r.task.name}: {r.error}", file=sys.stderr)
    print(f"done in {time.perf_counter() - t0:.0f} s: {len(results) - len(failed)} of {len(results)} reports.")
    print(f"open {index}")
    return 1 if failed else 0
