"""`copilot-finops guardrails`: budget stages per team for a month, alerts.json / alerts.md, and webhook messages.

The evaluation is `budget.evaluate_guardrails`, the documents and the webhook delivery are `alerts`; this module
parses the arguments, writes the files and prints the table (messages are posted only with --send; else a dry run).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import UserError
from .common import add_common, add_parser, day, print_json, writable_folder

GUARDRAIL_NOTEBOOK = "03_guardrails"  # the team report a message links to


def register(sub) -> None:
    p = add_parser(
        sub, "guardrails", "budget burn, month-end forecast and guardrail stage per team",
        "For each team (and segment) with a budget in params/org.yaml: burn to date, the forecast to the end of\n"
        "the month with an 80 % interval, and the stage reached or forecast (60 / 80 / 95 % by default) with its\n"
        "actions and the date the forecast crosses each threshold. Writes alerts.json and alerts.md under\n"
        "OUT/<period>/. With --webhook: one message per budget that reached a stage not yet sent to that webhook\n"
        "this month (Slack Block Kit, a Teams Adaptive Card or plain JSON), each written beside alerts.json as\n"
        "webhook-<format>-<scope>-<name>.json; add --send to post them (what was sent is kept in the warehouse,\n"
        "so a rerun sends nothing new). A past month is evaluated as of its last day; --as-of evaluates mid-month.",
        "copilot-finops guardrails --period 2026-10 --webhook https://hooks.slack.com/services/... "
        "--report-url https://acme.github.io/copilot-finops --send")
    p.add_argument("--period", required=True, metavar="YYYY-MM", help="month to evaluate")
    p.add_argument("--as-of", type=day, metavar="YYYY-MM-DD", help="evaluate as of this day (default: the month's "
                                                                     "last day, or the last day with data)")
    p.add_argument("--out", default="outputs", metavar="DIR", help="writes DIR/<period>/alerts.{json,md} (default outputs/)")
    p.add_argument("--webhook", metavar="URL", help="the channel's incoming webhook, https:// (dry run unless --send)")
    p.add_argument("--webhook-format", default="slack", metavar="FORMAT",
                   help="slack (Block Kit, default), teams (Adaptive Card) or json")
    p.add_argument("--report-url", metavar="URL", help="where OUT is published (e.g. GitHub Pages): messages link "
                                                        "to URL/<period>/<team>/03_guardrails.html")
    p.add_argument("--run-url", metavar="URL", help="a link to the run that sent the message (e.g. the workflow run)")
    p.add_argument("--send", action="store_true", help="really post to --webhook")
    add_common(p, json_output=True)
    p.set_defaults(func=run)


# -- command --------------------------------------------------------------------------------------------------
def run(args) -> int:
    from .. import alerts, budget, gaps, warehouse
    from ..alert_messages import MESSAGE_FORMATS
    from ..params import load_params
    from ..period import parse_period

    given = args.webhook is not None  # an empty --webhook is refused, not ignored
    if args.send and not given:
        raise UserError("--send needs --webhook URL")
    if not given and (args.report_url or args.run_url or args.webhook_format != "slack"):
        raise UserError("--webhook-format, --report-url and --run-url go with --webhook URL")
    if given:  # refused before any work, dry run or not
        alerts.check_url(args.webhook)
        if args.webhook_format not in MESSAGE_FORMATS:
            raise UserError(f"--webhook-format {args.webhook_format!r}: choose one of {', '.join(MESSAGE_FORMATS)}")
        for flag, link in (("--report-url", args.report_url), ("--run-url", args.run_url)):
            if link:
                alerts.check_url(link, flag, plain_http="any", hint="give the https:// address people open")
    period = parse_period(args.period)
    params = load_params(args.params)
    writable_folder(args.out, "--out", "alerts.json and alerts.md")
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
    if given:
        webhook = alerts.deliver_alerts(doc, args.warehouse, args.webhook, args.webhook_format, out, args.send,
                                        _report_link(period.label, args.report_url), args.run_url)
    if args.json:
        print_json({**doc, "files": [str(out / "alerts.json"), str(out / "alerts.md")], "webhook": webhook})
        return 0
    _print_table(alerts.table_rows(doc))
    if doc["gaps"]:
        print(f"\nincomplete data: {gaps.entries_text(doc['gaps'])}")
    print(f"\nwrote {out / 'alerts.json'} and {out / 'alerts.md'}")
    if webhook:
        _print_webhook(webhook)
    return 0


def _report_link(period: str, base: str | None):
    """entry -> (URL or None, path under the published outputs) of the report a budget's message links to."""
    from ..reports.plan import team_dirname

    def link(entry: dict) -> tuple[str | None, str]:
        path = (f"{period}/{team_dirname(entry['name'])}/{GUARDRAIL_NOTEBOOK}.html" if entry["scope"] == "team"
                else f"{period}/index.html")
        return (f"{base.rstrip('/')}/{path}" if base else None), path
    return link


def _print_webhook(webhook: dict) -> None:
    verb = "would post" if webhook["dry_run"] else "posted"
    print(f"\nwebhook ({webhook['format']}, {webhook['host']}): {verb} {len(webhook['messages'])} message(s)"
          + (" (dry run: add --send to post)" if webhook["dry_run"] else ""))
    for m in webhook["messages"]:
        before = f", up from {m['previous_stage']:.0%}" if m["previous_stage"] is not None else ""
        print(f"  {m['name']}: {m['stage_label']}{before} -> {m['file']}")
    for held in webhook["already_sent"]:
        print(f"  {held['name']}: {held['stage']:.0%} already sent this month (stage sent: {held['sent_stage']:.0%})")


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
