"""Options every command shares: --warehouse, --params, --json."""
from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..paths import DEFAULT_PARAMS, DEFAULT_WAREHOUSE


def add_parser(subparsers, name: str, help: str, description: str, example: str) -> argparse.ArgumentParser:
    """A sub-command parser whose --help ends with a worked example."""
    return subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_common(parser: argparse.ArgumentParser, json_output: bool = False) -> None:
    parser.add_argument(
        "--warehouse", default=DEFAULT_WAREHOUSE, metavar="FILE",
        help=f"DuckDB warehouse file (default: {DEFAULT_WAREHOUSE})",
    )
    parser.add_argument(
        "--params", default=DEFAULT_PARAMS, metavar="DIR",
        help=f"folder with org.yaml and teams/*.yaml (default: {DEFAULT_PARAMS}/)",
    )
    if json_output:
        parser.add_argument("--json", action="store_true", help="print one JSON document on stdout, nothing else")


def add_period_teams(parser: argparse.ArgumentParser, period_help: str = "month to report") -> None:
    """--period YYYY-MM and --teams A,B, as `usage.select_teams` reads them."""
    parser.add_argument("--period", required=True, metavar="YYYY-MM", help=period_help)
    parser.add_argument("--teams", metavar="A,B", help="only these team slugs (default: every team in the month)")


def add_incident(parser: argparse.ArgumentParser, shows: str) -> None:
    """--detail, --incident and --reason: the audited incident mode of a command; `shows` is what it adds."""
    parser.add_argument("--detail", action="store_true",
                        help=f"incident mode: {shows} (needs --incident and --reason; recorded in access_audit)")
    parser.add_argument("--incident", metavar="ID", help="incident id the identities are needed for (with --detail)")
    parser.add_argument("--reason", metavar="TEXT", help="why identities are needed (with --detail); kept in access_audit")


def print_json(document: Any) -> None:
    json.dump(document, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def day(text: str):
    """argparse type for a calendar day: a bad value exits 2 with 'argument --flag: ...' and the fix."""
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day: write it as YYYY-MM-DD, e.g. 2026-10-31") from None


def workers(text: str) -> int:
    """argparse type for --workers: a whole number of parallel notebooks, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers: give 1 or more, e.g. 2")
    return value


def writable_folder(path: str | Path, flag: str, what: str) -> Path:
    """Check, before any work, that `path` is (or can become) a folder this user may write: UserError naming
    the flag and the fix when it, or a folder above it, is a file or is not writable."""
    path = Path(path)
    for existing in (path, *path.parents):
        if existing.exists():
            if not existing.is_dir():
                raise UserError(f"{flag} {path}: {existing} is a file, not a folder: give a folder for {what}")
            if not os.access(existing, os.W_OK | os.X_OK):
                raise UserError(f"{flag} {path}: you cannot write in {existing}: give a folder of yours for {what}")
            break
    return path


def readers_group(params_dir: str) -> str | None:
    """`privacy.readers_group` of the params folder; None (owner only) when the folder has no org.yaml, as
    ingest, import and fetch need no params."""
    from ..params import load_params

    if not (Path(params_dir) / "org.yaml").is_file():
        return None
    return load_params(params_dir).privacy.readers_group


@contextmanager
def month_reader(args, teams: str | None = None, select: bool = True):
    """(period, params, read-only connection, team slugs) for a command that reads one month: params loaded, the
    team source synced into the warehouse first (`teams_source.sync`), the connection closed after. The slugs are
    `usage.select_teams` of `teams` (every team of the month when None; an error when it has none), or None
    when `select` is False."""
    from .. import teams_source, usage, warehouse
    from ..params import load_params
    from ..period import parse_period

    period = parse_period(args.period)
    params = load_params(args.params)
    teams_source.sync(args.warehouse, params)
    con = warehouse.connect(args.warehouse, read_only=True)
    try:
        yield period, params, con, usage.select_teams(con, period, teams, args.warehouse) if select else None
    finally:
        con.close()
