"""Routes of the model-routing what-if (`whatif`): `SCOPE[@WHO]:MODEL=SHARE`, parsed and checked against params.

The definitions (what a route moves, which of two routes wins) are written in `whatif`'s header.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UserError
from .params import SEGMENT_IDS, OrgParams
from .period import SLUG

GROUPS = ("all", "chat", "cli")
FEATURE = re.compile(r"^chat_[a-z_]+$")
ROUTE = re.compile(r"^\s*(?P<scope>[a-z_]+)(?:@(?P<who>[A-Za-z0-9][A-Za-z0-9_.-]*))?\s*:\s*(?P<model>[^=\s]+)\s*="
                   r"\s*(?P<share>[0-9.]+)\s*(?P<pct>%?)\s*$")


@dataclass(frozen=True)
class Route:
    """One routing rule: move `share` of the `scope` prompts of `who` (None: the whole org) on dearer models to `target`."""

    scope: str
    who: str | None
    who_kind: str  # 'org', 'segment' or 'team'
    target: str
    share: float
    text: str

    @property
    def specificity(self) -> int:
        feature = {"all": 0, "chat": 1, "cli": 2}.get(self.scope, 2)
        return feature * 3 + {"org": 0, "segment": 1, "team": 2}[self.who_kind]

    def covers_feature(self, feature: str) -> bool:
        return (self.scope == "all" or self.scope == feature
                or (self.scope == "chat" and feature.startswith("chat")))


def parse_routes(text: str, params: OrgParams) -> list[Route]:
    """The routes in `text` (comma-separated), checked against params. UserError names the bad route and the fix."""
    if not str(text or "").strip():
        raise UserError("--route is empty: give one or more routes, e.g. \"chat:gpt-5-mini=50%,cli:gpt-5-mini=80%\"")
    segments = set(params.segments) | set(SEGMENT_IDS)
    routes = []
    for part in str(text).split(","):
        m = ROUTE.match(part)
        if not m:
            raise UserError(f"--route {part.strip()!r}: write SCOPE[@SEGMENT_OR_TEAM]:MODEL=SHARE%, "
                            "e.g. chat:gpt-5-mini=50% or chat_panel_ask_mode@appsec:claude-haiku-4.5=30%")
        scope, who, model = m["scope"], m["who"], m["model"]
        if scope not in GROUPS and not FEATURE.match(scope):
            raise UserError(f"--route {part.strip()!r}: scope {scope!r} is not chat, cli, all or a chat feature "
                            "(chat_inline, chat_panel_ask_mode, ...); completions are not billed and agent edits "
                            "carry no prompts")
        if model not in params.model_prices:
            raise UserError(f"--route {part.strip()!r}: model {model!r} has no price in params (model_prices); "
                            f"priced: {', '.join(sorted(params.model_prices))}")
        share = float(m["share"]) / (100.0 if m["pct"] else 1.0)
        if not 0 < share <= 1:
            raise UserError(f"--route {part.strip()!r}: the share must be above 0 and at most 100%")
        if who is not None and not SLUG.match(who):
            raise UserError(f"--route {part.strip()!r}: {who!r} is not a segment id or team slug")
        kind = "org" if who is None else "segment" if who in segments else "team"
        routes.append(Route(scope, who, kind, model, share, part.strip()))
    for i, a in enumerate(routes):
        for b in routes[i + 1:]:
            if a.specificity == b.specificity and _overlap(a, b, params):
                raise UserError(f"--route: {a.text!r} and {b.text!r} move the same prompts; keep one, or make one "
                                "more specific (a feature, a segment or a team)")
    return routes


def _overlap(a: Route, b: Route, params: OrgParams) -> bool:
    features = a.scope == b.scope or "all" in (a.scope, b.scope) or (
        "chat" in (a.scope, b.scope) and (a.scope.startswith("chat") and b.scope.startswith("chat")))
    if not features:
        return False
    if a.who_kind != b.who_kind:
        return True
    return a.who == b.who
