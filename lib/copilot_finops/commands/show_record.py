"""`copilot-finops show-record`: a warehouse row's source object, read back from the raw zone."""
from __future__ import annotations

import json
import sys

from .common import add_common, add_parser, day, print_json


def register(sub) -> None:
    p = add_parser(
        sub, "show-record", "print the raw record a warehouse row was loaded from",
        "The warehouse keeps typed columns and, for each row, the raw file and line it came from; the raw\n"
        "zone is the record. This prints that line exactly as GitHub served it (the element's JSON for a\n"
        "JSON-array file or a document), fields no column holds included. It says so when the raw file was\n"
        "deleted by `purge`, is missing, or has changed since it was ingested.\n"
        "Find a row by --day and --user (a login or a user id) for users reports and seats; by --day (and\n"
        "--org when there are several) for organization and enterprise reports; by --repo and --number for\n"
        "pulls and deployments; by --day and --repo for the repository report (repos-1-day).",
        "copilot-finops show-record --kind users-1-day --day 2026-10-05 --user octocat")
    p.add_argument("--kind", required=True, help="users-1-day, users-28-day, organization-1-day, enterprise-1-day, "
                                                 "seats, pulls, deployments, …")
    p.add_argument("--day", type=day, metavar="YYYY-MM-DD", help="the row's day (seats: the snapshot day)")
    p.add_argument("--user", metavar="LOGIN", help="a login or a numeric user id")
    p.add_argument("--org", metavar="ID", help="organization (or enterprise) id, when the warehouse holds several")
    p.add_argument("--repo", metavar="OWNER/NAME", help="repository of a pull request or deployment")
    p.add_argument("--number", metavar="N", help="pull request number, or deployment id")
    p.add_argument("--raw", metavar="DIR", help="raw zone to read (default: the one the file was ingested from)")
    add_common(p, json_output=True)
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import warehouse
    from ..ingest.provenance import source_record

    con = warehouse.connect(args.warehouse, read_only=True)
    try:
        record = source_record(con, args.kind, args.raw, day=args.day, user=args.user, org=args.org,
                               repo=args.repo, number=args.number)
    finally:
        con.close()
    if args.json:
        print_json({"kind": record.kind, "path": record.path, "line": record.line, "sha256": record.sha256,
                    "exact": record.exact, "record": json.loads(record.text)})
        return 0
    sys.stdout.flush()
    sys.stdout.buffer.write(record.text + b"\n")
    sys.stdout.buffer.flush()
    print(f"{record.path} line {record.line}" + ("" if record.exact else " (element, JSON re-serialised)"),
          file=sys.stderr)
    return 0
