"""The demo org's unusual user-weeks: injected high-burn patterns, and distractors that must not be flagged.

Patterns are injected at a `strength` (1.0: the issue's moderate sizes: retries at 0.35x the
developer's acceptance with 2.5x the prompts, 45 % of the week's activity off-window, CLI loops
at 6x the usual requests per prompt) and each week's size is drawn around it (+-15 %), so an
org's effects are a range, not one number a detector could key on. Distractors are weeks that
look unusual for good reasons: healthy heavy use (more of everything, accepted and merged), one
busy day, weekend on-call (with an incident assigned, or only on the rota), dependency bumps and
README updates with identical titles across repos (written by the delivery simulation).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from . import org as demo_org
from .org import Person

PATTERNS = ("retry_no_accept", "unmerged_output", "off_window", "duplicate_work", "cli_token_loop")
DISTRACTORS = ("healthy_heavy", "busy_day", "on_call_incident", "on_call_rota", "bump_titles")
DUPLICATE_TOPICS = [  # (what is built, two ways of titling it, the distinctive words of its files and code)
    ("retry", ["Add retry with backoff to {area} client", "{area}: retry failed client calls with backoff"],
     ["retry", "backoff", "client"], ["retryWithBackoff", "maxAttempts", "backoffDelay", "isRetryable", "jitter"]),
    ("logging", ["Introduce structured request logging for {area}", "{area}: log requests as structured JSON"],
     ["logging", "structured", "request"], ["structuredLogger", "requestId", "logFields", "withContext", "logLevel"]),
    ("flags", ["Feature flag evaluation with local overrides in {area}", "{area}: evaluate feature flags, allow overrides"],
     ["featureflags", "overrides", "evaluate"], ["evaluateFlag", "flagOverrides", "defaultVariant", "flagContext"]),
    ("csv", ["Streaming CSV export endpoint for {area}", "{area}: export results as streamed CSV"],
     ["export", "csv", "stream"], ["csvWriter", "streamRows", "exportHeaders", "flushChunk", "quoteField"]),
    ("tracing", ["Add tracing middleware to {area} requests", "{area}: trace incoming requests with OpenTelemetry"],
     ["tracing", "middleware", "otel"], ["tracerProvider", "startSpan", "spanAttributes", "propagateContext"]),
    ("webhooks", ["Retry queue for failed {area} webhooks", "{area}: requeue webhook deliveries that fail"],
     ["webhook", "requeue", "delivery"], ["webhookQueue", "redeliver", "deadLetter", "deliveryAttempt"]),
    ("alerts", ["Terraform module for {area} service alerts", "{area}: standard alerting as a terraform module"],
     ["terraform", "alerts", "module"], ["alertPolicy", "notificationChannel", "thresholdDuration", "alertCondition"]),
    ("ratelimit", ["Token bucket rate limiter for {area} API", "{area}: limit API calls with a token bucket"],
     ["ratelimit", "bucket", "limiter"], ["tokenBucket", "refillRate", "allowRequest", "bucketCapacity"]),
]


@dataclass(frozen=True)
class WeekEffect:
    """What is special about one developer's week: a pattern or a distractor, and how strong.

    strength 1.0 is the moderate size of each pattern (see the module docstring); the day-level
    knobs below follow from it.
    """

    kind: str
    strength: float = 1.0
    busy_day: date | None = None  # busy_day: the one day of 3-4x activity
    off_share: float = 0.0  # off_window and on-call: target share of the week's activity on off-window days

    @property
    def acceptance_factor(self) -> float:  # retry: acceptance relative to the developer's own
        return max(0.05, 1 - 0.65 * self.strength) if self.kind == "retry_no_accept" else 1.0

    @property
    def prompt_factor(self) -> float:  # retry: prompts relative to the developer's own
        return 1 + 1.5 * self.strength if self.kind == "retry_no_accept" else 1.0

    @property
    def cli_ratio(self) -> float:  # CLI loop: requests per prompt relative to the usual
        return 1 + 5 * self.strength if self.kind == "cli_token_loop" else 1.0

    @property
    def output_factor(self) -> float:  # unmerged output: agent edits and lines added
        return 1 + 2.5 * self.strength if self.kind == "unmerged_output" else 1.0

    def truth(self) -> dict:
        out = {"strength": round(self.strength, 3)}
        if self.kind == "retry_no_accept":
            out.update(acceptance_factor=round(self.acceptance_factor, 3), prompt_factor=round(self.prompt_factor, 3))
        elif self.kind in ("off_window", "on_call_incident", "on_call_rota"):
            out["off_window_share"] = round(self.off_share, 3)
        elif self.kind == "cli_token_loop":
            out["cli_ratio"] = round(self.cli_ratio, 3)
        elif self.kind == "unmerged_output":
            out["output_factor"] = round(self.output_factor, 3)
        elif self.kind == "busy_day" and self.busy_day:
            out["day"] = self.busy_day.isoformat()
        return out


def full_weeks(start: date, end: date) -> list[date]:
    w = start - timedelta(days=start.weekday()) + (timedelta(days=7) if start.weekday() else timedelta(0))
    out = []
    while w + timedelta(days=6) <= end:
        out.append(w)
        w += timedelta(days=7)
    return out


def choose_weeks(rng: np.random.Generator, people: list[Person], start: date, end: date,
                 strength: float = 1.0) -> dict:
    """Pick the user-weeks of each pattern and distractor: full weeks, steady developers, one per week.

    Returns {"by_user_week": {(person index, Monday): WeekEffect}, "partner": {(index, Monday): index}
    (duplicate-work pairs, and developers bumping the same dependency), "topic": {(index, Monday): int},
    "on_call": [{"user", "start", "end"}] (the rota an org would declare in params)}.
    """
    weeks = full_weeks(start, end)
    eligible = [p for p in people if not p.idle and p.team != demo_org.SMALL_TEAM]
    per_kind = max(3, round(len(people) / 120 * 8))
    chosen: dict[tuple[int, date], WeekEffect] = {}
    partner: dict[tuple[int, date], int] = {}
    topic: dict[tuple[int, date], int] = {}
    taken: dict[int, int] = defaultdict(int)
    on_call: list[dict] = []

    def free(p: Person, wk: date) -> bool:
        return (p.employed(wk) and p.employed(wk + timedelta(days=6)) and taken[p.index] < 3
                and not any((p.index, wk + timedelta(days=7 * d)) in chosen for d in (-1, 0, 1)))

    def size() -> float:
        return float(strength * rng.uniform(0.85, 1.15))

    # the same test as `free`, over every eligible developer at once (a loop per pair is quadratic in head count)
    position = {p.index: i for i, p in enumerate(eligible)}
    team_of = np.array([p.team for p in eligible])
    hired = np.array([(p.hire_day or date.min).toordinal() for p in eligible])
    leaves = np.array([(p.leave_day or date.max).toordinal() for p in eligible])
    weeks_taken = np.zeros(len(eligible), dtype=int)
    week_of: dict[date, list[int]] = defaultdict(list)

    def free_others(p: Person, wk: date) -> list[Person]:
        mask = ((team_of != p.team) & (hired <= wk.toordinal()) & (leaves > (wk + timedelta(days=6)).toordinal())
                & (weeks_taken < 3))
        for d in (-1, 0, 1):
            mask[week_of[wk + timedelta(days=7 * d)]] = False
        return [eligible[i] for i in np.flatnonzero(mask)]

    def take(p: Person, wk: date, effect: WeekEffect) -> None:
        chosen[(p.index, wk)] = effect
        taken[p.index] += 1
        weeks_taken[position[p.index]] += 1
        week_of[wk].append(position[p.index])

    for kind in PATTERNS + DISTRACTORS:
        n, attempts = 0, 0
        while n < per_kind and attempts < 20_000 and weeks:
            attempts += 1
            p = eligible[int(rng.integers(len(eligible)))]
            wk = weeks[int(rng.integers(len(weeks)))]
            if (kind == "cli_token_loop" and not p.cli_user) or not free(p, wk):
                continue
            if kind in ("duplicate_work", "bump_titles"):
                others = free_others(p, wk)
                if not others:
                    continue
                q = others[int(rng.integers(len(others)))]
                k = int(rng.integers(len(DUPLICATE_TOPICS)))
                for a, b in ((p, q), (q, p)):
                    take(a, wk, WeekEffect(kind, size()))
                    partner[(a.index, wk)] = b.index
                    topic[(a.index, wk)] = k
                n += 2
                continue
            if kind == "off_window":
                effect = WeekEffect(kind, size(), off_share=float(np.clip(0.2 + 0.25 * size(), 0.3, 0.8)))
            elif kind in ("on_call_incident", "on_call_rota"):
                effect = WeekEffect(kind, 1.0, off_share=float(rng.uniform(0.4, 0.6)))
                saturday = wk + timedelta(days=5)
                on_call.append({"user": p.login, "start": saturday.isoformat(),
                                "end": (saturday + timedelta(days=1)).isoformat(), "declared": kind == "on_call_rota"})
            elif kind == "busy_day":
                effect = WeekEffect(kind, 1.0, busy_day=wk + timedelta(days=int(rng.integers(0, 7))))
            else:
                effect = WeekEffect(kind, size() if kind in PATTERNS else float(rng.uniform(2.2, 3.0)))
            take(p, wk, effect)
            n += 1
    return {"by_user_week": chosen, "partner": partner, "topic": topic, "on_call": on_call}


def truth_rows(chosen: dict, by_index: dict[int, Person]) -> tuple[list[dict], list[dict]]:
    """(injected patterns, distractor weeks) as ground_truth.json lists them, sorted by week and login."""
    patterns, distractors = [], []
    for (i, wk), effect in chosen.items():
        row = {"user_login": by_index[i].login, "week_start": wk.isoformat(), **(
            {"pattern": effect.kind} if effect.kind in PATTERNS else {"kind": effect.kind}), "effect": effect.truth()}
        (patterns if effect.kind in PATTERNS else distractors).append(row)
    key = lambda r: (r["week_start"], r["user_login"])  # noqa: E731
    return sorted(patterns, key=key), sorted(distractors, key=key)
