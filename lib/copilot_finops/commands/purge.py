"""`copilot-finops purge`: enforce retention on the warehouse and the raw zone (see docs/PRIVACY.md)."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

from ..errors import UserError
from .common import add_common, add_parser, print_json

DEFAULT_RAW = "raw"


def register(sub) -> None:
    p = add_parser(
        sub, "purge", "delete user-level rows and raw files past their retention",
        "Delete user-level rows (usage per developer and day, team membership, seats, per-user billing,\n"
        "pull requests closed before the cutoff) older than retention.user_level_days, and raw files older\n"
        "than retention.raw_days (params/org.yaml). Purge works in whole months, so every month that remains\n"
        "keeps exactly the figures it had; the team aggregates of the months removed are kept in archive_*\n"
        "tables. Files brought in with `import` are judged by the days their records hold. What was removed\n"
        "is recorded in the purge_log table and printed, and every later ingest (--full included) keeps it\n"
        "removed.",
        "copilot-finops purge --raw raw/ --dry-run")
    p.add_argument("--raw", metavar="DIR", help=f"raw zone to purge too (default: {DEFAULT_RAW}/ when it exists)")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="count retention back from this day (default: today)")
    p.add_argument("--dry-run", action="store_true", help="count what would be removed, change nothing")
    add_common(p, json_output=True)
    p.set_defaults(func=run)


def _as_of(text: str | None) -> date:
    if not text:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--as-of {text!r} is not a day: write it as YYYY-MM-DD, e.g. 2026-11-30") from None


def run(args) -> int:
    from .. import privacy, retention, warehouse
    from ..params import load_params

    params = load_params(args.params)
    as_of = _as_of(args.as_of)
    raw = args.raw
    note = None
    if raw is None:
        if Path(DEFAULT_RAW).is_dir():
            raw = DEFAULT_RAW
        else:
            note = f"raw zone not purged: no {DEFAULT_RAW}/ here; pass --raw DIR"
    if not Path(args.warehouse).exists():
        raise UserError(f"warehouse {args.warehouse} does not exist: pass --warehouse with the file `ingest` wrote")
    with privacy.owner_only_files():
        con = warehouse.connect(args.warehouse)
        try:
            report = retention.purge(con, params.retention, as_of, raw, dry_run=args.dry_run)
        finally:
            con.close()
    privacy.restrict(privacy.warehouse_files(args.warehouse), params.privacy.readers_group)
    doc = {**report.as_dict(), "warehouse": str(args.warehouse), "raw": raw, "note": note}
    if args.json:
        print_json(doc)
        return 0
    verb = "would remove" if args.dry_run else "removed"
    print(f"purge as of {as_of}: user-level rows before {report.user_cutoff} and raw files before {report.raw_cutoff} "
          f"(months from {report.first_kept_period} are kept whole)")
    width = max([len(t) for t in (*report.rows, *report.archived, *report.scrubbed)] + [10])
    for table, n in report.rows.items():
        print(f"  {table:<{width}}  {verb} {n:>9,} rows")
    for table, n in report.scrubbed.items():
        print(f"  {table:<{width}}  {'would clear' if args.dry_run else 'cleared'} logins on {n:,} rows")
    for table, n in report.archived.items():
        print(f"  {table:<{width}}  {'would keep' if args.dry_run else 'kept'} {n:>9,} team aggregate rows")
    for kind, n in doc["raw_files_by_kind"].items():
        print(f"  raw/{kind:<{width - 4}}  {verb} {n:>9,} files")
    if report.raw_rewritten:
        print(f"  {len(report.raw_rewritten):,} imported files {'would be' if args.dry_run else 'were'} replaced by a "
              "copy holding only the records kept")
    if note:
        print(f"  note: {note}", file=sys.stderr)
    if not args.dry_run:
        print("recorded in the purge_log table")
    return 0
