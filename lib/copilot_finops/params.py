"""Parameters: `params/org.yaml` and `params/teams/<slug>.yaml`, validated with pydantic.

Errors name the file, the key and the allowed values, so a typo in a budget never becomes a
silent zero.
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .attribution_params import AttributionParams, GuardrailPages
from .errors import UserError
from .period import SLUG
from .yamlfiles import format_error, load_yaml
from .params_patterns import OnCall, OnCallRotation, OnCallShift, PatternRules  # noqa: F401 (part of the params API)
from .params_playbooks import AvoidAsk, PatternPlaybook, Playbooks, PromptPlaybook, load_playbooks  # noqa: F401 (idem)

# The role segments an org gets when params declare none: ids and labels. An org declares its own
# (a docs guild, a data platform team) under `segments:` in org.yaml; ids are snake_case.
DEFAULT_SEGMENTS = {
    "platform_sre": "Platform / SRE",
    "backend_services": "Backend services",
    "frontend_product": "Frontend / product",
    "security_engineering": "Security engineering",
    "developer_productivity": "Developer productivity",
}
SEGMENT_IDS = tuple(DEFAULT_SEGMENTS)  # the default ids (earlier name)
SEGMENT_ID = re.compile(r"^[a-z][a-z0-9_]*$")
UNASSIGNED = "unassigned"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PromotionalPool(_Strict):
    """GitHub's offer to existing customers when credits began: a larger included pool per seat, for the months
    from `start` to `end` (exclusive). Off unless `applies` (the org was a customer before the offer)."""

    applies: bool = False
    start: date = date(2026, 6, 1)
    end: date = date(2026, 9, 1)
    included_credits_per_seat: dict[Literal["business", "enterprise"], float] = {"business": 3000.0, "enterprise": 7000.0}

    @model_validator(mode="after")
    def _dated(self) -> "PromotionalPool":
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}: give the first day after the offer")
        return self


class Prices(_Strict):
    seat_per_month: dict[Literal["business", "enterprise"], float] = {"business": 19.0, "enterprise": 39.0}
    ai_credit: float = Field(0.01, gt=0, description="USD per AI credit")
    included_credits_per_seat: dict[Literal["business", "enterprise"], float] = {"business": 1900.0, "enterprise": 3900.0}
    premium_request: float = Field(0.04, ge=0, description="USD per premium request beyond the allowance (before credits)")
    premium_requests_included_per_seat: dict[Literal["business", "enterprise"], float] = {"business": 300.0, "enterprise": 1000.0}
    credit_billing_start: date = date(2026, 6, 1)
    promotional_pool: PromotionalPool = PromotionalPool()

    def included_credits_for(self, month_start: date | None) -> dict[str, float]:
        """Included credits per seat by plan for the month starting `month_start` (None: the standard pool):
        the promotional pool where it applies and the month lies inside it, else the standard one."""
        promo = self.promotional_pool
        if month_start is not None and promo.applies and promo.start <= month_start < promo.end:
            return promo.included_credits_per_seat
        return self.included_credits_per_seat


class Segment(_Strict):
    label: str
    teams: list[str] = []


BUDGET_UNITS = ("usd", "credits")


class Budget(_Strict):
    """A monthly budget, in money (seat cost + AI-credit cost after the pool) or in AI credits: one of the two."""

    monthly_usd: float | None = Field(None, gt=0)
    monthly_credits: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_unit(self) -> "Budget":
        if self.monthly_usd is not None and self.monthly_credits is not None:
            raise ValueError("give monthly_usd or monthly_credits, not both (allowed units: usd, credits)")
        return self

    @property
    def unit(self) -> str | None:
        """'usd', 'credits', or None when no budget is set."""
        if self.monthly_usd is not None:
            return "usd"
        return "credits" if self.monthly_credits is not None else None

    @property
    def amount(self) -> float | None:
        return self.monthly_usd if self.monthly_usd is not None else self.monthly_credits


class Budgets(_Strict):
    """Budgets per month: `teams` override `default`; `segments` add one guardrail per role segment."""

    default: Budget = Budget()
    segments: dict[str, Budget] = {}  # keys are checked against the org's segments (OrgParams)
    teams: dict[str, Budget] = {}

    def for_team(self, team_slug: str) -> Budget:
        """The team's own budget, else the default (which may be empty: no guardrail)."""
        return self.teams.get(team_slug, self.default)


