"""Guardrail alerts: the month's budget stages as alerts.json and alerts.md, and one webhook message per new stage.

`budget.evaluate_guardrails` decides; this module writes what people and other tools read. Figures of
budgets over fewer than k members are blanked, and so are their threshold dates (they would trace a small
team's spending day by day).

Webhook messages (`deliver_alerts`): a budget gets a message when it stands at a stage above every stage
already sent to that webhook this month, so each team hears of each stage once a month at most, and a run
repeated on the same day sends nothing. What was sent is kept in the warehouse table `alert_sent`, keyed by
month, destination (a digest of the webhook URL: the URL itself is a secret), scope, name and stage.
A budget that falls back to a lower stage is not alerted again. The shapes are `alert_messages`.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import duckdb

from . import gaps, warehouse
from .alert_messages import MESSAGE_FORMATS, amount, forecast_words
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
            "actions": row["actions"], "forecast_basis": row["forecast_basis"],
            "estimated_days": int(row["estimated_days"]), "interval_note": row["interval_note"],
            # dates would trace a small team's spending day by day: blanked with the figures
            "thresholds": [{"threshold": c["threshold"], "reached_on": None if hide else _iso(c["reached_on"]),
                            "forecast_date": None if hide else _iso(c["forecast_date"]),
                            "earliest_date": None if hide else _iso(c["earliest_date"]),
                            "actions": c["actions"]} for c in row["crossings"]]})
    return {"period": report.period.label, "as_of": report.as_of.isoformat(), "currency": params.currency,
            "thresholds": params.guardrails.thresholds, "interval": params.guardrails.interval,
            "k_anonymity": params.privacy.k_anonymity, "budgets": entries, "gaps": list(report.gaps)}


def _iso(day):
    return day.isoformat() if day is not None else None


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
        forecast = "suppressed" if e["suppressed"] else forecast_words(e, doc)
        rows.append({"budget for": e["name"] + (" (segment)" if e["scope"] == "segment" else ""),
                     "budget": amount(e["budget"], e["unit"], cur),
                     "burn to date": amount(e["burn_to_date"], e["unit"], cur),
                     "month-end forecast": forecast,
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
    if doc.get("gaps"):
        lines += ["**Incomplete data.** " + gaps.entries_text(doc["gaps"]), ""]
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


# -- webhooks -------------------------------------------------------------------------------------------------
WEBHOOK_HINT = "give the channel's incoming-webhook URL, e.g. https://hooks.slack.com/services/..."


def check_url(url: str, flag: str = "--webhook", plain_http: str = "loopback", hint: str = WEBHOOK_HINT) -> str:
    """The URL's host, if the URL may be used: https, or http to a loopback address (plain_http='loopback', for
    tests) or to any host (plain_http='any', for links people open). Messages never repeat the URL's path: a
    webhook's path is its secret."""
    text = url.strip()
    if not text or any(ord(c) < 33 for c in text):
        raise UserError(f"{flag} is empty or holds spaces or control characters: {hint}")
    parsed = urllib.parse.urlsplit(text)
    scheme = parsed.scheme.lower()
    if scheme not in ("https", "http"):
        raise UserError(f"{flag} must be an https:// URL, not {scheme + ':' if scheme else 'one without a scheme'}"
                        f" ({hint})")
    try:
        host, _ = parsed.hostname, parsed.port  # .port raises on a port that is not a number
    except ValueError:
        raise UserError(f"{flag} {scheme}://… has a port that is not a number: {hint}") from None
    if not host:
        raise UserError(f"{flag} {scheme}://… has no host: {hint}")
    if scheme == "http" and plain_http == "loopback" and not _is_loopback(host):
        raise UserError(f"{flag} http://{host}/… is not encrypted: use https:// (plain http is only for a loopback "
                        "address such as 127.0.0.1, in tests)")
    return host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def post_webhook(url: str, payload: dict) -> int:
    """POST the payload as JSON; returns the HTTP status. Errors name the host, never the (secret) path."""
    host = check_url(url)
    netloc = urllib.parse.urlsplit(url.strip()).netloc.rsplit("@", 1)[-1]
    request = urllib.request.Request(url.strip(), data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        raise UserError(f"webhook at {netloc or host} answered HTTP {exc.code}: check the URL and that the hook is "
                        "active") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise UserError(f"could not reach the webhook at {netloc or host}: {getattr(exc, 'reason', exc)}") from None


def destination_id(url: str) -> str:
    """What `alert_sent` keeps of a webhook URL: a digest (the URL is a secret; its digest does not reveal it)."""
    return hashlib.sha256(url.strip().encode()).hexdigest()[:16]


def sent_stages(con: duckdb.DuckDBPyConnection, period: str, destination: str) -> dict[tuple[str, str], float]:
    """(scope, name) -> the highest stage sent to the destination in the month."""
    try:
        rows = con.execute("""SELECT scope, name, max(stage) FROM alert_sent WHERE period = ? AND destination = ?
                              GROUP BY scope, name""", [period, destination]).fetchall()
    except duckdb.CatalogException:  # a warehouse written before alert_sent existed: nothing was sent from it
        return {}
    return {(scope, name): stage for scope, name, stage in rows}


def pending_alerts(doc: dict, sent: dict[tuple[str, str], float]) -> tuple[list[dict], list[dict]]:
    """(budgets to alert, budgets whose stage was already sent): a budget is alerted when its stage is above
    every stage sent this month; each alerted entry carries `previous_stage` (the last stage sent, or None)."""
    new, held = [], []
    for entry in sorted((e for e in doc["budgets"] if e["stage"] is not None), key=lambda e: -e["stage"]):
        before = sent.get((entry["scope"], entry["name"]))
        if before is not None and entry["stage"] <= before + 1e-9:
            held.append({"scope": entry["scope"], "name": entry["name"], "stage": entry["stage"], "sent_stage": before})
        else:
            new.append({**entry, "previous_stage": before})
    return new, held


def _file_name(name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")[:60] or "budget"
    return safe if safe == name else f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def deliver_alerts(doc: dict, warehouse_path: str | Path, url: str, fmt: str, out_dir: Path, send: bool,
                   report_link: Callable[[dict], tuple[str | None, str]], run_url: str | None = None) -> dict:
    """Shape a message for every budget at a new stage, write each beside alerts.json, and with `send` post it.

    `report_link(entry)` gives (absolute URL or None, path under the published reports) of the budget's report.
    Without `send` (a dry run) nothing is posted or recorded. With it, each message posted is recorded in
    `alert_sent` at once, so a failure part-way loses nothing and a rerun sends only the rest.
    Returns {dry_run, format, host, messages: [{scope, name, stage, previous_stage, file, status}], already_sent}.
    """
    if fmt not in MESSAGE_FORMATS:
        raise UserError(f"--webhook-format {fmt!r}: choose one of {', '.join(MESSAGE_FORMATS)}")
    host = check_url(url)
    for stale in out_dir.glob("webhook-*.json"):  # payloads of an earlier run: only this run's are for review
        stale.unlink()
    con = warehouse.connect(warehouse_path, read_only=not send)
    try:
        destination = destination_id(url)
        new, held = pending_alerts(doc, sent_stages(con, doc["period"], destination))
        messages = []
        for entry in new:
            link, path = report_link(entry)
            entry = {**entry, "report_path": path}
            payload = MESSAGE_FORMATS[fmt](entry, doc, link, run_url)
            file = out_dir / f"webhook-{fmt}-{entry['scope']}-{_file_name(entry['name'])}.json"
            file.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
            status = None
            if send:
                status = post_webhook(url, payload)
                con.execute("INSERT INTO alert_sent VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [doc["period"], destination, entry["scope"], entry["name"], entry["stage"],
                             entry["stage_status"], fmt, doc["as_of"], datetime.now(timezone.utc).replace(tzinfo=None)])
            messages.append({"scope": entry["scope"], "name": entry["name"], "stage": entry["stage"],
                             "stage_label": entry["stage_label"], "previous_stage": entry["previous_stage"],
                             "file": str(file), "status": status})
    finally:
        con.close()
    return {"dry_run": not send, "format": fmt, "host": host, "messages": messages, "already_sent": held}
