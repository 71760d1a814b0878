"""`copilot-finops ingest` and `copilot-finops import`: raw files into the warehouse."""
from __future__ import annotations

import sys

from .common import add_common, add_parser, print_json, readers_group, writable_folder


def register(sub) -> None:
    p = add_parser(
        sub, "ingest", "load a raw zone into the DuckDB warehouse",
        "Load every file of a known kind under RAWDIR into the warehouse. Rows are replaced by their\n"
        "natural key, so running it twice changes nothing; only new or changed files are read unless\n"
        "--full. Lines that cannot be read go to the `quarantine` table with their file and line.",
        "copilot-finops ingest raw/ --warehouse data/warehouse.duckdb")
    p.add_argument("raw", metavar="RAWDIR", help="raw-zone folder (from `generate` or `fetch`)")
    p.add_argument("--full", action="store_true", help="re-read every file and write every row again, not only new or "
                   "changed ones (pull requests whose file lists did not change included): after an upgrade")
    add_common(p, json_output=True)
    p.set_defaults(func=run_ingest)

    q = add_parser(
        sub, "import", "copy hand-downloaded report files into the raw zone and ingest them",
        "Take files an analyst downloaded by hand (NDJSON, or a JSON array; .gz is fine), copy them\n"
        "into RAW/imports/<kind>/<checksum>/ (raw files are never edited in place), then ingest them.",
        "copilot-finops import --kind users-1-day ~/Downloads/copilot-usage-2026-10-*.ndjson")
    q.add_argument("files", nargs="+", metavar="FILE")
    q.add_argument("--kind", required=True, help="what the files hold, e.g. users-1-day, user-teams-1-day, "
                                                 "organization-1-day, seats, ai-credit-usage, team-map (a CSV "
                                                 "login,team[,cost_center])")
    q.add_argument("--raw", default="raw", metavar="DIR", help="raw-zone folder to copy into (default raw/)")
    add_common(q, json_output=True)
    q.set_defaults(func=run_import)


def _follow_team_source(args) -> str | None:
    """Record params' team source in the warehouse (the views follow it); None when there are no params here."""
    from pathlib import Path

    from .. import teams_source
    from ..params import load_params

    if not (Path(args.params) / "org.yaml").exists():
        return None
    params = load_params(args.params)
    teams_source.sync(args.warehouse, params)
    return params.team_source.kind


def _report(summary, as_json: bool, team_source: str | None = None) -> int:
    doc = summary.as_dict()
    doc["team_source"] = team_source
    if as_json:
        print_json(doc)
        return 0
    print(f"ingested {summary.files_ingested} files ({summary.rows_loaded:,} rows); "
          f"{summary.files_unchanged} unchanged files skipped"
          + (f"; teams from: {team_source} (params team_source)" if team_source else ""))
    for kind, rows in sorted(summary.by_kind.items()):
        print(f"  {kind:<22} {rows:>10,} rows")
    if summary.lines_quarantined:
        print(f"{summary.lines_quarantined} lines quarantined (see the `quarantine` table) from:", file=sys.stderr)
        for path in summary.quarantined_files[:20]:
            print(f"  {path}", file=sys.stderr)
    return 0


def run_ingest(args) -> int:
    from .. import privacy
    from ..ingest import ingest_raw

    group = readers_group(args.params)
    with privacy.owner_only_files():
        summary = ingest_raw(args.raw, args.warehouse, full=args.full, progress=not args.json and sys.stderr.isatty())
        team_source = _follow_team_source(args)
    privacy.restrict([args.raw, *privacy.warehouse_files(args.warehouse)], group)
    return _report(summary, args.json, team_source)


def run_import(args) -> int:
    from ..ingest import import_files, ingest_raw

    from .. import privacy

    writable_folder(args.raw, "--raw", "the raw zone")
    group = readers_group(args.params)
    with privacy.owner_only_files():
        files = import_files(args.files, args.kind, args.raw)
        summary = ingest_raw(args.raw, args.warehouse, files=files, full=True)
        team_source = _follow_team_source(args)
    privacy.restrict([args.raw, *privacy.warehouse_files(args.warehouse)], group)
    return _report(summary, args.json, team_source)
