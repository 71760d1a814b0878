"""`copilot-finops generate`: write the demo org's raw zone."""
from __future__ import annotations

import sys

from .common import add_parser, day, print_json


def register(sub) -> None:
    from ..demo import DEFAULT_DAYS, DEFAULT_END, DEFAULT_SEED, DEFAULT_USERS

    p = add_parser(
        sub, "generate", "write a synthetic demo org into a raw zone",
        "Write a deterministic synthetic org (usage reports, seats, billing, teams, delivery) in the exact\n"
        "raw-zone formats that `fetch` writes, plus ground_truth.json with the injected patterns and\n"
        "delivery relationships (for evaluation only; the product never reads it).",
        "copilot-finops generate --raw raw/ --seed 7 --users 120 --days 120 --end 2026-10-31")
    p.add_argument("--raw", required=True, metavar="DIR", help="raw-zone folder to write")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED}); same seed, same bytes")
    p.add_argument("--users", type=int, default=DEFAULT_USERS, help=f"developers with a seat (default {DEFAULT_USERS})")
    p.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"days of history (default {DEFAULT_DAYS})")
    p.add_argument("--end", type=day, default=DEFAULT_END, help=f"last day, YYYY-MM-DD (default {DEFAULT_END})")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout, nothing else")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import privacy
    from ..demo import generate_org

    with privacy.owner_only_files():  # the demo's people are made up, but a raw zone is kept like a real one
        result = generate_org(args.raw, seed=args.seed, users=args.users, days=args.days, end=args.end,
                              progress=not args.json and sys.stderr.isatty())
    privacy.restrict([args.raw])
    doc = {"raw": str(result.raw_dir), "user_day_records": result.user_day_records, "files": result.files,
           "ground_truth": str(result.raw_dir / "ground_truth.json")}
    if args.json:
        print_json(doc)
    else:
        print(f"wrote {result.files} files ({result.user_day_records:,} user-day records) to {result.raw_dir}")
        print(f"ground truth for evaluation: {doc['ground_truth']}")
    return 0
