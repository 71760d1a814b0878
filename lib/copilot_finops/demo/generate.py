"""Demo org generator: a deterministic synthetic org written in the exact raw-zone formats.

Same seed and arguments, same bytes. The org has a weekday rhythm, holidays, joiners and
leavers, idle seats, a team under five users, role-dependent usage, injected "high burn,
low value" user-weeks and per-team delivery scenarios (`scenarios`: real effects, confounding
trends, neither). What was injected goes to
`ground_truth.json` next to `raw/`'s contents; the product never reads it when it analyses.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from ..errors import UserError
from . import agents, org as demo_org
from .delivery import DeliverySimulation
from .org import ORG_ID, Person
from .scenarios import DeliveryPlan, draw_scenarios
from .injected import choose_weeks, truth_rows
from .usage import _org_day_record, _UsageSimulation, credits_by_model, week_start

DEFAULT_SEED = 7
DEFAULT_USERS = 120
DEFAULT_DAYS = 120
DEFAULT_END = date(2026, 10, 31)
SHARD_RECORDS = 5000  # records per users-1-day part file, as GitHub shards large reports
CREDIT_BILLING_SINCE = date(2026, 6, 1)


@dataclass(frozen=True)
class GenerateResult:
    raw_dir: Path
    user_day_records: int
    files: int
    ground_truth: dict


class _Writer:
    """Writes raw files atomically and keeps the manifest lines in write order."""

    def __init__(self, raw_dir: Path, fetched_at: str):
        self.raw_dir = raw_dir
        self.fetched_at = fetched_at
        self.manifest: list[dict] = []

    def write(self, kind: str, rel: str, data: bytes, rows: int) -> None:
        path = self.raw_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        self.manifest.append({
            "kind": kind, "path": rel, "sha256": hashlib.sha256(data).hexdigest(), "rows": rows,
            "fetched_at": self.fetched_at, "source": "demo-generator",
        })

    def ndjson(self, kind: str, rel: str, records: list[dict]) -> None:
        body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        self.write(kind, rel, body.encode(), len(records))

    def json(self, kind: str, rel: str, document, rows: int) -> None:
        self.write(kind, rel, json.dumps(document, separators=(",", ":")).encode(), rows)

    def close(self) -> None:
        body = "".join(json.dumps(m, sort_keys=True) + "\n" for m in self.manifest)
        (self.raw_dir / "manifest.jsonl").write_text(body)


def generate_org(raw_dir: str | os.PathLike, seed: int = DEFAULT_SEED, users: int = DEFAULT_USERS,
                 days: int = DEFAULT_DAYS, end: date = DEFAULT_END, progress: bool = False,
                 pattern_strength: float = 1.0, delivery_scenarios: dict | None = None) -> GenerateResult:
    """Write the demo org's raw zone under `raw_dir` and its `ground_truth.json` beside the raw files.

    Parameters
    ----------
    raw_dir : folder to write (created; files of a previous run with the same names are replaced).
    seed, users, days, end : the org's random seed, head count, and the window of `days` days ending on `end`.
    pattern_strength : size of the injected high-burn patterns; 1.0 is moderate (`injected`), 0.6 faint, 1.4 plain.
    delivery_scenarios : team -> `scenarios.TeamScenario` to use instead of the drawn one (tests, evaluation);
        the team keeps its drawn weekly usage swings.

    Returns
    -------
    GenerateResult with the number of users-1-day records and files written, and the ground truth.
    """
    if users < 10:
        raise UserError(f"--users {users}: the demo org needs at least 10 users (one per team)")
    if days < 14:
        raise UserError(f"--days {days}: the demo org needs at least 14 days")
    if not 0.2 <= pattern_strength <= 2.0:
        raise UserError(f"pattern strength {pattern_strength}: give a value from 0.2 (faint) to 2.0 (blatant); 1.0 is moderate")
    if seed < 0:
        raise UserError(f"--seed {seed}: give a seed of 0 or more (7 is the default demo org)")
    raw = Path(raw_dir)
    if raw.exists() and not raw.is_dir():
        raise UserError(f"--raw {raw} is a file: give a folder for the demo org's raw zone")
    raw.mkdir(parents=True, exist_ok=True)
    start = end - timedelta(days=days - 1)
    master = np.random.default_rng([seed, 1])
    people = demo_org.make_people(master, users, start, end)
    holidays = demo_org.us_holidays(range(start.year, end.year + 1))
    slugs = [t[0] for t in demo_org.TEAMS]
    drawn = draw_scenarios(np.random.default_rng([seed, 2]), slugs, demo_org.SMALL_TEAM, start, end)
    for team, scenario in (delivery_scenarios or {}).items():
        if team not in drawn:
            raise UserError(f"delivery scenario for {team!r}: the demo org's teams are {', '.join(slugs)}")
        drawn[team] = dataclasses.replace(scenario, shocks=drawn[team].shocks)
    plan = DeliveryPlan(drawn, start, end)
    picked = choose_weeks(np.random.default_rng([seed, 3]), people, start, end, strength=pattern_strength)
    pattern_of = picked["by_user_week"]

    usage = _UsageSimulation(seed, holidays, plan, start, end)
    delivery = DeliverySimulation(seed, people, holidays, plan, picked, start, end)
    writer = _Writer(raw, fetched_at=f"{(end + timedelta(days=2)).isoformat()}T06:00:00Z")
    history: dict[str, dict[int, set[date]]] = {"active": defaultdict(set), "chat": defaultdict(set), "agent": defaultdict(set)}
    credits_by_user_month: dict[tuple[int, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    premium_by_user_month: dict[tuple[int, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    team_id = {slug: 9000 + i for i, slug in enumerate(slugs)}
    total_records = 0
    by_index = {p.index: p for p in people}

    day = start
    iterator = range(days)
    if progress:
        from tqdm import tqdm
        iterator = tqdm(iterator, desc="generate", unit="day")
    for _ in iterator:
        records = []
        for p in people:
            if not p.employed(day):
                continue
            rec = usage.day_record(p, day, pattern_of.get((p.index, week_start(day))))
            if rec is None:
                continue
            records.append(rec)
            if rec["user_initiated_interaction_count"] or rec["code_generation_activity_count"]:
                history["active"][p.user_id].add(day)
            if rec["used_chat"]:
                history["chat"][p.user_id].add(day)
            if rec["used_agent"]:
                history["agent"][p.user_id].add(day)
            month = day.strftime("%Y-%m")
            if day >= CREDIT_BILLING_SINCE:
                for model, credits in credits_by_model(rec).items():
                    credits_by_user_month[(p.index, month)][model] += credits
            else:
                for row in rec["totals_by_model_feature"]:
                    if row["feature"] not in ("code_completion", "agent_edit"):
                        premium_by_user_month[(p.index, month)][row["model"]] += row["user_initiated_interaction_count"] * (
                            3.0 if "opus" in row["model"] else 0.0 if "mini" in row["model"] else 1.0)
        records.sort(key=lambda r: r["user_id"])
        d = day.isoformat()
        for part, lo in enumerate(range(0, max(1, len(records)), SHARD_RECORDS)):
            writer.ndjson("users-1-day", f"metrics/users-1-day/{d}/part-{part}.ndjson", records[lo:lo + SHARD_RECORDS])
        total_records += len(records)
        team_rows = []
        seated = [p for p in people if p.employed(day)]
        team_size = defaultdict(int)
        for p in seated:
            for slug in filter(None, (p.team, p.second_team)):
                team_size[slug] += 1
        for p in seated:
            for slug in filter(None, (p.team, p.second_team)):
                if team_size[slug] >= 5:  # GitHub drops teams with fewer than five seated users
                    team_rows.append({"user_id": p.user_id, "user_login": p.login, "day": d,
                                      "organization_id": ORG_ID, "team_id": team_id[slug], "slug": slug})
        writer.ndjson("user-teams-1-day", f"metrics/user-teams-1-day/{d}/part-0.ndjson", team_rows)
        org_rec = _org_day_record(day, records, history["active"], history["chat"], history["agent"], delivery.org_day_pull_requests(day))
        writer.ndjson("organization-1-day", f"metrics/organization-1-day/{d}/part-0.ndjson", [org_rec])
        day += timedelta(days=1)

    _write_snapshots(writer, people, slugs, team_id, start, end, history["active"])
    _write_billing(writer, people, by_index, credits_by_user_month, premium_by_user_month)
    delivery.write(writer)
    agents.write(writer, seed, people, delivery, start, end)  # agent pull requests, their billing, repos-1-day
    writer.close()

    injected, distractors = truth_rows(pattern_of, by_index)
    truth = {
        "seed": seed,
        "pattern_strength": pattern_strength,
        "patterns": injected,
        "distractors": distractors,
        # The rota an org would declare in params (on_call.shifts): the on-call weekends GitHub shows nothing of.
        "on_call": [{"user": s["user"], "start": s["start"], "end": s["end"]} for s in picked["on_call"] if s["declared"]],
        "delivery": plan.expected(),
        "delivery_scenarios": plan.truth(),
    }
    (raw / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return GenerateResult(raw, total_records, len(writer.manifest), truth)


def _simple_user(p: Person) -> dict:
    return {"login": p.login, "id": p.user_id, "node_id": f"U_{p.user_id:x}", "type": "User", "site_admin": False,
            "url": f"https://api.github.com/users/{p.login}"}


def _team_object(slug: str, team_id: int) -> dict:
    name = next(t[1] for t in demo_org.TEAMS if t[0] == slug)
    return {"id": team_id, "node_id": f"T_{team_id:x}", "name": name, "slug": slug, "description": f"{name} team",
            "privacy": "closed", "notification_setting": "notifications_enabled", "permission": "pull",
            "url": f"https://api.github.com/organizations/{ORG_ID}/team/{team_id}",
            "html_url": f"https://github.com/orgs/{demo_org.ORG_LOGIN}/teams/{slug}", "parent": None,
            "type": "organization", "organization_id": int(ORG_ID)}


def _write_snapshots(writer: _Writer, people: list[Person], slugs: list[str], team_id: dict[str, int],
                     start: date, end: date, active: dict[int, set[date]]) -> None:
    """Seats every Monday and on the last day; team rosters on the first of each month and the last day."""
    seat_days = sorted({d for d in (start + timedelta(days=i) for i in range((end - start).days + 1)) if d.weekday() == 0} | {end})
    for snap in seat_days:
        seats = []
        for p in people:
            if p.hire_day and snap < p.hire_day:
                continue
            if p.leave_day and snap >= p.leave_day + timedelta(days=14):
                continue  # the seat stays billed until the cycle ends
            last = max((d for d in active.get(p.user_id, ()) if d <= snap), default=None)
            created = p.hire_day or date(2025, 9, 1) + timedelta(days=p.index % 180)
            pending = None
            if p.leave_day:
                nxt = date(p.leave_day.year + (p.leave_day.month == 12), p.leave_day.month % 12 + 1, 1)
                pending = nxt.isoformat()
            seats.append({
                "created_at": f"{created.isoformat()}T10:00:00Z", "updated_at": f"{created.isoformat()}T10:00:00Z",
                "pending_cancellation_date": pending,
                "last_activity_at": f"{last.isoformat()}T17:30:00Z" if last else None,
                "last_activity_editor": f"{p.ide}/1.107.1/copilot/1.300.0" if last else None,
                "last_authenticated_at": f"{last.isoformat()}T08:55:00Z" if last else None,
                "plan_type": "business", "assignee": {**_simple_user(p), "email": f"{p.login}@demo-corp.example"},
                "assigning_team": _team_object(p.team, team_id[p.team]),
            })
        pages = [{"total_seats": len(seats), "seats": seats[i:i + 100]} for i in range(0, max(1, len(seats)), 100)]
        writer.json("seats", f"seats/{snap.isoformat()}.json", pages, len(seats))
    roster_days = sorted({d for d in (start + timedelta(days=i) for i in range((end - start).days + 1)) if d.day == 1} | {start, end})
    for snap in roster_days:
        teams = []
        for slug in slugs:
            members = [_simple_user(p) for p in people if slug in (p.team, p.second_team) and p.employed(snap)]
            teams.append({**_team_object(slug, team_id[slug]), "members": members})
        writer.json("teams", f"teams/{snap.isoformat()}.json", teams, len(teams))


def _write_billing(writer: _Writer, people: list[Person], by_index: dict[int, Person],
                   credits: dict, premium: dict) -> None:
    """Per-user billing responses per month, as the ai_credit / premium_request usage endpoints serve them."""
    for kind, table, unit, price, sku in (
        ("ai-credit-usage", credits, "ai-credits", 0.01, "copilot_ai_credit"),
        ("premium-request-usage", premium, "requests", 0.04, "copilot_premium_request"),
    ):
        months = sorted({m for (_, m) in table})
        for month in months:
            year, mon = int(month[:4]), int(month[5:])
            responses = []
            for p in people:
                models = table.get((p.index, month))
                if not models:
                    continue
                items = []
                for model, qty in sorted(models.items()):
                    qty = round(qty, 2)
                    if qty <= 0:
                        continue
                    items.append({"product": "copilot", "sku": sku, "model": model, "unitType": unit, "pricePerUnit": price,
                                  "grossQuantity": qty, "grossAmount": round(qty * price, 4), "discountQuantity": 0,
                                  "discountAmount": 0.0, "netQuantity": qty, "netAmount": round(qty * price, 4)})
                responses.append({"timePeriod": {"year": year, "month": mon}, "organization": demo_org.ORG_LOGIN,
                                  "user": p.login, "usageItems": items})
            writer.json(kind, f"billing/{kind}/{month}.json", responses, sum(len(r["usageItems"]) for r in responses))
