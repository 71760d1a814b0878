"""`copilot-finops guardrails`: budget stages per team for a month, alerts.json / alerts.md, and a Slack message.

The evaluation is `budget.evaluate_guardrails` and the documents are `alerts`; this module parses the
arguments, writes the files and prints the table (the webhook is posted only with --send; else a dry run).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import UserError
from .common import add_common, add_parser, day, print_json


def register(sub) -> None:
    p = add_parser(
        sub, "guardrails", "budget burn, month-end forecast and guardrail stage per team",
        "For each team (and segment) with a budget in params/org.yaml: burn to date, the forecast to the end of\n"
        "the month with an 80 % interval, and the stage reached or forecast (60 / 80 / 95 % by default) with its\n"
        "actions and the date the forecast crosses each threshold. Writes alerts.json and alerts.md under\n"
        "OUT/<period>/. With --webhook it prints the Slack-compatible message it would post; add --send to post it.\n"
        "A past month is evaluated as of its last day; --as-of evaluates mid-month.",
        "copilot-finops guardrails --period 2026-10 --as-of 2026-10-15 --webhook https://hooks.slack.com/services/...")
    p.add_argument("--period", required=True, metavar="YYYY-MM", help="month to evaluate")
    p.add_argument("--as-of", type=day, metavar="YYYY-MM-DD", help="evaluate as of this day (default: the month's "
                                                                     "last day, or the last day with data)")
    p.add_argument("--out", default="outputs", metavar="DIR", help="writes DIR/<period>/alerts.{json,md} (default outputs/)")
    p.add_argument("--webhook", metavar="URL", help="Slack-compatible incoming webhook (dry run unless --send)")
    p.add_argument("--send", action="store_true", help="really post to --webhook")
    add_common(p, json_output=True)
    p.set_defaults(func=run)


# -- command --------------------------------------------------------------------------------------------------
def run(args) -> int:
    from .. import alerts, budget, warehouse
    from ..params import load_params
    from ..period import parse_period

    if args.send and not args.webhook:
        raise UserError("--send needs --webhook URL")
    period = parse_period(args.period)
    params = load_params(args.params)
    con = warehouse.connect(args.warehouse, read_only=True)
    try:
        report = budget.evaluate_guardrails(con, period, params, args.as_of)
    finally:
        con.close()
    doc = alerts.alerts_document(report, params)
    out = Path(args.out) / period.label
    out.mkdir(parents=True, exist_ok=True)
    (out / "alerts.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "alerts.md").write_text(alerts.alerts_markdown(doc))
    webhook = None
    if args.webhook:
        payload = alerts.slack_payload(doc)
        webhook = {"dry_run": not args.send, "payload": payload}
        if args.send:
            webhook["status"] = alerts.post_webhook(args.webhook, payload)
    if args.json:
        print_json({**doc, "files": [str(out / "alerts.json"), str(out / "alerts.md")], "webhook": webhook})
        return 0
    _print_table(alerts.table_rows(doc))
    print(f"\nwrote {out / 'alerts.json'} and {out / 'alerts.md'}")
    if webhook and webhook["dry_run"]:
        print("\nwebhook dry run (add --send to post); payload:")
        print(json.dumps(webhook["payload"], indent=2))
    elif webhook:
        print(f"posted to the webhook (HTTP {webhook['status']})")
    return 0


def _print_table(rows: list[dict]) -> None:
    if not rows:
        print("no team or segment has a budget in params/org.yaml")
        return
    header = list(rows[0])
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in header}
    print("  ".join(h.ljust(widths[h]) for h in header))
    print("  ".join("-" * widths[h] for h in header))
    for r in rows:
        print("  ".join(str(r[h]).ljust(widths[h]) for h in header))
    sys.stdout.flush()
