"""Parameters for attribution and what-if: model prices (dated), model routing, the team source, agent rules.

Kept apart from `params` (which includes them in `OrgParams`) so that file stays readable. Every default is a
public price or GitHub's documented naming, never a figure fitted to the demo org.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelPrice(_Strict):
    """One model's price from `since` (inclusive) until the model's next entry: USD per million tokens, as GitHub's
    models-and-pricing table gives them (an AI credit is `prices.ai_credit` USD)."""

    since: date
    input: float = Field(ge=0, description="USD per million input (prompt) tokens")
    output: float = Field(ge=0, description="USD per million output tokens")


# GitHub's models-and-pricing table (late 2026), in effect since usage-based billing began.
_BILLING_START = date(2026, 6, 1)
DEFAULT_MODEL_PRICES = {
    "gpt-5-mini": [ModelPrice(since=_BILLING_START, input=0.25, output=2.00)],
    "gpt-5.4": [ModelPrice(since=_BILLING_START, input=2.50, output=15.00)],
    "claude-haiku-4.5": [ModelPrice(since=_BILLING_START, input=1.00, output=5.00)],
    "claude-sonnet-4.6": [ModelPrice(since=_BILLING_START, input=3.00, output=15.00)],
    "claude-opus-4.7": [ModelPrice(since=_BILLING_START, input=5.00, output=25.00)],
    "gemini-3.1-pro": [ModelPrice(since=_BILLING_START, input=2.00, output=12.00)],
}


class Routing(_Strict):
    """How the model-routing what-if (`whatif`, notebook 07) prices prompts.

    The users report counts prompts per model and feature, not tokens, so a model's price per prompt is its input
    and output prices blended by `output_token_share`. The CLI reports tokens but no model: its prompts are priced
    at `cli_model`'s prices on their own token counts.
    """

    cli_model: str = "claude-sonnet-4.6"
    output_token_share: float = Field(0.06, ge=0, le=1, description="share of a prompt's tokens that are output")
    interval: float = Field(0.9, gt=0, lt=1, description="coverage of the acceptance-ratio intervals")
    default_route: str = "chat:gpt-5-mini=50%,cli:gpt-5-mini=80%"


class TeamSource(_Strict):
    """Where teams come from: `github` (the user-teams report and team rosters), `csv` (a team map imported with
    `import --kind team-map FILE.csv`, columns login,team[,cost_center]) or `cost_centers` (the enterprise's billing
    cost centers, each one a team). With no team data at all, everyone is on one whole-org team."""

    kind: Literal["github", "csv", "cost_centers"] = "github"

    @classmethod
    def coerce(cls, value):
        """`team_source: csv` is short for `team_source: {kind: csv}`."""
        return {"kind": value} if isinstance(value, str) else value


class Agents(_Strict):
    """How agent work is recognised. Names match case-insensitively; the billing and workflow lists are substrings
    (GitHub's SKU strings differ between its own examples, so nothing here is a fixed SKU)."""

    author_logins: list[str] = ["Copilot", "copilot-swe-agent[bot]", "copilot-swe-agent"]
    branch_prefixes: list[str] = ["copilot/"]
    cloud_agent_billing: list[str] = ["cloud agent", "cloud_agent", "coding agent", "coding_agent"]
    code_review_workflows: list[str] = ["copilot-pull-request-reviewer"]
    agent_workflows: list[str] = ["copilot-swe-agent", "copilot-coding-agent", "copilot-cloud-agent"]
    credits_in_usage_report: bool = Field(
        True, description="the users report's ai_credits_used already counts the cloud-agent credits billed to that "
                          "user (GitHub does not say; compare the two per user to decide)")

    @field_validator("author_logins", "cloud_agent_billing", "code_review_workflows", "agent_workflows")
    @classmethod
    def _not_blank(cls, v: list[str]) -> list[str]:
        if any(not s.strip() for s in v):
            raise ValueError("entries must not be blank")
        return v


def check_model_prices(model_prices: dict[str, list[ModelPrice]], routing: Routing) -> None:
    """ValueError unless every model's prices are dated oldest first, without repeats, and the CLI model has one."""
    for model, entries in model_prices.items():
        days = [e.since for e in entries]
        if not entries or days != sorted(days) or len(set(days)) != len(days):
            raise ValueError(f"model_prices.{model}: give one or more prices with distinct `since` days, oldest first")
    if routing.cli_model not in model_prices:
        raise ValueError(f"routing.cli_model {routing.cli_model!r} has no entry in model_prices; "
                         f"priced models: {', '.join(sorted(model_prices))}")


def price_on(prices: dict[str, list[ModelPrice]], model: str, day: date) -> ModelPrice | None:
    """The price of `model` in effect on `day` (the latest entry with since <= day), or None."""
    found = None
    for entry in prices.get(model, ()):
        if entry.since <= day:
            found = entry
    return found


class GuardrailPages(_Strict):
    """`guardrails.pages`: the report page (a notebook's name) where a stage's actions are worked out per team; the
    stage's actions on page 03 link to it. Mixed into `params.Guardrails`, whose thresholds its keys must name."""

    pages: dict[str, str] = {}

    @model_validator(mode="after")
    def _pages_name_thresholds_and_notebooks(self):
        allowed = {f"{t:g}" for t in getattr(self, "thresholds", [])}
        for key, page in self.pages.items():
            try:
                known = f"{float(key):g}" in allowed
            except ValueError:
                known = False
            if not known:
                raise ValueError(f"pages key {key!r} is not a threshold; allowed: {', '.join(sorted(allowed))}")
            if not re.fullmatch(r"\d\d_\w+", page):
                raise ValueError(f"pages: {page!r} is not a report page; name a notebook, e.g. 07_model_routing")
        return self

    def page_for(self, threshold: float) -> str | None:
        """The report page that works out one threshold's actions, or None."""
        return next((page for key, page in self.pages.items() if f"{float(key):g}" == f"{threshold:g}"), None)

    def linked_actions(self, threshold: float, actions: list[str]) -> str:
        """A stage's actions as text, each linked to the team's page that works them out (if the stage names one)."""
        page = self.page_for(threshold)
        return " ".join(f"[{a}]({page}.html)" if page else a for a in actions)


class AttributionParams(_Strict):
    """The attribution and what-if parts of org.yaml, mixed into `params.OrgParams`."""

    model_prices: dict[str, list[ModelPrice]] = Field(default_factory=lambda: dict(DEFAULT_MODEL_PRICES))
    routing: Routing = Routing()
    team_source: TeamSource = TeamSource()
    agents: Agents = Agents()

    @field_validator("team_source", mode="before")
    @classmethod
    def _team_source_short(cls, v):
        return TeamSource.coerce(v)

    @model_validator(mode="after")
    def _prices_for_routing(self):
        check_model_prices(self.model_prices, self.routing)
        return self