class Guardrails(_Strict, GuardrailPages):
    """Progressive stages: at each threshold (a fraction of the budget, reached or forecast) its actions apply."""

    thresholds: list[float] = [0.6, 0.8, 0.95]
    actions: dict[str, list[str]] = {}
    interval: float = Field(0.8, gt=0, lt=1, description="coverage of the forecast interval, e.g. 0.8 for 80 %")
    history_days: int = Field(56, ge=14, le=366, description="days of history the run rate learns from")
    inactive_seat_days: int = Field(30, ge=1, description="a seat with no activity for this many days is inactive")

    @field_validator("thresholds")
    @classmethod
    def _ascending(cls, v: list[float]) -> list[float]:
        if not v or v != sorted(v) or len(set(v)) != len(v) or any(not 0 < t <= 1.5 for t in v):
            raise ValueError("thresholds must be ascending fractions of the budget, e.g. [0.6, 0.8, 0.95]")
        return v

    @model_validator(mode="after")
    def _actions_name_thresholds(self) -> "Guardrails":
        allowed = {threshold_key(t) for t in self.thresholds}
        for key in self.actions:
            try:
                known = threshold_key(float(key)) in allowed
            except ValueError:
                known = False
            if not known:
                raise ValueError(f"actions key {key!r} is not a threshold; allowed: {', '.join(sorted(allowed))}")
        return self

    def actions_for(self, threshold: float) -> list[str]:
        """The actions configured for one threshold ([] if none)."""
        for key, actions in self.actions.items():
            if threshold_key(float(key)) == threshold_key(threshold):
                return list(actions)
        return []


def threshold_key(threshold: float) -> str:
    """The canonical spelling of a threshold (0.6 -> '0.6'), as the actions keys use it."""
    return f"{threshold:g}"


class TaskClassRule(_Strict):
    """Signals that put usage into a task class; a rule with no signal is the catch-all class."""

    languages: list[str] = []
    features: list[str] = []
    cli: bool = False
    pr_paths: list[str] = []

    @property
    def catch_all(self) -> bool:
        return not (self.languages or self.features or self.cli or self.pr_paths)


WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ChangeFreeze(_Strict):
    start: date
    end: date  # inclusive
    reason: str = ""

    @field_validator("end")
    @classmethod
    def _not_before_start(cls, v: date, info) -> date:
        start = info.data.get("start")
        if start is not None and v < start:
            raise ValueError(f"a change freeze ends on or after its start ({start}), found end {v}")
        return v


class DeliveryWindows(_Strict):
    """When the org ships: activity on other days counts as off-window (weekends, holidays, freezes)."""

    weekends_off: bool = True
    weekend_days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = ["sat", "sun"]
    holidays: list[date] = []
    change_freezes: list[ChangeFreeze] = []

    @field_validator("change_freezes", mode="before")
    @classmethod
    def _freeze_pairs(cls, v):
        # The first form of this key was a list of [start, end] pairs; keep accepting it.
        if isinstance(v, list):
            return [{"start": f[0], "end": f[1]} if isinstance(f, (list, tuple)) and len(f) == 2 else f for f in v]
        return v

    def off_window_days(self, start: date, end: date) -> list[date]:
        """Days from `start` to `end` (inclusive) outside the delivery windows, in order."""
        weekend = {WEEKDAY_NAMES.index(d) for d in self.weekend_days} if self.weekends_off else set()
        holidays = set(self.holidays)
        days, day = [], start
        while day <= end:
            if (day.weekday() in weekend or day in holidays
                    or any(f.start <= day <= f.end for f in self.change_freezes)):
                days.append(day)
            day += timedelta(days=1)
        return days


