"""Command-line entry point: one sub-command per module in `copilot_finops.commands`."""
from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import UserError

# Each module registers its own sub-commands; adding a command touches this list and one file.
COMMAND_MODULES = [
    "demo",
    "generate",
    "fetch",
    "ingest",
    "report",
    "guardrails",
    "export",
    "patterns",
    "delivery",
    "evaluate_delivery",
    "purge",
    "init_workflow",
    "lab",
    "show_record",
    "whatif",
    "attribution",
]

DESCRIPTION = """\
Turn GitHub Copilot usage telemetry into team-level FinOps reports.

The usual path:
  copilot-finops generate --raw raw/        # or `fetch` from a real org
  copilot-finops ingest raw/                # raw zone -> data/warehouse.duckdb
  copilot-finops report --period 2026-10    # per-team notebooks -> outputs/2026-10/

or all three on the built-in demo org:  copilot-finops demo
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="copilot-finops",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"copilot_finops.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
