"""What the demo org's pull requests say and change: titles, branches, changed files and their patches.

Ordinary work draws its title from a small vocabulary per team (so unrelated PRs in different repos
often share words, as in a real org), its files from the team's layout and its patch from the
title's words and the code's own identifiers. Duplicate work is the same thing built twice in two
repos: paraphrased titles, files named after the same idea in different layouts, patches that share
much of their identifiers. Dependency bumps and README updates carry identical titles across repos
by design; bots open bumps too.
"""
from __future__ import annotations

import re

import numpy as np

from .injected import DUPLICATE_TOPICS
from .org import TEAMS

VERBS = ["Fix", "Add", "Refactor", "Remove", "Speed up", "Document", "Harden", "Simplify", "Migrate", "Instrument",
         "Validate", "Cache", "Split", "Rename", "Retry"]
AREAS = ["ledger", "checkout", "cart", "invoice", "session", "search", "catalog", "alerting", "pager", "ingest",
         "build cache", "release", "feature flag", "audit log", "token", "webhook", "rate limiter", "scheduler",
         "profile", "inventory", "pricing", "metrics", "tracing", "deploy", "secrets", "policy", "sandbox",
         "notification", "export", "billing"]
THINGS = ["handler", "worker", "client", "parser", "migration", "dashboard", "endpoint", "query", "config", "test suite",
          "cron job", "schema", "serializer", "retry loop", "validator", "middleware", "runbook", "pipeline",
          "component", "hook", "store", "adapter", "controller", "exporter", "queue consumer", "script", "form",
          "modal", "lint rule", "template"]
DETAILS = ["for EU region", "on timeout", "under load", "for empty input", "behind flag", "in staging", "for v2 API",
           "on retry", "for large orgs", "after upgrade", "on cold start", "for mobile", "in CI", "for admins",
           "on shutdown", "with pagination", "for dark mode", "with tracing", "on failover", "for new tenants"]
EXTENSION = {"platform_sre": "go", "backend_services": "java", "frontend_product": "tsx",
             "security_engineering": "py", "developer_productivity": "ts"}
LAYOUT = {"platform_sre": "internal/{a}/{b}", "backend_services": "src/main/java/{a}/{b}",
          "frontend_product": "src/components/{a}/{b}", "security_engineering": "{a}/{b}",
          "developer_productivity": "packages/{a}/src/{b}"}
BUMPS = [("lodash", "4.17.20", "4.17.21", "npm"), ("axios", "1.7.4", "1.7.9", "npm"), ("react-dom", "18.3.0", "18.3.1", "npm"),
         ("golang.org/x/net", "0.33.0", "0.36.0", "go"), ("jackson-databind", "2.17.1", "2.17.2", "maven"),
         ("requests", "2.32.2", "2.32.3", "pip"), ("urllib3", "2.2.2", "2.2.3", "pip")]
BUMP_FILES = {"npm": ["package.json", "package-lock.json"], "go": ["go.mod", "go.sum"], "maven": ["pom.xml"],
              "pip": ["requirements.txt"]}
_SYLLABLES = ["ka", "lo", "mi", "ren", "to", "sa", "vi", "pel", "dor", "qu", "zan", "fi", "bo", "tri", "nex", "gal"]


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 1]


def _camel(words: list[str]) -> str:
    return words[0] + "".join(w.title() for w in words[1:]) if words else "value"


def own_identifier(rng: np.random.Generator) -> str:
    """An identifier of the code's own (a local name no other change shares by design)."""
    return "".join(_SYLLABLES[int(i)] for i in rng.integers(0, len(_SYLLABLES), size=3)) + str(int(rng.integers(10, 99)))


def patch(rng: np.random.Generator, identifiers: list[str], lines: int = 6) -> str:
    """A unified-diff hunk adding `lines` lines that use the given identifiers."""
    body = [f"+    {a} = {b}({c})" for a, b, c in (
        (identifiers[i % len(identifiers)], identifiers[(i + 1) % len(identifiers)], identifiers[(i + 2) % len(identifiers)])
        for i in range(lines))]
    return f"@@ -1,2 +1,{lines + 2} @@\n context line\n" + "\n".join(body)


