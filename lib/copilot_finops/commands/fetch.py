"""`copilot-finops fetch`: pull Copilot usage, seats, billing, teams and delivery data from GitHub."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UserError
from .common import add_common, add_parser, day, print_json, readers_group

DESCRIPTION = """\
Fetch GitHub Copilot data for an organization into the raw zone (immutable files plus
manifest.jsonl), then `ingest` it, or pass --ingest to do both.

Incremental: days already complete in the raw zone are skipped (manifest checksums), the
last three days are always re-pulled (GitHub revises them), and missing days are back-filled.
Delivery data is asked for from a day before the last fetch of the repo: the pull requests
(with their reviews and files) and incidents changed since, the deployments made since.
A rerun after an interruption (Ctrl-C, a crash, a spent --max-wait) completes the raw zone.

The token comes from GITHUB_TOKEN or GH_TOKEN, never from a flag. Org reports need the
"Organization Copilot metrics" permission (read) or a classic token with read:org; billing
needs a classic token with billing rights (admin:org or manage_billing:copilot).

kinds: users-1-day, user-teams-1-day, organization-1-day (group: metrics), seats, teams,
ai-credit-usage, premium-request-usage (group: billing), delivery (needs --repos or
--all-repos); only when asked: users-28-day, organization-28-day (group: bootstrap),
enterprise-1-day, enterprise-28-day (with --enterprise).

Exit status: 0 complete; 1 some units failed or --max-wait ran out (rerun the same command
to finish); 2 a problem with the input or the token."""

EXAMPLE = ("GITHUB_TOKEN=... copilot-finops fetch --org acme --since 2026-09-01 --until 2026-10-31 "
           "--raw raw/ --repos acme/api,acme/web --ingest")



def _repos(text: str) -> list[str]:
    repos = [r.strip() for r in text.split(",") if r.strip()]
    bad = [r for r in repos if r.count("/") != 1 or not all(r.split("/"))]
    if bad or not repos:
        raise argparse.ArgumentTypeError(f"{', '.join(bad) or text!r}: give repositories as owner/name,owner/name")
    return repos


def register(subparsers) -> None:
    p = add_parser(subparsers, "fetch", help="fetch Copilot data from GitHub into the raw zone",
                   description=DESCRIPTION, example=EXAMPLE)
    p.add_argument("--org", required=True, help="organization login, e.g. acme")
    p.add_argument("--enterprise", metavar="ENT", help="enterprise slug: user reports at enterprise scope (from 2025-10-10)")
    p.add_argument("--since", type=day, metavar="YYYY-MM-DD",
                   help="first day (default: the earliest day in the raw zone, else 28 days before --until)")
    p.add_argument("--until", type=day, metavar="YYYY-MM-DD", help="last day (default: two days ago, UTC)")
    p.add_argument("--raw", default="raw", metavar="DIR", help="raw zone folder (default: raw)")
    p.add_argument("--api-url", default="https://api.github.com", metavar="URL",
                   help="REST API base: https://api.SUBDOMAIN.ghe.com for GHE.com data residency")
    repos = p.add_mutually_exclusive_group()
    repos.add_argument("--repos", type=_repos, default=[], metavar="OWNER/NAME,…", help="repositories for delivery data")
    repos.add_argument("--all-repos", action="store_true", help="delivery data for every repository of the org")
    p.add_argument("--kinds", metavar="KIND,…", help="what to fetch (default: all but the 28-day and enterprise reports)")
    p.add_argument("--incident-label", default="incident", metavar="LABEL",
                   help="issues with this label are incidents (default: incident)")
    p.add_argument("--max-wait", type=float, default=3600, metavar="SECONDS",
                   help="stop after waiting this long in total for rate limits and retries (default: 3600)")
    p.add_argument("--ingest", nargs="?", const="", default=None, metavar="WAREHOUSE",
                   help="ingest the raw zone afterwards into WAREHOUSE (default: --warehouse)")
    p.add_argument("--dry-run", action="store_true",
                   help="print what would be fetched and the request estimate; sends nothing, needs no token")
    p.add_argument("--assume-users", type=int, metavar="N", help="head count for the --dry-run estimate")
    p.add_argument("--today", type=day, help=argparse.SUPPRESS)  # pins "today" for reproducible runs and tests
    add_common(p, json_output=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import privacy
    from ..fetch import FetchConfig, format_summary, run_fetch
    from ..fetch.github import RetryPolicy

    api_url = args.api_url.rstrip("/")
    if not api_url.startswith(("https://", "http://")):
        raise UserError(f"--api-url {args.api_url!r}: give a URL such as https://api.github.com "
                        "or https://api.SUBDOMAIN.ghe.com")
    if args.max_wait < 0:
        raise UserError("--max-wait must be zero or more seconds")
    config = FetchConfig(
        org=args.org, raw_dir=Path(args.raw), since=args.since, until=args.until, enterprise=args.enterprise,
        api_url=api_url, repos=args.repos, all_repos=args.all_repos,
        kinds=[k.strip() for k in args.kinds.split(",") if k.strip()] if args.kinds else None,
        incident_label=args.incident_label, today=args.today,
        policy=RetryPolicy(max_wait=args.max_wait),
    )
    group = readers_group(args.params)
    with privacy.owner_only_files():
        doc = run_fetch(config, dry_run=args.dry_run, assume_users=args.assume_users)
        if args.ingest is not None and not args.dry_run:
            from ..ingest import ingest_raw
            ingested = ingest_raw(Path(args.raw), Path(args.ingest or args.warehouse))
            doc["ingest"] = ingested.as_dict() if hasattr(ingested, "as_dict") else ingested
    if not args.dry_run:
        privacy.restrict([args.raw, *(privacy.warehouse_files(args.ingest or args.warehouse)
                                     if args.ingest is not None else [])], group)
    if args.json:
        print_json(doc)
    elif args.dry_run:
        print(format_plan(doc))
    else:
        print(format_summary(doc))
        if "ingest" in doc and isinstance(doc["ingest"], dict):
            i = doc["ingest"]
            print(f"ingested into {args.ingest or args.warehouse}: {i.get('files_ingested')} files, "
                  f"{i.get('rows_loaded')} rows, {i.get('lines_quarantined')} lines quarantined")
    if doc["status"] in ("stopped", "incomplete"):
        if args.json:  # the document already says why; stderr keeps stdout pure JSON
            print(doc.get("stopped") or "some units failed: rerun the same command to complete", file=sys.stderr)
        return 1
    return 0


def format_plan(doc: dict) -> str:
    lines = [f"dry run: {doc['org']} {doc['since']}..{doc['until']} into {doc['raw']}"]
    for kind, k in doc["kinds"].items():
        lines.append(f"  {kind:<22} {k['to_fetch']:>5} {k['unit']}s to fetch, {k['skip']:>5} already complete")
    e = doc["estimate"]
    lines.append(f"  about {e['api_requests']} API requests and {e['downloads']} report downloads: "
                 f"{e['quota_hours']:.2f} h of a {e['assumptions']['rate_per_hour']}/h quota, ~{e['wall_hours'] * 60:.0f} min")
    lines += [f"  {k}: {v}" for k, v in e["by_kind"].items()]
    lines += [f"note: {n}" for n in doc["notes"]]
    return "\n".join(lines)
