"""The shape of the built-in demo org: its teams, segments, calendar and people.

Kept apart from `generate` (which turns this shape into raw-zone files) so that tests and
params can name the demo teams without generating anything.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

ORG_LOGIN = "demo-corp"
ORG_ID = "4201"
ENTERPRISE_ID = "77"

# slug, display name, role segment, share of the org (the small team is pinned at 4 users)
TEAMS = [
    ("platform-sre", "Platform SRE", "platform_sre", 14),
    ("sre-observability", "SRE Observability", "platform_sre", 10),
    ("payments-api", "Payments API", "backend_services", 16),
    ("orders-service", "Orders Service", "backend_services", 14),
    ("web-storefront", "Web Storefront", "frontend_product", 16),
    ("mobile-app", "Mobile App", "frontend_product", 12),
    ("appsec", "Application Security", "security_engineering", 10),
    ("secrets-scanning", "Secrets Scanning", "security_engineering", 4),
    ("devex", "Developer Experience", "developer_productivity", 12),
    ("build-tools", "Build Tools", "developer_productivity", 12),
]
SMALL_TEAM = "secrets-scanning"

SEGMENTS = [
    "platform_sre",
    "backend_services",
    "frontend_product",
    "security_engineering",
    "developer_productivity",
]


@dataclass(frozen=True)
class SegmentProfile:
    """How a role uses Copilot: relative weights per surface and the languages it writes."""

    completion: float
    chat: float
    agent: float
    cli_user_share: float  # share of the segment's developers who use the CLI at all
    cli_day_rate: float  # chance a CLI user uses it on an active day
    cli_intensity: float
    languages: tuple[str, ...]
    chat_modes: dict[str, float] = field(default_factory=dict)


PROFILES = {
    "platform_sre": SegmentProfile(
        0.7, 0.6, 0.8, 0.95, 0.75, 1.6, ("go", "yaml", "python", "shellscript", "hcl"),
        {"chat_panel_ask_mode": 0.3, "chat_panel_agent_mode": 0.45, "chat_inline": 0.15, "chat_panel_edit_mode": 0.1},
    ),
    "backend_services": SegmentProfile(
        1.2, 0.8, 1.0, 0.35, 0.35, 0.7, ("java", "go", "python", "sql", "markdown"),
        {"chat_panel_ask_mode": 0.3, "chat_panel_agent_mode": 0.35, "chat_inline": 0.2, "chat_panel_edit_mode": 0.15},
    ),
    "frontend_product": SegmentProfile(
        1.0, 1.6, 0.9, 0.15, 0.25, 0.5, ("typescript", "typescriptreact", "css", "javascript", "markdown"),
        {"chat_panel_ask_mode": 0.35, "chat_panel_agent_mode": 0.3, "chat_inline": 0.2, "chat_panel_edit_mode": 0.1,
         "chat_panel_plan_mode": 0.05},
    ),
    "security_engineering": SegmentProfile(
        0.8, 1.1, 0.5, 0.45, 0.4, 0.8, ("python", "go", "rego", "yaml", "markdown"),
        {"chat_panel_ask_mode": 0.55, "chat_panel_agent_mode": 0.2, "chat_inline": 0.15, "chat_panel_custom_mode": 0.1},
    ),
    "developer_productivity": SegmentProfile(
        1.0, 0.9, 1.2, 0.6, 0.5, 1.0, ("typescript", "python", "starlark", "yaml", "markdown"),
        {"chat_panel_ask_mode": 0.25, "chat_panel_agent_mode": 0.45, "chat_inline": 0.15, "chat_panel_plan_mode": 0.15},
    ),
}

CHAT_MODELS = {  # model -> (weight, AI credits per chat interaction)
    "gpt-5-mini": (0.30, 0.6),
    "claude-sonnet-4.6": (0.35, 6.0),
    "gpt-5.4": (0.20, 5.0),
    "claude-opus-4.7": (0.05, 22.0),
    "gemini-3.1-pro": (0.08, 4.0),
    "unknown": (0.02, 1.0),
}
COMPLETION_MODEL = "gpt-4.1-copilot"
CLI_MODEL = "claude-sonnet-4.6"
CLI_MODEL_PRICE = (3.00, 15.00)  # USD per 1M prompt / output tokens of CLI_MODEL
IDES = {"vscode": 0.62, "intellij": 0.2, "visualstudio": 0.08, "neovim": 0.05, "xcode": 0.05}

FIRST_NAMES = [
    "ada", "alan", "grace", "linus", "margaret", "dennis", "barbara", "ken", "frances", "edsger",
    "radia", "tim", "hedy", "donald", "katherine", "john", "sophie", "guido", "anita", "bjarne",
    "jean", "niklaus", "adele", "james", "evelyn", "brian", "lynn", "rob", "mary", "leslie",
    "shafi", "yukihiro", "karen", "larry", "joan", "vint", "ellen", "whitfield", "annie", "butler",
]
LAST_NAMES = [
    "okafor", "lindqvist", "moreau", "tanaka", "kowalski", "haddad", "fernandes", "novak", "ibsen",
    "castillo", "nakamura", "schmidt", "oduya", "petrov", "rossi", "varga", "chen", "mbeki", "dubois",
    "larsen", "quispe", "sato", "weber", "adeyemi", "horvat", "silva", "kaur", "murphy", "jansen", "ali",
]


def us_holidays(years: range) -> set[date]:
    """Company holidays: the US federal set an org like this would observe."""
    days: set[date] = set()
    for y in years:
        def nth_weekday(month: int, weekday: int, n: int) -> date:
            d = date(y, month, 1)
            d += timedelta(days=(weekday - d.weekday()) % 7)
            return d + timedelta(weeks=n - 1)

        def last_weekday(month: int, weekday: int) -> date:
            d = date(y, month + 1, 1) - timedelta(days=1) if month < 12 else date(y, 12, 31)
            return d - timedelta(days=(d.weekday() - weekday) % 7)

        days |= {
            date(y, 1, 1), nth_weekday(1, 0, 3), last_weekday(5, 0), date(y, 7, 3), date(y, 7, 4),
            nth_weekday(9, 0, 1), nth_weekday(11, 3, 4), nth_weekday(11, 3, 4) + timedelta(days=1),
            date(y, 12, 24), date(y, 12, 25), date(y, 12, 31),
        }
    return days


def team_sizes(users: int) -> dict[str, int]:
    """Split `users` over the teams in their demo proportions; the small team stays under five."""
    small = min(4, max(1, users // 30))
    rest = users - small
    big = [(slug, share) for slug, _, _, share in TEAMS if slug != SMALL_TEAM]
    total_share = sum(s for _, s in big)
    sizes = {slug: max(1, math.floor(rest * share / total_share)) for slug, share in big}
    leftover = rest - sum(sizes.values())
    for slug, _ in sorted(big, key=lambda t: -t[1])[: max(0, leftover)]:
        sizes[slug] += 1
    sizes[SMALL_TEAM] = small
    return sizes


@dataclass
class Person:
    """One developer of the demo org and the habits that drive their telemetry."""

    index: int
    user_id: int
    login: str
    name: str
    team: str
    segment: str
    second_team: str | None
    intensity: float
    acceptance: float
    cli_user: bool
    hire_day: date | None  # joined during the window
    leave_day: date | None  # left during the window (seat cancelled)
    idle: bool  # holds a seat, barely uses it
    ide: str
    languages: tuple[str, ...]
    models: tuple[str, ...]
    pr_rate: float  # PRs per working week

    def employed(self, day: date) -> bool:
        if self.hire_day and day < self.hire_day:
            return False
        if self.leave_day and day >= self.leave_day:
            return False
        return True


def make_people(rng: np.random.Generator, users: int, start: date, end: date) -> list[Person]:
    """Draw the org's developers, team by team, with joiners, leavers and idle seats."""
    sizes = team_sizes(users)
    segment_of = {slug: seg for slug, _, seg, _ in TEAMS}
    people: list[Person] = []
    window = (end - start).days
    used_logins: set[str] = set()
    for slug, _, segment, _ in TEAMS:
        profile = PROFILES[segment]
        for _ in range(sizes[slug]):
            i = len(people)
            while True:
                first = FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))]
                last = LAST_NAMES[int(rng.integers(len(LAST_NAMES)))]
                login = f"{first}-{last}" if rng.random() < 0.5 else f"{first[0]}{last}{int(rng.integers(2, 99))}"
                if login not in used_logins:
                    used_logins.add(login)
                    break
            u = rng.random()
            hire = start + timedelta(days=int(rng.integers(10, max(11, window - 20)))) if u < 0.07 else None
            leave = start + timedelta(days=int(rng.integers(20, max(21, window - 5)))) if 0.07 <= u < 0.12 else None
            idle = 0.12 <= u < 0.18 and slug != SMALL_TEAM
            n_models = 1 + int(rng.integers(0, 3))
            names = list(CHAT_MODELS)
            weights = np.array([CHAT_MODELS[m][0] for m in names])
            models = tuple(rng.choice(names, size=n_models, replace=False, p=weights / weights.sum()))
            langs = tuple(rng.choice(profile.languages, size=2 + int(rng.integers(0, 2)), replace=False))
            ide = str(rng.choice(list(IDES), p=np.array(list(IDES.values()))))
            if segment == "frontend_product" and rng.random() < 0.3:
                ide = "xcode" if slug == "mobile-app" else ide
            people.append(Person(
                index=i, user_id=5_000_000 + 7919 * (i + 1), login=login,
                name=f"{first.title()} {last.title()}", team=slug, segment=segment, second_team=None,
                intensity=float(rng.lognormal(0.0, 0.35)), acceptance=float(np.clip(rng.normal(0.31, 0.06), 0.12, 0.5)),
                cli_user=bool(rng.random() < profile.cli_user_share), hire_day=hire, leave_day=leave, idle=idle,
                ide=ide, languages=tuple(str(x) for x in langs), models=tuple(str(m) for m in models),
                pr_rate=float(np.clip(rng.normal(2.6, 0.8), 0.6, 5.0)),
            ))
    # A few people sit on two teams (GitHub counts them in both; the org view de-duplicates).
    for team_a, team_b in [("platform-sre", "sre-observability"), ("devex", "build-tools"), ("payments-api", "orders-service")]:
        candidates = [p for p in people if p.team == team_a and not p.idle]
        if candidates:
            candidates[int(rng.integers(len(candidates)))].second_team = team_b
    assert all(segment_of[p.team] == p.segment for p in people)
    return people
