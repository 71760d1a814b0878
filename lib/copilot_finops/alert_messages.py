"""Guardrail alert messages in the shapes chat tools accept: Slack (Block Kit), Microsoft Teams (Adaptive Card), JSON.

One message tells one team (or segment) that its budget reached a new stage this month: the stage, the burn to
date and the month-end forecast (blanked for teams under k members, as in alerts.json), the stage's actions from
params, a link to the team's guardrail report, and the month's data gaps when it has any. `alerts` decides which messages go out; this module only shapes
them, within the limits each tool documents (longer texts are cut with an ellipsis, never refused by the tool):

- Slack Block Kit: at most 50 blocks; a header's plain_text up to 150 characters; a section's text up to 3,000
  and up to 10 fields of 2,000; a context block up to 10 elements; a button's text up to 75 and its URL up to
  3,000. Text objects are `plain_text` or `mrkdwn`, and mrkdwn escapes &, < and >.
- Teams: an incoming-webhook message `{"type": "message", "attachments": [...]}` whose attachment has
  contentType `application/vnd.microsoft.card.adaptive` and an Adaptive Card (schema version 1.4, the version
  Teams renders everywhere) as content: body elements TextBlock and FactSet, actions Action.OpenUrl.
"""
from __future__ import annotations

import re

from . import figures, gaps
from .budget import interval_text, pct_floor

SLACK_LIMITS = {"blocks": 50, "header": 150, "section": 3000, "fields": 10, "field": 2000, "context": 10,
                "button": 75, "url": 3000, "text": 3000}
ADAPTIVE_CARD_VERSION = "1.4"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
REPORT_BUTTON = "Open the guardrail report"


def amount(value, unit: str, currency: str) -> str:
    """A budget figure in its unit, as every page writes it (`figures`): '1,234 USD' or '1,234 AI credits'
    (None: 'suppressed')."""
    if value is None:
        return "suppressed"
    return figures.show("burn", value, unit=unit, currency=currency)


def clip(text: str, limit: int) -> str:
    """The text cut to `limit` characters, ending in an ellipsis when it was cut (never inside an &entity;)."""
    if len(text) <= limit:
        return text
    return re.sub(r"&[a-z]{0,3}$", "", text[:limit - 1]) + "…"


def _who(entry: dict) -> str:
    return entry["name"] + (" (segment)" if entry["scope"] == "segment" else "")


def headline(entry: dict, doc: dict) -> str:
    """One sentence: who, which stage, reached or forecast, and the stage before it when there was one."""
    verb = "has reached" if entry["stage_status"] == "reached" else "is forecast to reach"
    before = f", up from {entry['previous_stage']:.0%}" if entry.get("previous_stage") is not None else ""
    return (f"{_who(entry)} {verb} {entry['stage_label']} of its Copilot budget for {doc['period']} "
            f"({amount(entry['budget'], entry['unit'], doc['currency'])}){before}.")


def forecast_words(entry: dict, doc: dict, share: bool = False) -> str:
    """An entry's month-end figure: the actual once the month is over and all of it recorded, else the forecast
    with its interval (`budget.interval_text`, or why there is none); `share` adds the budget use."""
    cur, unit = doc["currency"], entry["unit"]
    use = f"{pct_floor(entry['pct_forecast'])} of budget" if share else ""
    if entry.get("forecast_basis") == "actual":
        return f"{amount(entry['forecast'], unit, cur)} (actual{', ' + use if use else ''})"
    detail = "; ".join(t for t in (use, interval_text(entry, cur, doc["interval"])) if t)
    return f"{amount(entry['forecast'], unit, cur)} ({detail})"


def facts(entry: dict, doc: dict) -> list[tuple[str, str]]:
    """(title, value) pairs every format shows: stage, burn to date, month-end forecast, as-of day."""
    cur, unit = doc["currency"], entry["unit"]
    if entry["suppressed"]:
        burn = forecast = f"suppressed (fewer than {doc['k_anonymity']} members)"
    else:
        burn = f"{amount(entry['burn_to_date'], unit, cur)} ({pct_floor(entry['pct_to_date'])} of budget)"
        forecast = forecast_words(entry, doc, share=True)
    return [("Stage", f"{entry['stage_label']} ({entry['stage_status']})"), ("Burn to date", burn),
            ("Month-end forecast", forecast), ("As of", doc["as_of"])]