class Privacy(_Strict):
    k_anonymity: int = Field(5, ge=2, description="figures over fewer users than this are suppressed")
    pseudonym_key_file: str = ".pseudonym.key"
    incident_access_hours: float = Field(12, gt=0, le=720, description="how long a detail run's grant stands")
    readers_group: str | None = Field(None, description="a group that may read the warehouse, raw zone and incident "
                                                        "outputs (default: their owner only)")


class Retention(_Strict):
    user_level_days: int = Field(400, ge=30)
    raw_days: int = Field(400, ge=30)


class TeamOverride(_Strict):
    """What `params/teams/<slug>.yaml` (or an entry of org.yaml's `teams:`) may set for one team: its role
    segment and its monthly budget. Each wins over what org.yaml says of that team (segments, budgets)."""

    segment: str | None = None
    budget: Budget | None = None

    @field_validator("segment")
    @classmethod
    def _known_segment(cls, v: str | None) -> str | None:
        if v is not None and (not SEGMENT_ID.match(v) or v == UNASSIGNED):
            raise ValueError(f"segment id {v!r}: write it in snake_case (e.g. data_platform), not {UNASSIGNED!r}")
        return v  # whether org.yaml declares it is checked by load_params and OrgParams


class OrgParams(_Strict, AttributionParams):
    org: str
    enterprise: str | None = None
    plan: Literal["business", "enterprise"] = "business"
    currency: str = "USD"
    prices: Prices = Prices()
    pool_allocation: Literal["seat_share", "usage_share", "none"] = "seat_share"
    segments: dict[str, Segment] = Field(default_factory=lambda: {k: Segment(label=v) for k, v in DEFAULT_SEGMENTS.items()})
    budgets: Budgets = Budgets()
    guardrails: Guardrails = Guardrails()
    task_classes: dict[str, TaskClassRule] = {}
    delivery_windows: DeliveryWindows = DeliveryWindows()
    incident_label: str = "incident"
    on_call: OnCall = OnCall()
    patterns: PatternRules = PatternRules()
    privacy: Privacy = Privacy()
    retention: Retention = Retention()
    teams: dict[str, TeamOverride] = Field(default_factory=dict,
                                           description="per-team overrides, from params/teams/<slug>.yaml")

    @field_validator("segments")
    @classmethod
    def _known_segments(cls, v: dict[str, Segment]) -> dict[str, Segment]:
        for seg in v:
            if not SEGMENT_ID.match(seg) or seg == UNASSIGNED:
                raise ValueError(f"segment id {seg!r}: write it in snake_case (e.g. data_platform), not {UNASSIGNED!r}")
        seen: dict[str, str] = {}
        for seg, s in v.items():
            for team in s.teams:
                if team in seen:
                    raise ValueError(f"team {team!r} is in two segments: {seen[team]} and {seg}")
                seen[team] = seg
        return v

    @field_validator("task_classes")
    @classmethod
    def _one_catch_all(cls, v: dict[str, TaskClassRule]) -> dict[str, TaskClassRule]:
        catch_all = [name for name, rule in v.items() if rule.catch_all]
        if len(catch_all) > 1:
            raise ValueError(f"only one task class may have no rule (the catch-all); found {', '.join(catch_all)}")
        return v

    @model_validator(mode="after")
    def _apply_team_overrides(self) -> "OrgParams":
        """Fold each team's overrides into `segments` and `budgets`, so every reader sees them (idempotent)."""
        segments = {seg: s.model_copy(update={"teams": list(s.teams)}) for seg, s in self.segments.items()}
        budgets = dict(self.budgets.teams)
        for slug, team in self.teams.items():
            if not SLUG.match(slug) or ".." in slug:
                raise ValueError(f"teams: {slug!r} is not a team slug (letters, digits, '-', '_' and '.')")
            if team.budget is not None:
                budgets[slug] = team.budget
            if team.segment is not None:
                if team.segment not in segments:
                    raise ValueError(f"teams.{slug}.segment: {team.segment!r} is not under segments in org.yaml "
                                     f"(defined: {', '.join(segments) or 'none'}): add it there with a label")
                for s in segments.values():
                    if slug in s.teams:
                        s.teams.remove(slug)
                segments[team.segment].teams.append(slug)
        self.segments, self.budgets = segments, self.budgets.model_copy(update={"teams": budgets})
        return self

    @model_validator(mode="after")
    def _budgets_name_segments(self) -> "OrgParams":
        unknown = sorted(set(self.budgets.segments) - set(self.segments))
        if unknown:
            raise ValueError(f"budgets.segments: unknown segment {unknown[0]!r}; allowed: {', '.join(self.segments)}")
        return self

    def segment_label(self, segment: str) -> str:
        """The label params give a segment ('Unassigned (not in params/org.yaml)' for unassigned teams)."""
        found = self.segments.get(segment)
        return found.label if found else "Unassigned (not in params/org.yaml)"

    def segment_of(self, team_slug: str) -> str:
        """The role segment a team belongs to, or 'unassigned' (reported, never dropped)."""
        for seg, s in self.segments.items():
            if team_slug in s.teams:
                return seg
        return UNASSIGNED

    @property
    def seat_price(self) -> float:
        return self.prices.seat_per_month[self.plan]

    @property
    def included_credits_per_seat(self) -> float:
        return self.prices.included_credits_per_seat[self.plan]

    def included_credits_for(self, month_start: date | None) -> float:
        """Included credits per seat of the org's plan for a month (`Prices.included_credits_for`)."""
        return self.prices.included_credits_for(month_start)[self.plan]


