"""Guardrail alerts where teams talk: webhook URLs checked, Slack / Teams / JSON messages in their documented shapes,
one message per new stage a month (remembered in the warehouse), dry runs written beside alerts.json."""
from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit

import duckdb
import pytest

from copilot_finops import alert_messages, alerts
from copilot_finops.cli import main
from copilot_finops.errors import UserError

from test_cost import PARAMS_DIR

# -- the documented shapes --------------------------------------------------------------------------------------
# Slack Block Kit (api.slack.com/reference/block-kit/blocks, .../composition-objects, .../block-elements): at most
# 50 blocks a message; text objects are plain_text or mrkdwn; header: plain_text up to 150 characters; section:
# text up to 3,000 and/or up to 10 fields of 2,000; context: up to 10 elements; actions: up to 25 elements; a
# button: plain_text text up to 75, url up to 3,000, action_id up to 255. mrkdwn escapes &, < and > as entities.
SLACK_BLOCK_TYPES = {"header", "section", "context", "actions", "divider", "image", "rich_text"}


def _text_object(obj, limit: int, where: str, kinds=("plain_text", "mrkdwn")) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in kinds or not isinstance(obj.get("text"), str):
        return [f"{where}: not a {'/'.join(kinds)} text object: {obj!r}"]
    problems = [] if 0 < len(obj["text"]) <= limit else [f"{where}: {len(obj['text'])} characters (1..{limit})"]
    if obj["type"] == "mrkdwn":  # a bare < or & must be escaped; <url|label> links are the only markup
        text = obj["text"].replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
        stripped = __import__("re").sub(r"<https?://[^<>|\s]+\|[^<>]+>", "", text)
        if any(c in stripped for c in "<>&"):
            problems.append(f"{where}: unescaped <, > or & in mrkdwn: {obj['text']!r}")
    return problems


def block_kit_problems(message: dict) -> list[str]:
    problems = []
    if not isinstance(message.get("text"), str) or not message["text"]:
        problems.append("no top-level text (the notification and accessibility fallback)")
    blocks = message.get("blocks")
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return problems + [f"blocks must be a list of 1..50, got {blocks!r}"]
    for i, block in enumerate(blocks):
        kind, where = block.get("type"), f"blocks[{i}]"
        if kind not in SLACK_BLOCK_TYPES:
            problems.append(f"{where}: unknown block type {kind!r}")
        elif kind == "header":
            problems += _text_object(block.get("text"), 150, where, kinds=("plain_text",))
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: a section needs text or fields")
            if "text" in block:
                problems += _text_object(block["text"], 3000, where + ".text")
            fields = block.get("fields", [])
            if len(fields) > 10:
                problems.append(f"{where}: {len(fields)} fields (at most 10)")
            for j, f in enumerate(fields):
                problems += _text_object(f, 2000, f"{where}.fields[{j}]")
        elif kind == "context":
            elements = block.get("elements", [])
            if not 0 < len(elements) <= 10:
                problems.append(f"{where}: {len(elements)} context elements (1..10)")
            for j, e in enumerate(elements):
                problems += _text_object(e, 3000, f"{where}.elements[{j}]")
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 0 < len(elements) <= 25:
                problems.append(f"{where}: {len(elements)} action elements (1..25)")
            for j, e in enumerate(elements):
                if e.get("type") != "button":
                    problems.append(f"{where}.elements[{j}]: expected a button")
                    continue
                problems += _text_object(e.get("text"), 75, f"{where}.elements[{j}].text", kinds=("plain_text",))
                url = e.get("url", "")
                if not (url.startswith(("https://", "http://")) and len(url) <= 3000):
                    problems.append(f"{where}.elements[{j}].url: {url!r}")
                if len(e.get("action_id", "")) > 255:
                    problems.append(f"{where}.elements[{j}].action_id longer than 255")
    return problems