def gap_note(doc: dict) -> str:
    """The month's data gaps in words, as the reports' banner says them ('' when its days are complete)."""
    return "Incomplete data: " + gaps.entries_text(doc["gaps"]) if doc.get("gaps") else ""


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(entry: dict, doc: dict, report_url: str | None, run_url: str | None = None) -> dict:
    """A Slack incoming-webhook message: `text` (the notification) and Block Kit blocks."""
    esc = _slack_escape
    share = (SLACK_LIMITS["section"] - 40) // max(1, len(entry["actions"]))  # every action shows, long ones cut
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "emoji": False,
                                    "text": clip(f"Copilot budget: {_who(entry)} at {entry['stage_label']}",
                                                 SLACK_LIMITS["header"])}},
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(esc(headline(entry, doc)), SLACK_LIMITS["section"])},
         "fields": [{"type": "mrkdwn", "text": clip(f"*{title}*\n{esc(value)}", SLACK_LIMITS["field"])}
                    for title, value in facts(entry, doc)][:SLACK_LIMITS["fields"]]},
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(
            "*What to do now*\n" + ("\n".join(f"• {clip(esc(a), share)}" for a in entry["actions"])
                                    or "No action is configured for this stage in params/org.yaml."),
            SLACK_LIMITS["section"])}},
    ]
    if report_url:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "action_id": "open_report", "url": clip(report_url, SLACK_LIMITS["url"]),
            "text": {"type": "plain_text", "text": clip(REPORT_BUTTON, SLACK_LIMITS["button"])}}]})
    context = [f"copilot-finops guardrails, {doc['period']} as of {doc['as_of']}"] + (
        [esc(gap_note(doc))] if gap_note(doc) else [])
    if not report_url and entry.get("report_path"):
        context.append(f"report: {esc(entry['report_path'])} in the published reports")
    if run_url:
        context.append(f"<{run_url}|workflow run>")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(t, SLACK_LIMITS["text"])}
                                                   for t in context][:SLACK_LIMITS["context"]]})
    return {"text": clip(esc(headline(entry, doc)), SLACK_LIMITS["text"]), "blocks": blocks[:SLACK_LIMITS["blocks"]]}


def teams_message(entry: dict, doc: dict, report_url: str | None, run_url: str | None = None) -> dict:
    """A Microsoft Teams incoming-webhook message carrying one Adaptive Card."""
    body = [
        {"type": "TextBlock", "text": f"Copilot budget: {_who(entry)} at {entry['stage_label']}", "size": "Medium",
         "weight": "Bolder", "wrap": True},
        {"type": "TextBlock", "text": headline(entry, doc), "wrap": True},
        {"type": "FactSet", "facts": [{"title": title, "value": value} for title, value in facts(entry, doc)]},
        {"type": "TextBlock", "text": "What to do now", "weight": "Bolder", "wrap": True, "spacing": "Medium"},
    ]
    body += [{"type": "TextBlock", "text": f"• {a}", "wrap": True, "spacing": "Small"} for a in entry["actions"]] or [
        {"type": "TextBlock", "text": "No action is configured for this stage in params/org.yaml.", "wrap": True}]
    if gap_note(doc):
        body.append({"type": "TextBlock", "text": gap_note(doc), "wrap": True, "isSubtle": True})
    if not report_url and entry.get("report_path"):
        body.append({"type": "TextBlock", "text": f"Report: {entry['report_path']} in the published reports",
                     "wrap": True, "isSubtle": True})
    actions = [{"type": "Action.OpenUrl", "title": REPORT_BUTTON, "url": report_url}] if report_url else []
    if run_url:
        actions.append({"type": "Action.OpenUrl", "title": "Workflow run", "url": run_url})
    card = {"$schema": ADAPTIVE_CARD_SCHEMA, "type": "AdaptiveCard", "version": ADAPTIVE_CARD_VERSION,
            "body": body, "msteams": {"width": "Full"}}
    if actions:
        card["actions"] = actions
    return {"type": "message",
            "attachments": [{"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": card}]}


def json_message(entry: dict, doc: dict, report_url: str | None, run_url: str | None = None) -> dict:
    """Plain JSON for other tools: the budget's alerts.json entry with the month, the stage before and the links."""
    keep = ("scope", "name", "segment", "unit", "budget", "suppressed", "burn_to_date", "forecast", "forecast_low",
            "forecast_high", "pct_to_date", "pct_forecast", "forecast_basis", "estimated_days", "interval_note", "stage",
            "stage_label", "stage_status", "actions")
    return {"source": "copilot-finops", "kind": "guardrail_stage", "period": doc["period"], "as_of": doc["as_of"],
            "currency": doc["currency"], **{k: entry[k] for k in keep}, "previous_stage": entry.get("previous_stage"),
            "summary": headline(entry, doc), "report_url": report_url, "report_path": entry.get("report_path"),
            "run_url": run_url, "gaps": doc.get("gaps", [])}


# The formats of --webhook-format; adding one touches this registry and one function.
MESSAGE_FORMATS = {"slack": slack_message, "teams": teams_message, "json": json_message}