def load_params(params_dir: str | Path) -> OrgParams:
    """Read and validate `org.yaml` and the team overrides `teams/<slug>.yaml` under `params_dir`.

    A team file may set `segment` and `budget` (`TeamOverride`); it is validated on its own, so an error
    names that file, and it wins over org.yaml's own `teams:` entry for the same team.
    """
    folder = Path(params_dir)
    org_file = folder / "org.yaml"
    if not org_file.is_file():
        raise UserError(f"{org_file} not found: pass --params with the folder holding org.yaml "
                        "(the repository's params/ is a worked example for the demo org)")
    data = load_yaml(org_file)
    inline = data.get("teams") or {}
    if not isinstance(inline, dict):
        raise UserError(f"{org_file}: teams: expected a mapping of team slug to overrides (segment, budget), "
                        f"found a {type(inline).__name__}; or put each team's overrides in {folder / 'teams'}/<slug>.yaml")
    teams = dict(inline)
    for team_file in sorted((folder / "teams").glob("*.yaml")):
        slug = team_file.stem
        if not SLUG.match(slug) or ".." in slug:
            raise UserError(f"{team_file}: the file name must be a team slug (letters, digits, '-', '_' and '.'), "
                            "e.g. platform-sre.yaml")
        try:
            override = TeamOverride.model_validate(load_yaml(team_file))
        except ValidationError as exc:
            raise UserError(format_error(team_file, exc)) from None
        declared = data.get("segments") or DEFAULT_SEGMENTS
        if override.segment and override.segment not in declared:
            raise UserError(f"{team_file}: segment: unknown segment {override.segment!r}, not under segments in "
                            f"{org_file} (declared: {', '.join(declared)}): add it there with a label, or name one "
                            "of these")
        teams[slug] = override.model_dump(exclude_unset=True)
    data["teams"] = teams
    try:
        return OrgParams.model_validate(data)
    except ValidationError as exc:
        raise UserError(format_error(org_file, exc)) from None

