"""Parameters: `params/org.yaml` and `params/teams/<slug>.yaml`, validated with pydantic.

Errors name the file, the key and the allowed values, so a typo in a budget never becomes a
silent zero.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import UserError

SEGMENT_IDS = ("platform_sre", "backend_services", "frontend_product", "security_engineering",
               "developer_productivity")
UNASSIGNED = "unassigned"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Prices(_Strict):
    seat_per_month: dict[Literal["business", "enterprise"], float] = {"business": 19.0, "enterprise": 39.0}
    ai_credit: float = Field(0.01, gt=0, description="USD per AI credit")
    included_credits_per_seat: dict[Literal["business", "enterprise"], float] = {"business": 1900.0, "enterprise": 3900.0}
    premium_request: float = Field(0.04, ge=0, description="USD per premium request beyond the allowance (before credits)")
    premium_requests_included_per_seat: dict[Literal["business", "enterprise"], float] = {"business": 300.0, "enterprise": 1000.0}
    credit_billing_start: date = date(2026, 6, 1)


class Segment(_Strict):
    label: str
    teams: list[str] = []


class Budget(_Strict):
    monthly_usd: float | None = Field(None, ge=0)
    monthly_credits: float | None = Field(None, ge=0)


class Budgets(_Strict):
    default: Budget = Budget()
    segments: dict[str, Budget] = {}
    teams: dict[str, Budget] = {}


class Guardrails(_Strict):
    thresholds: list[float] = [0.6, 0.8, 0.95]
    actions: dict[str, list[str]] = {}

    @field_validator("thresholds")
    @classmethod
    def _ascending(cls, v: list[float]) -> list[float]:
        if v != sorted(v) or any(not 0 < t <= 1.5 for t in v):
            raise ValueError("thresholds must be ascending fractions of the budget, e.g. [0.6, 0.8, 0.95]")
        return v


class TaskClassRule(_Strict):
    languages: list[str] = []
    features: list[str] = []
    cli: bool = False
    pr_paths: list[str] = []


class DeliveryWindows(_Strict):
    weekends_off: bool = True
    holidays: list[date] = []
    change_freezes: list[tuple[date, date]] = []


class Privacy(_Strict):
    k_anonymity: int = Field(5, ge=2, description="figures over fewer users than this are suppressed")
    pseudonym_key_file: str = ".pseudonym.key"


class Retention(_Strict):
    user_level_days: int = Field(400, ge=30)
    raw_days: int = Field(400, ge=30)


class OrgParams(_Strict):
    org: str
    enterprise: str | None = None
    plan: Literal["business", "enterprise"] = "business"
    currency: str = "USD"
    prices: Prices = Prices()
    pool_allocation: Literal["seat_share", "usage_share", "none"] = "seat_share"
    segments: dict[str, Segment] = {}
    budgets: Budgets = Budgets()
    guardrails: Guardrails = Guardrails()
    task_classes: dict[str, TaskClassRule] = {}
    delivery_windows: DeliveryWindows = DeliveryWindows()
    incident_label: str = "incident"
    privacy: Privacy = Privacy()
    retention: Retention = Retention()
    teams: dict[str, dict] = Field(default_factory=dict, description="per-team overrides from params/teams/*.yaml")

    @field_validator("segments")
    @classmethod
    def _known_segments(cls, v: dict[str, Segment]) -> dict[str, Segment]:
        unknown = sorted(set(v) - set(SEGMENT_IDS))
        if unknown:
            raise ValueError(f"unknown segment {unknown[0]!r}; allowed: {', '.join(SEGMENT_IDS)}")
        seen: dict[str, str] = {}
        for seg, s in v.items():
            for team in s.teams:
                if team in seen:
                    raise ValueError(f"team {team!r} is in two segments: {seen[team]} and {seg}")
                seen[team] = seg
        return v

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


def _format_error(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid parameters"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see params/org.yaml in the demo for every key)"
        elif err["type"] == "literal_error":
            msg = f"{msg} (found {err.get('input')!r})"
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def _load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of keys at the top level")
    return data


def load_params(params_dir: str | Path) -> OrgParams:
    """Read and validate `org.yaml` and `teams/*.yaml` under `params_dir`."""
    folder = Path(params_dir)
    org_file = folder / "org.yaml"
    if not org_file.exists():
        raise UserError(f"{org_file} not found: pass --params with the folder holding org.yaml "
                        "(the repository's params/ is a worked example for the demo org)")
    data = _load_yaml(org_file)
    teams = {}
    for team_file in sorted((folder / "teams").glob("*.yaml")):
        teams[team_file.stem] = _load_yaml(team_file)
    data.setdefault("teams", {}).update(teams)
    try:
        return OrgParams.model_validate(data)
    except ValidationError as exc:
        raise UserError(_format_error(org_file, exc)) from exc
