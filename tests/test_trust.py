"""Numbers a reader can trust, on one rendered demo (the `rendered_demo` fixture, rendered once per session).

- the same figure reads the same wherever it appears: the index, pages 00-07, the stitched retro and the --json
  of guardrails, delivery, patterns, whatif, agents and repos;
- no page shows nan, inf, a bare k or a snake_case key of the params files;
- no figure computed from fewer than k people appears anywhere, on a page or in a --json document;
- totals over groups of people (segments, the teams shown) count each person once, checked against a
  recomputation from the raw files.
"""
from __future__ import annotations

import gzip
import json
import math
import re
from collections import defaultdict
from datetime import date
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from copilot_finops import agents, bill, cost, figures, formatting, privacy, usage, warehouse
from copilot_finops.params import load_params
from copilot_finops.patterns import PATTERN_BY_NAME
from copilot_finops.period import parse_period

from conftest import ROOT
from test_privacy import demo_identities

K = 5


# -- reading pages ---------------------------------------------------------------------------------------------------
class _Tables(HTMLParser):
    """Rows of every <table> in a page, as lists of cell texts (header row first)."""

    def __init__(self):
        super().__init__()
        self.tables, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append(" ".join((self._cell or "").split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def tables(html: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return [t for t in parser.tables if t]


def visible_text(html: str) -> str:
    """What a reader sees: no charts (SVG), scripts or styles, tags removed, entities decoded."""
    text = re.sub(r"<(svg|script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", text)).split())


def table(html: str, *header: str, required: bool = True) -> list[dict] | None:
    """The rows (as header -> cell) of the first table whose header row starts with `header` (None when there is
    no such table and it is not `required`)."""
    for t in tables(html):
        if tuple(t[0][:len(header)]) == header:
            return [dict(zip(t[0], row)) for row in t[1:]]
    assert not required, f"no table with header {header}"
    return None


def by_first(rows: list[dict]) -> dict:
    return {next(iter(r.values())): r for r in rows}


def page(demo, team: str, name: str) -> str:
    return (demo.pages / team / f"{name}.html").read_text()


def teams_shown(demo) -> list[str]:
    con = warehouse.connect(demo.warehouse, read_only=True)
    try:
        period = parse_period(demo.org.period)
        return [t for t in usage.teams_in_warehouse(con, period)
                if not any(privacy.small_group(n, K) for n in usage.team_size(con, t, period))]
    finally:
        con.close()


# -- one figure, one reading --------------------------------------------------------------------------------------------
HEADLINES = ("Active developers", "Prompts per active developer", "Accepted-output ratio", "AI credits")


def test_every_team_has_every_page_rendered_offline_and_none_failed(rendered_demo):
    """The full render (every team of the demo, every notebook, the org overview, the retros) is whole: the
    `demo` command's own end-to-end test renders only two teams."""
    from copilot_finops.demo import org as demo_org

    external = re.compile(r"<(script|link|img|iframe)[^>]+(src|href)\s*=\s*[\"']?(https?:)?//", re.IGNORECASE)
    books = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    team_books = [p.stem for p in books if not p.name.startswith("00_")]
    org_books = [p.stem for p in books if p.name.startswith("00_")]
    run = json.loads((rendered_demo.pages / "run.json").read_text())
    assert run["results"] and all(r["ok"] for r in run["results"]), [r for r in run["results"] if not r["ok"]]
    index = (rendered_demo.pages / "index.html").read_text()
    pages = [rendered_demo.pages / "org" / f"{stem}.html" for stem in org_books]
    for slug, *_ in demo_org.TEAMS:
        assert f">{slug}<" in index
        pages += [rendered_demo.pages / slug / f"{stem}.html" for stem in team_books]
        pages.append(rendered_demo.pages / slug / "retro.html")
    assert len(run["results"]) == len(org_books) + len(demo_org.TEAMS) * len(team_books)
    for page in pages:
        assert page.exists(), page
        text = page.read_text()
        assert not external.search(text), f"{page} references the network"
        assert "This report failed" not in text and "Traceback" not in text, page


def test_a_figure_reads_the_same_on_every_page_the_retro_and_the_json(rendered_demo):
    demo = rendered_demo
    docs = demo.documents
    index = by_first(table((demo.pages / "index.html").read_text(), "Team"))
    overview = (demo.pages / "org/00_org_overview.html").read_text()
    org_teams = by_first(table(overview, "team", "segment", "developers"))
    budgets = {b["name"]: b for b in docs["guardrails"]["budgets"] if b["scope"] == "team"}
    delivery = {t["team"]: t for t in docs["delivery"]["teams"]}
    shown = teams_shown(demo)
    assert len(shown) >= 5
    for team in shown:
        usage_page, cost_page = page(demo, team, "01_team_usage"), page(demo, team, "02_cost_baseline")
        guard_page, delivery_page = page(demo, team, "03_guardrails"), page(demo, team, "05_delivery_correlation")
        retro_page = page(demo, team, "06_monthly_retro")
        headline = by_first(table(usage_page, "measure", "team", "whole org"))
        change = by_first(table(retro_page, "measure", "this month", "last month", "change"))
        costs = by_first(table(cost_page, "measure", "team", "whole org (each user once)"))
        for label in HEADLINES:  # the index, 01 and the retro's change table
            assert index[team][label] == headline[label]["team"] == change[label]["this month"], (team, label)
        assert costs["Active developers"]["team"] == index[team]["Active developers"]
        assert costs["AI credits"]["team"] == headline["AI credits"]["team"]
        assert org_teams[team]["spend"] == costs["Spend"]["team"] == index[team]["Spend"], team
        assert org_teams[team]["developers"].endswith(f"({index[team]['Active developers']} active)")
        # budget use: 00, 03's table and text, the retro, and guardrails --json, all floored the same way
        if team in budgets:
            b = budgets[team]
            used, forecast = figures.show("budget_use", b["pct_to_date"]), figures.show("budget_forecast_use", b["pct_forecast"])
            stages = by_first(table(guard_page, "budget for"))
            # the same header on both pages: "forecast" while the month is open, "month end" once it is closed
            header = "forecast" if "forecast" in stages[team] else "month end"
            assert org_teams[team][f"used / {header}"] == f"{used} / {forecast}", team
            assert (stages[team]["burn to date"], stages[team][header]) == (used, forecast)
            assert f"{used} of the" in visible_text(guard_page) and f"({used})" in visible_text(retro_page)
        # delivery: 05's table, its verdict text, the retro and delivery --json
        entry = delivery[team]
        metrics = by_first(table(delivery_page, "metric", "value"))
        if not entry["suppressed"]:
            for key, value in entry["metrics"].items():
                if key in figures.FIGURES and figures.label(key) in metrics:
                    assert metrics[figures.label(key)]["value"] == figures.show(key, value), (team, key)
            cfr = metrics["Change failure rate"]["value"]
            assert f"(change failure rate {cfr})" in visible_text(delivery_page)
            verdict = re.search(r"Verdict for .*?(?=Correlation is not causation)", visible_text(delivery_page)).group(0)
            assert verdict in visible_text(retro_page)
            for label, key in (("Prompts per active developer", "prompts_per_active_developer"),
                               ("Accepted-output ratio", "accepted_output_ratio"), ("AI credits", "ai_credits_used")):
                value = entry["metrics"]["usage"][key]
                assert figures.show(usage.SUMMARY_FIGURES.get(key, key), value) == headline[label]["team"], (team, key)
        # patterns: 04 and the retro show the same movement (or both say in a sentence that it is all suppressed)
        movement = ("pattern", "developer-weeks", "last month")
        patterns_page = page(demo, team, "04_high_burn_patterns")
        assert table(patterns_page, *movement, required=False) == table(retro_page, *movement, required=False)
        sentence = re.search(r"Each pattern of either month stood behind [^.]*\.[^.]*\.", visible_text(patterns_page))
        assert sentence is None or sentence.group(0) in visible_text(retro_page)
        # the stitched retro leaves out sections another covers (to print on a few pages), never changes a table:
        # each of its tables is one of the team's pages, figure for figure
        own = [t for name in ("01_team_usage", "02_cost_baseline", "03_guardrails", "04_high_burn_patterns",
                              "05_delivery_correlation", "06_monthly_retro") for t in tables(page(demo, team, name))]
        stitched = tables((demo.pages / team / "retro.html").read_text())
        assert stitched
        for t in stitched:
            assert t in own, (team, t[0])
    # the org overview's headline quotes its last totals row
    last = table(overview, "segment", "teams")[-1]
    assert f"{last['spend']} for {last['members']} members, {last['active developers']} of them active" in \
        visible_text(overview)
    # patterns --json and page 04's org table: the same rows, written the same way
    org_table = table(page(demo, shown[0], "04_high_burn_patterns"), "pattern", "team", required=False)
    if org_table is None:  # every row suppressed: the page says so in one sentence naming the patterns
        assert all(r["suppressed"] for r in docs["patterns"]["table"])
        text = visible_text(page(demo, shown[0], "04_high_burn_patterns"))
        assert all(PATTERN_BY_NAME[r["pattern"]].title in text for r in docs["patterns"]["table"])
    else:
        org_rows = {(r["pattern"], r["team"]): r for r in org_table}
        for r in docs["patterns"]["table"]:
            cells = org_rows[(PATTERN_BY_NAME[r["pattern"]].title, r["team_slug"])]
            for column, key, value in (("AI credits", "flagged_credits", r["credits"]),
                                       ("developer-weeks", "flagged_weeks", r["user_weeks"])):
                assert cells[column] == (privacy.suppressed_label(K) if r["suppressed"] else figures.show(key, value))


def test_page_07_and_the_attribution_tables_read_as_page_02_and_the_json(rendered_demo):
    """Page 07's team figures, page 02's repositories and agent work, and the --json of whatif, agents and repos:
    one figure, one reading; a team under k shows none of them anywhere."""
    demo, docs = rendered_demo, rendered_demo.documents
    shown = teams_shown(demo)
    whatif_teams = {t["team_slug"]: t for t in docs["whatif"]["teams"]}
    agent_teams = {t["team_slug"]: t for t in docs["agents"]["teams"] if not t["unattributed"]}
    small = sorted(set(whatif_teams) - set(shown))
    assert small, "the demo has teams under k: the test looks for their figures"
    for team in shown:
        routing, cost_page = page(demo, team, "07_model_routing"), page(demo, team, "02_cost_baseline")
        costs = by_first(table(cost_page, "measure", "team", "whole org (each user once)"))
        every = by_first(table(routing, "team", "segment", "AI credits"))
        doc = whatif_teams[team]
        assert not doc["suppressed"] and every[team]["AI credits"] == costs["AI credits"]["team"], team
        assert every[team]["AI credits saved"] == figures.show("credits_saved", doc["credits_saved"]), team
        assert f"{every[team]['AI credits saved']} AI credits saved" in visible_text(routing), team
        for other in small:
            assert set(every[other].values()) - {other, every[other]["segment"], "judged", "too thin to judge"} \
                == {privacy.suppressed_label(K)}, (team, other)
        # page 02: the repositories add up to the team's AI credits; agent work as agents --json has it
        repositories = by_first(table(cost_page, "repository", "AI credits"))
        assert repositories["total"]["AI credits"] == costs["AI credits"]["team"], team
        agent_rows = by_first(table(cost_page, "team", figures.label("agent_tasks")))
        folded = agent_teams[team]["folded"]  # shown only within the folded row, which then follows it
        fold_row = docs["agents"]["folded_teams"]
        for key in ("agent_cost", "human_cost", "human_cost_per_merged_change"):
            assert agent_rows[team][figures.label(key)] == (
                formatting.folded_label() if folded else
                figures.show(key, agent_teams[team][key], currency="USD")), (team, key)
            if folded:
                fold_label = agents.FOLDED.format(n=fold_row["teams"], k=K)
                assert agent_rows[fold_label][figures.label(key)] == figures.show(key, fold_row[key], currency="USD")
    for team in small:
        assert whatif_teams[team]["credits_before"] is None and agent_teams[team]["human_cost"] is None
    assert docs["repos"]["repositories"][-1]["repo"] == "total"


# -- the sweep -------------------------------------------------------------------------------------------------------
def _params_keys(path: Path) -> set[str]:
    keys: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                keys.add(str(key))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for file in sorted(path.rglob("*.yaml")):
        walk(yaml.safe_load(file.read_text()))
    return {k for k in keys if "_" in k}


def test_no_page_shows_nan_inf_a_bare_k_code_or_a_params_key(rendered_demo):
    keys = _params_keys(ROOT / "params")
    assert {"pool_allocation", "inactive_seat_days", "platform_sre", "code_changes"} <= keys
    key_pattern = re.compile(r"(?<![\w/.-])(" + "|".join(sorted(map(re.escape, keys), key=len, reverse=True)) + r")(?![\w-])")
    bad = re.compile(r"(?<![\w-])(nan|NaN|inf|Infinity|-inf)(?![\w-])|\+nan|(?<![\w'’-])k(?![\w'’-])|ctx\.|Traceback")
    pages = sorted(rendered_demo.pages.rglob("*.html"))
    assert len(pages) > 60
    found = {}
    for path in pages:
        text = visible_text(path.read_text())
        hits = [m.group(0) for m in bad.finditer(text)] + [m.group(0) for m in key_pattern.finditer(text)]
        if hits:
            found[str(path.relative_to(rendered_demo.pages))] = sorted(set(hits))[:5]
    assert not found, f"placeholders, NaN or params keys on pages: {found}"
    for command, document in rendered_demo.documents.items():
        text = json.dumps(document)
        assert not re.search(r"\bNaN\b|\bInfinity\b", text), command


# -- no figure from fewer than k people ------------------------------------------------------------------------------
PEOPLE_COLUMN = re.compile(r"^(active )?(users|developers|members)$|^(cli|active) (users|developers)$", re.IGNORECASE)
PEOPLE_ROW = re.compile(r"^(active developers|cli developers|members|developers)$", re.IGNORECASE)
PEOPLE_PROSE = re.compile(r"(?<![\w.,-])(\d+) (?:(?:active |CLI )?(?:developers?|users?|members|people)(?![\w-])"
                          r"|used the Copilot CLI)")


def small_counts(html: str, k: int) -> list[str]:
    """Counts of people of 1 .. k-1 in a page: in people-count columns or rows of its tables, and in its prose."""
    found = [m.group(0) for m in PEOPLE_PROSE.finditer(visible_text(html)) if 0 < int(m.group(1)) < k]
    for t in tables(html):
        header = t[0]
        for row in t[1:]:
            for name, cell in zip(header, row):
                value = re.fullmatch(r"([\d,]+)(?: \(\d+ active\))?", cell)
                if PEOPLE_COLUMN.match(name) and value and 0 < int(value.group(1).replace(",", "")) < k:
                    found.append(f"{name}={cell} in {row}")
            if row and PEOPLE_ROW.match(row[0]):
                found += [f"{row[0]}={c}" for c in row[1:] if re.fullmatch(r"[\d,]+", c) and 0 < int(c.replace(",", "")) < k]
    return found


UNIT_WORDS = {  # the word a figure's text sits beside on a page: its unit, or its table column / row label
    "ai_credits": "credit", "flagged_credits": "credit", "credits_per_active_developer": "credit", "spend": "USD",
    "cli_requests": "request", "requests": "request", "requests_per_active_developer": "request",
    "cli_requests_per_active_developer": "request", "cli_prompts": "prompt", "prompts_per_active_developer": "prompt"}


def _forbidden(demo) -> tuple[dict[str, set[tuple[str, str]]], set[float]]:
    """Figures computed from 1 .. k-1 people, as the formatter writes them with the word they sit beside (per
    team whose pages must not show them; '*' for every page), and as raw numbers (for the JSON documents). Only
    distinctive ones (4+ digits or a decimal point) are kept."""
    con = warehouse.connect(demo.warehouse, read_only=True)
    period, params = parse_period(demo.org.period), load_params(demo.base / "params")
    texts: dict[str, set[tuple[str, str]]] = defaultdict(set)
    numbers: set[float] = set()
    costs = cost.team_costs(con, period, params).set_index("team_slug")

    def forbid(where: str, key: str, value) -> None:
        text = figures.show(key, value)
        if re.search(r"\d,\d{3}|\d\.\d", text):
            texts[where].add((text.split(" ")[0], UNIT_WORDS[key]))
            if not float(value).is_integer():  # a whole amount (38.00 USD: two seat-months) is any count's value too
                numbers.add(float(value))

    try:
        for team in usage.teams_in_warehouse(con, period):
            raw = usage.team_period_summary(con, team, period, 0)["team"]  # k = 0: nothing blanked
            members, active = usage.team_size(con, team, period)
            if privacy.small_group(members, K) or privacy.small_group(active, K):
                for key in ("prompts_per_active_developer", "credits_per_active_developer"):
                    forbid(team, key, raw[key])
                forbid("*", "ai_credits", raw["ai_credits_used"])
                forbid("*", "spend", costs.loc[team, "total_cost"])
            elif privacy.small_group(raw["cli_developers"], K):
                for key in ("cli_requests", "cli_prompts", "requests", "requests_per_active_developer"):
                    forbid(team, key, raw[key])
                forbid(team, "cli_requests_per_active_developer", costs.loc[team, "cli_requests_per_active_developer"])
        from copilot_finops import patterns

        flagged = patterns.detect(con, params, period, key=privacy.key_for(params, demo.base / "params"))
        for week_credits in flagged["credits"]:
            forbid("*", "flagged_credits", week_credits)  # one person's week
        for (team, pattern), group in flagged.groupby(["team_slug", "pattern"]):
            if privacy.small_group(group["user"].nunique(), K):
                forbid("*", "flagged_credits", group["credits"].sum())
    finally:
        con.close()
    return texts, numbers


def _numbers(document) -> list[float]:
    if isinstance(document, dict):
        return [x for v in document.values() for x in _numbers(v)]
    if isinstance(document, list):
        return [x for v in document for x in _numbers(v)]
    return [float(document)] if isinstance(document, (int, float)) and not isinstance(document, bool) else []


def _shown_with(html: str, text: str, value: str, word: str) -> bool:
    """Whether `value` appears as a figure about `word`: in prose within a few words before it, or in a table cell
    whose column header or row label names it (so the same digits as an unrelated figure do not count)."""
    number = rf"(?<![\d,.]){re.escape(value)}(?![\d,]|\.\d)"
    if re.search(number + rf"[^\d.;]{{0,40}}?{word}", text, flags=re.I):
        return True
    for t in tables(html):
        for row in t[1:]:
            for header, cell in zip(t[0], row):
                if re.match(number, cell) and re.search(word, f"{header} {row[0]}", flags=re.I):
                    return True
    return False


def test_no_page_or_json_shows_a_figure_from_fewer_than_k_people_or_names_anyone(rendered_demo):
    demo = rendered_demo
    texts, numbers = _forbidden(demo)
    assert texts["*"] and numbers  # the demo has small groups: the test looks for something
    con = warehouse.connect(demo.warehouse, read_only=True)
    identities = demo_identities(con, demo.org.raw)
    con.close()
    login = re.compile(r"(?<![\w.-])(" + "|".join(sorted(map(re.escape, identities), key=len, reverse=True)) + r")(?![\w-])")
    raw_logins = {s["assignee"]["login"] for p in (demo.org.raw / "seats").glob("*.json*")
                  for page_ in json.loads(p.read_text()) for s in page_["seats"]}
    assert raw_logins <= identities and len(identities) > 80
    books = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    teams = [p for p in demo.pages.iterdir() if p.is_dir() and p.name not in ("org", "assets")]  # assets: the local Vega copy
    assert len(list(demo.pages.rglob("*.html"))) == len(teams) * len(books) + 2  # team pages and retros, 00, index
    found = defaultdict(list)
    for path in sorted(demo.pages.rglob("*.html")):
        html, rel = path.read_text(), str(path.relative_to(demo.pages))
        text = visible_text(html)
        team = path.parent.name
        for value, word in texts["*"] | texts.get(team, set()):
            if _shown_with(html, text, value, word):
                found[rel].append(f"{value} ({word})")
        found[rel] += small_counts(html, K) + [m.group(0) for m in login.finditer(html)]
    assert not {p: v for p, v in found.items() if v}, "figures from fewer than k people, or logins, on pages"
    for command, document in demo.documents.items():
        leaked = [x for x in _numbers(document) if any(math.isclose(x, n, rel_tol=1e-9) for n in numbers)]
        assert not leaked, (command, leaked[:5])
        assert not login.search(json.dumps(document)), command
    # the documents say so where they hold back
    patterns_doc = demo.documents["patterns"]
    assert patterns_doc["flagged"] == [] and "dev-" not in json.dumps(patterns_doc)
    for row in patterns_doc["table"]:
        assert (row["users"] is None) == row["suppressed"] and (row["users"] is None or row["users"] >= K)
    for entry in demo.documents["delivery"]["teams"]:
        if entry["suppressed"]:
            assert set(entry["metrics"]) <= {"suppressed", "k"} and entry["developers"] is None
    for budget in demo.documents["guardrails"]["budgets"]:
        if budget["suppressed"]:
            assert budget["burn_to_date"] is None and budget["pct_forecast"] is None


# -- groups of people count each person once -----------------------------------------------------------------------
def _ndjson(path: Path) -> list[dict]:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return [json.loads(line) for line in raw.decode().splitlines() if line.strip()]


def _people_from_raw(raw: Path, period) -> pd.DataFrame:
    """(day, user_id, team, active, credits) from the raw zone: users-1-day joined per day to user-teams-1-day, the
    nearest roster on or before the day (else the first) standing in for teams the report leaves out."""
    days = [d for d in sorted((raw / "metrics/users-1-day").iterdir()) if period.start <= date.fromisoformat(d.name) <= period.end]
    rosters = {date.fromisoformat(p.name.split(".")[0]): json.loads(p.read_text())
               for p in sorted((raw / "teams").glob("*.json"))}
    rows = []
    for folder in days:
        day = date.fromisoformat(folder.name)
        use = {r["user_id"]: r for p in folder.glob("part-*") for r in _ndjson(p)}
        reported = [r for p in (raw / "metrics/user-teams-1-day" / folder.name).glob("part-*") for r in _ndjson(p)]
        teams = {(r["user_id"], r["slug"]) for r in reported}
        reported_teams = {r["team_id"] for r in reported}
        roster_day = max((d for d in rosters if d <= day), default=min(rosters))
        teams |= {(m["id"], t["slug"]) for t in rosters[roster_day] if t["id"] not in reported_teams for m in t["members"]}
        for user_id, team in teams:
            r = use.get(user_id, {})
            active = (r.get("user_initiated_interaction_count") or 0) > 0 or (r.get("code_generation_activity_count") or 0) > 0 \
                or bool(r.get("used_cli"))
            rows.append({"day": day, "user_id": user_id, "team": team, "active": active,
                         "credits": float(r.get("ai_credits_used") or 0.0)})
    return pd.DataFrame(rows)


def test_segment_and_org_totals_equal_a_per_person_recomputation_from_the_raw_files(rendered_demo):
    demo = rendered_demo
    period, params = parse_period(demo.org.period), load_params(demo.base / "params")
    people = _people_from_raw(demo.org.raw, period)
    con = warehouse.connect(demo.warehouse, read_only=True)
    try:
        costs = cost.team_costs(con, period, params)
        seats = con.execute("SELECT day, user_id, plan_type FROM int_cost_seat_day WHERE day BETWEEN ? AND ?",
                            [period.start, period.end]).df()  # seat-days as the cost model defines them
        shown = teams_shown(demo)
        groups = {seg: [t for t in s.teams if t in set(costs["team_slug"])] for seg, s in params.segments.items()}
        groups["shown"] = shown
        totals = bill.group_totals(con, period, params, groups, costs).set_index("group")
    finally:
        con.close()
    seats["day"] = pd.to_datetime(seats["day"]).dt.date
    prices, dim = params.prices.seat_per_month, (period.end - period.start).days + 1
    rows = {}
    for name, teams in groups.items():
        mine = people[people["team"].isin(teams)]
        once = mine.groupby(["day", "user_id"]).agg(active=("active", "max"), credits=("credits", "first")).reset_index()
        seated = once.merge(seats, on=["day", "user_id"])
        rows[name] = {"members": once["user_id"].nunique(), "active_developers": once.loc[once["active"], "user_id"].nunique(),
                      "ai_credits": once["credits"].sum(),
                      "seat_cost": sum(prices.get(p, params.seat_price) for p in seated["plan_type"]) / dim}
        twice = float(mine["credits"].sum())  # adding the teams counts a person on two of them twice
        got = totals.loc[name]
        assert got["members"] == rows[name]["members"] and got["active_developers"] == rows[name]["active_developers"]
        assert got["ai_credits"] == pytest.approx(rows[name]["ai_credits"]) and got["ai_credits"] <= twice + 1e-6
        assert got["seat_cost"] == pytest.approx(rows[name]["seat_cost"])
        assert got["total_cost"] == pytest.approx(got["seat_cost"] + got["ai_credit_cost"] + got["premium_cost"])
    overlap = people.groupby(["day", "user_id"])["team"].nunique()
    assert (overlap > 1).any()  # the demo has developers on two teams: the test would see a double count
    # the overview page quotes the same per-person figures
    overview = by_first(table((demo.pages / "org/00_org_overview.html").read_text(), "segment", "teams"))
    for segment, label in (("platform_sre", "platform sre"), ("shown", f"teams with {K} or more developers")):
        if label in overview and not overview[label]["AI credits"].startswith("suppressed"):
            assert overview[label]["AI credits"] == figures.show("ai_credits", rows[segment]["ai_credits"])
            assert overview[label]["members"] == figures.show("members", rows[segment]["members"])


def test_the_privacy_search_finds_a_figure_beside_its_unit_and_ignores_the_same_digits_elsewhere():
    page_04 = "<p>Those weeks used 1,305 AI credits.</p><table><tr><th>user</th><th>AI credits</th></tr>" \
              "<tr><td>dev-1</td><td>1,306</td></tr></table>"
    assert _shown_with(page_04, visible_text(page_04), "1,305", "credit")
    assert _shown_with(page_04, visible_text(page_04), "1,306", "credit")
    features = "<table><tr><th>feature</th><th>lines added</th></tr><tr><td>chat_inline</td><td>1,883</td></tr></table>"
    assert not _shown_with(features, visible_text(features), "1,883", "credit")
