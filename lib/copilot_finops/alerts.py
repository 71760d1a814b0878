"""Guardrail alerts: the month's budget stages as alerts.json, alerts.md and a webhook message.

`budget.evaluate_guardrails` decides; this module writes what people and other tools read. Figures of
budgets over fewer than k members are blanked, and so are their threshold dates (they would trace a small
team's spending day by day).
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from .budget import pct_floor
from .cost import nan_to_none
from .errors import UserError

WEBHOOK_TIMEOUT_SECONDS = 10


def _num(value, suppressed: bool):
    return None if suppressed else nan_to_none(value)


def alerts_document(report, params) -> dict:
    """alerts.json: the month, the as-of day, and one entry per budget (figures of teams under k are blanked)."""
    entries = []
    for row in report.rows.to_dict("records"):
        hide = bool(row["suppressed"])
        entries.append({
            "scope": row["scope"], "name": row["name"], "segment": row["segment"], "unit": row["unit"],
            "budget": float(row["budget"]), "suppressed": hide,
            "burn_to_date": _num(row["burn_to_date"], hide), "forecast": _num(row["forecast"], hide),
            "forecast_low": _num(row["forecast_low"], hide), "forecast_high": _num(row["forecast_high"], hide),
            "pct_to_date": _num(row["pct_to_date"], hide), "pct_forecast": _num(row["pct_forecast"], hide),
            "stage": _num(row["stage"], False), "stage_label": row["stage_label"], "stage_status": row["stage_status"],
            "actions": row["actions"],
            # dates would trace a small team's spending day by day: blanked with the figures
            "thresholds": [{"threshold": c["threshold"], "reached_on": None if hide else _iso(c["reached_on"]),
                            "forecast_date": None if hide else _iso(c["forecast_date"]),
                            "earliest_date": None if hide else _iso(c["earliest_date"]),
                            "actions": c["actions"]} for c in row["crossings"]]})
    return {"period": report.period.label, "as_of": report.as_of.isoformat(), "currency": params.currency,
            "thresholds": params.guardrails.thresholds, "interval": params.guardrails.interval,
            "k_anonymity": params.privacy.k_anonymity, "budgets": entries}


def _iso(day):
    return day.isoformat() if day is not None else None


def _amount(value, unit: str, currency: str) -> str:
    if value is None:
        return "suppressed"
    return f"{value:,.0f} {currency}" if unit == "usd" else f"{value:,.0f} credits"


def _next_crossing(entry: dict) -> str:
    if entry["suppressed"]:
        return "suppressed"
    for t in entry["thresholds"]:
        if t["reached_on"] is None and t["forecast_date"] is not None:
            return f"{t['threshold']:.0%} on {t['forecast_date']}"
    reached = [t for t in entry["thresholds"] if t["reached_on"]]
    return f"{reached[-1]['threshold']:.0%} reached {reached[-1]['reached_on']}" if reached else "none this month"


def table_rows(doc: dict) -> list[dict]:
    """The terminal / markdown table: one row per budget, in words."""
    rows = []
    for e in doc["budgets"]:
        cur = doc["currency"]
        forecast = "suppressed" if e["suppressed"] else (
            f"{_amount(e['forecast'], e['unit'], cur)} ({_amount(e['forecast_low'], e['unit'], cur).split()[0]}"
            f"–{_amount(e['forecast_high'], e['unit'], cur).split()[0]})")
        rows.append({"budget for": e["name"] + (" (segment)" if e["scope"] == "segment" else ""),
                     "budget": _amount(e["budget"], e["unit"], cur),
                     "burn to date": _amount(e["burn_to_date"], e["unit"], cur),
                     "forecast (80 % interval)": forecast,
                     "forecast %": "suppressed" if e["suppressed"] else pct_floor(e["pct_forecast"]),
                     "stage": e["stage_label"] + ("" if e["stage_status"] == "below" else f" ({e['stage_status']})"),
                     "next threshold": _next_crossing(e)})
    return rows


def alerts_markdown(doc: dict) -> str:
    """alerts.md: the table, then each budget at a stage with its actions and threshold dates."""
    lines = [f"# Copilot budget guardrails, {doc['period']}", "",
             f"As of {doc['as_of']}. Forecast to the end of the month with a {doc['interval']:.0%} interval; "
             f"stages at {', '.join(f'{t:.0%}' for t in doc['thresholds'])} of the budget, reached or forecast. "
             f"Figures of teams with fewer than {doc['k_anonymity']} members are suppressed.", ""]
    rows = table_rows(doc)
    if rows:
        header = list(rows[0])
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(r[h]) for h in header) + " |" for r in rows]
    else:
        lines.append("No team or segment has a budget in params/org.yaml (budgets: default / teams / segments).")
    staged = [e for e in doc["budgets"] if e["stage"] is not None]
    if staged:
        lines += ["", "## Actions"]
        for e in sorted(staged, key=lambda e: -e["stage"]):
            lines += ["", f"### {e['name']}: {e['stage_label']} ({e['stage_status']})"]
            lines += [f"- {a}" for a in e["actions"]] or ["- (no actions configured for this stage)"]
            for t in e["thresholds"]:
                when = ("date suppressed (fewer than k members)" if e["suppressed"] else
                        f"reached on {t['reached_on']}" if t["reached_on"] else
                        f"forecast to cross on {t['forecast_date']}" if t["forecast_date"] else
                        f"not forecast to cross (earliest {t['earliest_date']})" if t["earliest_date"] else "not forecast to cross")
                lines.append(f"- {t['threshold']:.0%}: {when}")
    return "\n".join(lines) + "\n"


def slack_payload(doc: dict) -> dict:
    """A Slack incoming-webhook message (text + blocks) naming the budgets at a stage and their actions."""
    staged = sorted((e for e in doc["budgets"] if e["stage"] is not None), key=lambda e: -e["stage"])
    summary = (f"Copilot budget guardrails {doc['period']} (as of {doc['as_of']}): "
               + (", ".join(f"{e['name']} {e['stage_label']} {e['stage_status']}" for e in staged) if staged
                  else "every budget below its first threshold"))
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": f"Copilot budget guardrails, {doc['period']}"}},
              {"type": "context", "elements": [{"type": "mrkdwn", "text": f"as of {doc['as_of']}"}]}]
    for e in staged:
        pct = "" if e["suppressed"] else f" — forecast {pct_floor(e['pct_forecast'])} of budget"
        actions = "\n".join(f"• {a}" for a in e["actions"])
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                    "text": f"*{e['name']}*: {e['stage_label']} ({e['stage_status']}){pct}\n{actions}".strip()}})
    if not staged:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "Every budget is below its first threshold."}})
    return {"text": summary, "blocks": blocks}


def post_webhook(url: str, payload: dict) -> int:
    """POST the payload as JSON; returns the HTTP status. Errors name the host, never the (secret) path."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UserError("--webhook must be an http(s) URL, e.g. https://hooks.slack.com/services/...")
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        raise UserError(f"webhook at {parsed.netloc} answered HTTP {exc.code}: check the URL and that the hook is active") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise UserError(f"could not reach the webhook at {parsed.netloc}: {getattr(exc, 'reason', exc)}") from None