def _file(path: str, rng: np.random.Generator, identifiers: list[str], status: str = "modified") -> dict:
    return {"filename": path, "status": status, "additions": int(rng.integers(5, 200)),
            "deletions": int(rng.integers(0, 60)), "patch": patch(rng, identifiers)}


def team_areas(team: str) -> list[str]:
    """The parts of the product a team works on: three areas of its own (a team owns its domain)."""
    slugs = [t[0] for t in TEAMS]
    k = slugs.index(team) if team in slugs else sum(ord(c) for c in team) % len(slugs)
    return AREAS[3 * k: 3 * k + 3]


def ordinary(rng: np.random.Generator, team: str, segment: str) -> tuple[str, list[dict]]:
    """A PR of everyday work in one of the team's areas: (title, changed files with patches)."""
    prefix = "".join(w[0] for w in team.split("-")).upper()
    areas = team_areas(team)
    area, thing = areas[int(rng.integers(len(areas)))], THINGS[int(rng.integers(len(THINGS)))]
    title = (f"{VERBS[int(rng.integers(len(VERBS)))]} {area} {thing} {DETAILS[int(rng.integers(len(DETAILS)))]} "
             f"({prefix}-{int(rng.integers(100, 9999))})")
    if rng.random() < 0.03:  # small chores every repo has
        return "Update README.md", [_file("README.md", rng, [own_identifier(rng) for _ in range(3)])]
    ext = EXTENSION[segment]
    a, b = area.replace(" ", "_"), thing.replace(" ", "_")
    ids = [_camel(_words(area) + _words(thing)), *(own_identifier(rng) for _ in range(4))]
    files = [_file(LAYOUT[segment].format(a=a, b=b) + f".{ext}", rng, ids)]
    if rng.random() < 0.45:
        files.append(_file(f"tests/{a}/test_{b}.{ext}", rng, ids[:1] + [own_identifier(rng) for _ in range(3)], "added"))
    if rng.random() < 0.15:
        files.append(_file(f"docs/{a}.md", rng, [own_identifier(rng) for _ in range(3)]))
    return title, files


def duplicate(rng: np.random.Generator, topic: int, phrasing: int, team: str, segment: str,
              strength: float) -> tuple[str, list[dict]]:
    """One side of duplicate work: the topic's task titled the `phrasing`-th way, in the team's layout.

    The two sides share the topic's distinctive words in their file names and, in proportion to
    `strength`, the identifiers their patches write.
    """
    _, titles, words, identifiers = DUPLICATE_TOPICS[topic]
    area = team.split("-")[0]
    title = titles[phrasing % len(titles)].format(area=area)
    ext = EXTENSION[segment]
    order = words if phrasing % 2 == 0 else list(reversed(words))
    share = min(len(identifiers), max(2, round(len(identifiers) * min(1.0, 0.45 + 0.35 * strength))))
    ids = list(identifiers[:share]) + [own_identifier(rng) for _ in range(len(identifiers) - share + 2)]
    main = (LAYOUT[segment].format(a=order[0], b="_".join(order[1:])) if phrasing % 2 == 0
            else f"lib/{area}/{'-'.join(order)}") + f".{ext}"
    files = [_file(main, rng, ids, "added"),
             _file(f"tests/{order[0]}/test_{order[-1]}.{ext}", rng, ids[:2] + [own_identifier(rng)], "added")]
    return title, files


def bump(choice: int) -> tuple[str, list[dict]]:
    """A dependency bump: the title Dependabot and people alike give it, and its manifest and lock files."""
    name, old, new, ecosystem = BUMPS[choice % len(BUMPS)]
    files = [{"filename": f, "status": "modified", "additions": 3, "deletions": 3,
              "patch": f"@@ -10,3 +10,3 @@\n-    {name} {old}\n+    {name} {new}"} for f in BUMP_FILES[ecosystem]]
    return f"Bump {name} from {old} to {new}", files


def hotfix(rng: np.random.Generator, team: str, segment: str, incident: int) -> tuple[str, list[dict]]:
    """The PR an on-call engineer ships to restore service: it names the incident it fixes."""
    title, files = ordinary(rng, team, segment)
    return f"Hotfix: roll back {title.split('(')[0].strip().lower()} (fixes #{incident})", files[:1]


def branch(login: str, title: str) -> str:
    return f"{login}/" + "-".join(_words(title)[:6])