# Microsoft Teams incoming webhooks (learn.microsoft.com, "Create incoming webhooks" / "Send Adaptive Cards using an
# incoming webhook"): {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
# "contentUrl": null, "content": <AdaptiveCard>}]}; the card (adaptivecards.io schema) has "type": "AdaptiveCard",
# a "version" Teams renders (1.0 to 1.5), "$schema", a "body" of elements (TextBlock needs "text"; FactSet needs
# "facts" of {title, value} strings) and optional "actions" (Action.OpenUrl needs "title" and an absolute "url").
ADAPTIVE_VERSIONS = {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"}
ADAPTIVE_ELEMENTS = {"TextBlock", "FactSet", "ColumnSet", "Container", "Image", "RichTextBlock"}


def adaptive_card_problems(message: dict) -> list[str]:
    if message.get("type") != "message" or not isinstance(message.get("attachments"), list):
        return ["not a Teams message envelope {type: message, attachments: [...]}"]
    if len(message["attachments"]) != 1:
        return [f"{len(message['attachments'])} attachments (one card a message)"]
    attachment = message["attachments"][0]
    problems = []
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        problems.append(f"contentType {attachment.get('contentType')!r}")
    if attachment.get("contentUrl") is not None:
        problems.append("contentUrl must be null for an inline card")
    card = attachment.get("content", {})
    if card.get("type") != "AdaptiveCard" or card.get("version") not in ADAPTIVE_VERSIONS:
        problems.append(f"card type/version {card.get('type')!r} {card.get('version')!r}")
    if card.get("$schema") != "http://adaptivecards.io/schemas/adaptive-card.json":
        problems.append("no $schema")
    body = card.get("body")
    if not isinstance(body, list) or not body:
        return problems + ["empty body"]
    for i, element in enumerate(body):
        kind = element.get("type")
        if kind not in ADAPTIVE_ELEMENTS:
            problems.append(f"body[{i}]: unknown element {kind!r}")
        if kind == "TextBlock" and not (isinstance(element.get("text"), str) and element["text"]):
            problems.append(f"body[{i}]: TextBlock without text")
        if kind == "FactSet" and not all(isinstance(f.get("title"), str) and isinstance(f.get("value"), str)
                                         for f in element.get("facts", [None]) if f):
            problems.append(f"body[{i}]: FactSet facts must be {{title, value}} strings")
    for i, action in enumerate(card.get("actions", [])):
        if action.get("type") != "Action.OpenUrl" or not action.get("title") \
                or not str(action.get("url", "")).startswith(("https://", "http://")):
            problems.append(f"actions[{i}]: {action!r}")
    return problems


# -- a hand-made alerts document --------------------------------------------------------------------------------
def entry(name, stage, scope="team", status="forecast", suppressed=False, actions=("Trim long prompts.",)):
    return {"scope": scope, "name": name, "segment": "platform_sre", "unit": "credits", "budget": 1000.0,
            "suppressed": suppressed, "burn_to_date": None if suppressed else 500.0,
            "forecast": None if suppressed else 850.0, "forecast_low": None if suppressed else 800.0,
            "forecast_high": None if suppressed else 900.0, "pct_to_date": None if suppressed else 0.5,
            "pct_forecast": None if suppressed else 0.85, "stage": stage,
            "stage_label": f"{stage:.0%}" if stage is not None else "below 60%", "stage_status": status,
            "actions": list(actions), "thresholds": [], "forecast_basis": "forecast", "estimated_days": 0,
            "interval_note": ""}


def document(*entries, gaps=()):
    return {"period": "2026-10", "as_of": "2026-10-12", "currency": "USD", "thresholds": [0.6, 0.8, 0.95],
            "interval": 0.8, "k_anonymity": 5, "budgets": list(entries), "gaps": list(gaps)}


def test_a_budget_is_alerted_once_per_stage_and_only_upwards():
    doc = document(entry("rises", 0.8), entry("new", 0.6), entry("falls-back", 0.6), entry("same", 0.8),
                   entry("below", None))
    sent = {("team", "rises"): 0.6, ("team", "falls-back"): 0.8, ("team", "same"): 0.8}
    new, held = alerts.pending_alerts(doc, sent)
    assert [(e["name"], e["previous_stage"]) for e in new] == [("rises", 0.6), ("new", None)]  # highest stage first
    assert {h["name"] for h in held} == {"falls-back", "same"}
    assert alerts.pending_alerts(doc, {})[1] == [] and len(alerts.pending_alerts(doc, {})[0]) == 4


@pytest.mark.parametrize("fmt", sorted(alert_messages.MESSAGE_FORMATS))
def test_messages_keep_the_documented_shapes_and_limits_with_hostile_text(fmt):
    long_action = "Route routine chat to a lighter model & keep <context> short. " * 120  # ~7,000 characters
    doc = document(entry("web <storefront> & co", 0.95, status="reached", actions=(long_action, "Pause low-priority work.")),
                   entry("tiny-team", 0.6, suppressed=True), entry("platform_sre", 0.8, scope="segment", actions=()))
    new, _ = alerts.pending_alerts(doc, {})
    for e in new:
        message = alert_messages.MESSAGE_FORMATS[fmt](
            {**e, "report_path": "2026-10/x/03_guardrails.html"}, doc, "https://acme.github.io/finops/2026-10/x/03_guardrails.html",
            "https://github.com/acme/finops/actions/runs/1")
        json.dumps(message)  # serialisable as it will be posted
        if fmt == "slack":
            assert block_kit_problems(message) == []
            assert "&lt;storefront&gt; &amp; co" in message["text"] or e["name"] != "web <storefront> & co"
        elif fmt == "teams":
            assert adaptive_card_problems(message) == []
            card = message["attachments"][0]["content"]
            assert card["actions"][0]["url"].endswith("/03_guardrails.html")
        else:
            assert message["stage"] == e["stage"] and message["name"] == e["name"]
            assert message["report_url"].startswith("https://")
        text = json.dumps(message)
        if fmt == "json":
            assert message["forecast"] == (None if e["suppressed"] else 850.0)
        elif e["suppressed"]:  # a team under k: stage and actions only, no figure
            assert "850" not in text and "500 credits" not in text and "suppressed (fewer than 5 members)" in text
        else:
            assert "850 AI credits" in text and e["stage_label"] in text
        assert all(a[:20] in text for a in e["actions"])  # every action shows, long ones cut


def test_messages_say_the_month_gaps_the_actual_of_a_closed_month_and_why_there_is_no_interval():
    gap = {"kind": "users-1-day", "day": "2026-10-19", "state": "missing"}
    closed = {**entry("closed", 0.8, status="reached"), "forecast_basis": "actual", "forecast_low": 850.0,
              "forecast_high": 850.0}
    flat = {**entry("flat", 0.8), "forecast_low": 850.2, "forecast_high": 850.3, "interval_note": "a day of history"}
    doc = document(entry("open", 0.8), closed, flat, gaps=[gap])
    texts = {}
    for fmt, shape in alert_messages.MESSAGE_FORMATS.items():
        for e in doc["budgets"]:
            texts[fmt, e["name"]] = json.dumps(shape(e, doc, None), ensure_ascii=False)
    for fmt in alert_messages.MESSAGE_FORMATS:
        day = "2026-10-19" if fmt == "json" else "19 Oct"  # the gap: an entry of `gaps`, or in words
        assert all(day in texts[fmt, name] for name in ("open", "closed", "flat")), fmt
        assert "800–900 AI credits" in texts[fmt, "open"] or fmt == "json"
        assert "850 AI credits (actual" in texts[fmt, "closed"] or fmt == "json"
        assert "850 to 850" not in texts[fmt, "closed"] and "850–850" not in texts[fmt, "closed"]
        assert "no 80% interval: a day of history" in texts[fmt, "flat"] or fmt == "json"
    assert "Incomplete data" in alerts.alerts_markdown(doc)
    forecasts = [r["month-end forecast"] for r in alerts.table_rows(doc)]
    assert forecasts == ["850 AI credits (80% interval 800–900 AI credits)", "850 AI credits (actual)",
                         "850 AI credits (no 80% interval: a day of history)"]


# -- webhook URLs ---------------------------------------------------------------------------------------------
BAD_URLS = ["file:///etc/passwd", "ftp://hooks.example.test/XyzzyToken", "javascript:alert(1)//XyzzyToken",
            "http:///nohost/XyzzyToken", "http://hooks.example.test/XyzzyToken", "hooks.slack.com/XyzzyToken",
            "https://hooks.example.test:port/XyzzyToken", "https://hooks.example.test/Xyzzy Token", ""]


@pytest.mark.parametrize("url", BAD_URLS)
def test_bad_webhook_urls_are_refused_in_a_dry_run_before_any_work(small_demo, tmp_path, capsys, url):
    args = ["guardrails", "--period", "2026-10", "--warehouse", str(small_demo.warehouse), "--params", str(PARAMS_DIR),
            "--out", str(tmp_path), "--webhook", url]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --webhook") and err.count("\n") == 1 and "Traceback" not in err
    assert "XyzzyToken" not in err and "passwd" not in err  # the path of a webhook is its secret
    assert not (tmp_path / "2026-10").exists()  # refused before anything was evaluated or written


@pytest.mark.parametrize("url, host", [("https://hooks.slack.com/services/T/B/x", "hooks.slack.com"),
                                       ("http://127.0.0.1:8080/hook", "127.0.0.1"), ("http://[::1]/hook", "::1"),
                                       ("http://localhost/hook", "localhost")])
def test_https_and_loopback_http_are_accepted(url, host):
    assert alerts.check_url(url) == host
    with pytest.raises(UserError, match="not encrypted"):
        alerts.check_url("http://10.0.0.8/hook")
    assert alerts.check_url("http://intranet.example/reports", "--report-url", plain_http="any") == "intranet.example"


# -- the command: dry run, send, and never twice ---------------------------------------------------------------
class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture()
def loopback_hook():
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/XyzzyToken", _Hook.received
    server.shutdown()
    server.server_close()


@pytest.fixture()
def own_warehouse(small_demo, tmp_path):
    """A copy of the demo warehouse: --send writes alert_sent into it."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(small_demo.warehouse, path)
    return path


def guardrails(warehouse, out, *extra, as_of="2026-10-12"):
    return ["guardrails", "--period", "2026-10", "--as-of", as_of, "--warehouse", str(warehouse), "--params",
            str(PARAMS_DIR), "--out", str(out), "--json", *extra]


def sent_rows(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("SELECT period, scope, name, stage, webhook_format FROM alert_sent ORDER BY name").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("fmt", ["slack", "teams"])
def test_dry_run_writes_each_payload_beside_alerts_json_and_records_nothing(own_warehouse, tmp_path, capsys, fmt):
    out = tmp_path / "out"
    args = guardrails(own_warehouse, out, "--webhook", "https://hooks.example.test/XyzzyToken", "--webhook-format",
                      fmt, "--report-url", "https://acme.github.io/finops/")
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    staged = {(b["scope"], b["name"]) for b in doc["budgets"] if b["stage"] is not None}
    assert staged and doc["webhook"]["dry_run"] and doc["webhook"]["host"] == "hooks.example.test"
    assert {(m["scope"], m["name"]) for m in doc["webhook"]["messages"]} == staged
    files = sorted((out / "2026-10").glob("webhook-*.json"))
    assert [str(f) for f in files] == sorted(m["file"] for m in doc["webhook"]["messages"])
    for m in doc["webhook"]["messages"]:
        payload = json.loads(open(m["file"]).read())
        assert (block_kit_problems if fmt == "slack" else adaptive_card_problems)(payload) == []
        link = f"https://acme.github.io/finops/2026-10/{m['name']}/03_guardrails.html" if m["scope"] == "team" \
            else "https://acme.github.io/finops/2026-10/index.html"
        assert link in json.dumps(payload)
    assert sent_rows(own_warehouse) == []  # a dry run posts and records nothing
    assert main([a for a in args if a != "--json"]) == 0  # the table, then what would be posted
    printed = capsys.readouterr().out
    assert "dry run: add --send to post" in printed and all(m["file"] in printed for m in doc["webhook"]["messages"])
    assert "XyzzyToken" not in printed + json.dumps(doc) + "".join(f.read_text() for f in files)


def test_a_second_send_in_the_same_stage_sends_nothing(own_warehouse, tmp_path, capsys, loopback_hook):
    url, received = loopback_hook
    out = tmp_path / "out"
    assert main(guardrails(own_warehouse, out, "--webhook", url, "--webhook-format", "teams", "--send")) == 0
    first = json.loads(capsys.readouterr().out)
    staged = sorted(b["name"] for b in first["budgets"] if b["stage"] is not None)
    assert staged and sorted(m["name"] for m in first["webhook"]["messages"]) == staged
    assert len(received) == len(staged) and all(path == urlsplit(url).path for path, _ in received)
    assert all(adaptive_card_problems(payload) == [] for _, payload in received)
    assert [(r[2], r[3]) for r in sent_rows(own_warehouse)] == sorted(
        (b["name"], b["stage"]) for b in first["budgets"] if b["stage"] is not None)

    con = duckdb.connect(str(own_warehouse), read_only=True)
    try:  # the table's grain: one row per month, destination, budget and stage
        assert con.execute("""SELECT count(*) = count(DISTINCT (period, destination, scope, name, stage))
                              AND count(*) FILTER (WHERE destination IS NULL OR stage IS NULL) = 0
                              FROM alert_sent""").fetchone()[0]
    finally:
        con.close()

    assert main(guardrails(own_warehouse, out, "--webhook", url, "--webhook-format", "teams", "--send")) == 0
    second = json.loads(capsys.readouterr().out)
    assert len(received) == len(staged)  # nothing new posted
    assert second["webhook"]["messages"] == [] and sorted(h["name"] for h in second["webhook"]["already_sent"]) == staged
    assert not list((out / "2026-10").glob("webhook-*.json"))  # no payload left from the first run to confuse a reviewer

    # another webhook is another destination: it hears of the stages once too
    other = url.replace("XyzzyToken", "OtherChannel")
    assert main(guardrails(own_warehouse, out, "--webhook", other, "--send")) == 0
    assert len(received) == 2 * len(staged)
    capsys.readouterr()


def test_a_later_day_alerts_only_budgets_above_the_stage_already_sent(own_warehouse, tmp_path, capsys, loopback_hook):
    url, received = loopback_hook
    sent: dict[str, float] = {}
    for as_of in ("2026-10-05", "2026-10-12", "2026-10-31"):
        assert main(guardrails(own_warehouse, tmp_path, "--webhook", url, "--webhook-format", "json", "--send",
                               as_of=as_of)) == 0
        doc = json.loads(capsys.readouterr().out)
        expected = {b["name"] for b in doc["budgets"] if b["stage"] is not None and b["stage"] > sent.get(b["name"], 0)}
        got = {m["name"] for m in doc["webhook"]["messages"]}
        assert got == expected, as_of
        for m in doc["webhook"]["messages"]:
            assert m["previous_stage"] == sent.get(m["name"])
            sent[m["name"]] = m["stage"]
    assert len(received) == len(sent_rows(own_warehouse)) and {p["name"] for _, p in received} == set(sent)
    assert all(p["kind"] == "guardrail_stage" and p["period"] == "2026-10" for _, p in received)


def test_alert_flags_without_a_webhook_and_bad_formats_are_refused(small_demo, tmp_path, capsys):
    base = ["guardrails", "--period", "2026-10", "--warehouse", str(small_demo.warehouse), "--out", str(tmp_path)]
    assert main(base + ["--report-url", "https://acme.github.io/x"]) == 2
    assert "go with --webhook" in capsys.readouterr().err
    assert main(base + ["--webhook", "https://hooks.example.test/x", "--webhook-format", "discord"]) == 2
    assert "choose one of slack, teams, json" in capsys.readouterr().err
    assert main(base + ["--webhook", "https://hooks.example.test/x", "--report-url", "javascript:alert(1)"]) == 2
    assert "--report-url must be an https:// URL" in capsys.readouterr().err
