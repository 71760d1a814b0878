"""`copilot-finops init-workflow`: write the GitHub Actions workflow that runs copilot-finops on a schedule."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from .common import add_parser, print_json


def _repos(text: str) -> list[str]:
    return [r.strip() for r in text.split(",") if r.strip()]


def register(sub) -> None:
    from ..workflow import PUBLISH_MODES, WEBHOOK_FORMATS, WORKFLOW_PATH, WorkflowSettings

    defaults = WorkflowSettings(org="")
    p = add_parser(
        sub, "init-workflow", "write a GitHub Actions workflow that fetches, alerts and reports on a schedule",
        "Write .github/workflows/copilot-finops.yml into this checkout. Every day it fetches what GitHub published,\n"
        "ingests it, enforces retention, evaluates the month's guardrails and posts one message per budget at a\n"
        "new stage to the channel's webhook (rendering the month to date so the message's link opens); once a\n"
        "month it renders the closed month's reports and publishes them as a run artifact, or to GitHub Pages.\n"
        "The raw zone, warehouse and reports are carried between runs in the Actions cache. Secrets come from\n"
        "repository secrets: the token (--token-secret), the webhook URL (--webhook-secret) and the pseudonym key\n"
        "(--key-secret). Commit the file and add the secrets; see the README, 'Run it on a schedule'.",
        "copilot-finops init-workflow --org acme --repos acme/api,acme/web --webhook-format teams --publish pages")
    p.add_argument("--org", required=True, help="organization login, e.g. acme")
    p.add_argument("--enterprise", metavar="ENT", help="enterprise slug, for user reports at enterprise scope")
    p.add_argument("--repos", type=_repos, default=[], metavar="OWNER/NAME,…", help="repositories for delivery data")
    p.add_argument("--all-repos", action="store_true", help="delivery data for every repository of the org")
    p.add_argument("--cron", default=defaults.cron, metavar="'M H D M W'",
                   help=f"when the daily run starts, UTC (default '{defaults.cron}')")
    p.add_argument("--render-day", type=int, default=defaults.render_day, metavar="N",
                   help=f"day of the month the closed month is rendered (default {defaults.render_day})")
    p.add_argument("--webhook-format", default=defaults.webhook_format, metavar="FORMAT",
                   help=f"alert messages: {', '.join(WEBHOOK_FORMATS)} (default {defaults.webhook_format})")
    p.add_argument("--publish", default=defaults.publish, metavar="MODE",
                   help=f"{' or '.join(PUBLISH_MODES)} (default {defaults.publish}); Pages sites of public "
                        "repositories are public")
    p.add_argument("--report-url", metavar="URL", help="where the reports are published, for the alerts' links "
                                                       "(default with --publish pages: the project's Pages site)")
    p.add_argument("--backfill-days", type=int, default=defaults.backfill_days, metavar="N",
                   help=f"days the first run fetches (default {defaults.backfill_days})")
    p.add_argument("--keep-months", type=int, default=defaults.keep_months, metavar="N",
                   help=f"rendered months kept and published (default {defaults.keep_months})")
    p.add_argument("--python", default=defaults.python, metavar="X.Y", help=f"Python on the runner (default {defaults.python})")
    for flag, value in (("--token-secret", defaults.token_secret), ("--webhook-secret", defaults.webhook_secret),
                        ("--key-secret", defaults.key_secret)):
        p.add_argument(flag, default=value, metavar="NAME", help=f"repository secret name (default {value})")
    p.add_argument("--out", default=WORKFLOW_PATH, metavar="FILE", help=f"where to write it (default {WORKFLOW_PATH})")
    p.add_argument("--force", action="store_true", help="replace an existing workflow file")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout, nothing else")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..workflow import WorkflowSettings, render_workflow

    if args.repos and args.all_repos:
        raise UserError("--repos and --all-repos exclude each other: give one")
    settings = WorkflowSettings(
        org=args.org, enterprise=args.enterprise, cron=args.cron, render_day=args.render_day,
        webhook_format=args.webhook_format, publish=args.publish, repos=args.repos, all_repos=args.all_repos,
        backfill_days=args.backfill_days, keep_months=args.keep_months, python=args.python,
        token_secret=args.token_secret, webhook_secret=args.webhook_secret, key_secret=args.key_secret,
        report_url=args.report_url)
    text = render_workflow(settings)
    out = Path(args.out)
    if out.is_dir():
        raise UserError(f"--out {out} is a folder: give a file name, e.g. {out / 'copilot-finops.yml'}")
    if out.exists() and not args.force:
        raise UserError(f"{out} exists: pass --force to replace it (or --out another file)")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    secrets = [settings.token_secret, settings.webhook_secret, settings.key_secret]
    if args.json:
        print_json({"workflow": str(out), "secrets": secrets, "publish": settings.publish})
        return 0
    print(f"wrote {out}. Next: commit it, then add the repository secrets {', '.join(secrets)} "
          "(Settings > Secrets and variables > Actions)"
          + ("; and set Settings > Pages > Source to 'GitHub Actions'." if settings.publish == "pages" else "."))
    return 0
