"""The named waste patterns the high-burn detector reports, as data: no model code, no scikit-learn.

Each pattern is a few conditions on a user-week's features, every one read against the org's own
distribution: a robust z-score within the week's role segment (how many of the segment's spreads
from its median, median and MAD over its user-weeks) and a minimum effect in plain units, so a
tiny departure in a very uniform segment never counts. Where a condition compares the week with
the developer's usual week (`*_vs_usual`), the z-score is of that ratio, again within the segment.
The thresholds live in params (`patterns:` in org.yaml, `params.PatternRules`), named here.

Kept apart from `model` so that reading labelled weeks (a report notebook whose org-wide fit is
already memoised) does not pay for importing scikit-learn.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from ..params import PatternRules

NO_PATTERN = ""  # label of weeks that carry no pattern


def week_month(week_start: date) -> str:
    """The month a week is reported in: the month of its Thursday (ISO 8601), which holds most of its days."""
    return (week_start + timedelta(days=3)).strftime("%Y-%m")


@dataclass(frozen=True)
class Condition:
    """One clause of a pattern, read against the week's role-segment peers.

    direction +1: the feature is high; -1: low. `z` names the PatternRules field with the robust z it
    needs ("z" for a pattern resting on one feature, "z_joint" for each of several), None for none.
    Minimum effects, each a PatternRules field name or a number: `floor`, a bound in the feature's
    own units; `times_median`, a multiple of the segment median (above) or its inverse (below) of
    the feature, or of `median_of`; `gap`, a distance under the segment median in the feature's units.
    """

    feature: str
    direction: int
    z: str | None = None
    floor: str | float | None = None
    times_median: str | float | None = None
    median_of: str | None = None
    gap: str | float | None = None

    def _value(self, setting, rules: PatternRules) -> float:
        return float(getattr(rules, setting)) if isinstance(setting, str) else float(setting)

    def holds(self, z: pd.DataFrame, raw: pd.DataFrame, peer_median: pd.DataFrame, rules: PatternRules) -> pd.Series:
        value = raw[self.feature]
        ok = value.notna()
        if self.z is not None:
            ok &= z[self.feature] * self.direction >= self._value(self.z, rules)
        if self.floor is not None:
            ok &= value * self.direction >= self._value(self.floor, rules) * self.direction
        if self.times_median is not None:
            factor = self._value(self.times_median, rules)
            median = peer_median[self.median_of or self.feature]
            bound = median * factor if self.direction > 0 else median / factor
            ok &= value * self.direction >= bound * self.direction
        if self.gap is not None:
            ok &= value <= peer_median[self.feature] - self._value(self.gap, rules)
        return ok.fillna(False).astype(bool)

    def threshold(self, rules: PatternRules) -> float | None:
        """The z this condition needs (None: none), for the strength of a match."""
        return None if self.z is None else self._value(self.z, rules)


@dataclass(frozen=True)
class Pattern:
    name: str
    title: str
    conditions: tuple[Condition, ...]


# The named waste patterns. Each reads as a sentence about the week, measured against peers.
PATTERNS = (
    Pattern("retry_no_accept", "Repeated retries with no acceptance", (
        # acceptance under the segment's by a clear margin, and under the developer's own usual ...
        Condition("accepted_output_ratio", -1, gap="acceptance_gap"),
        Condition("acceptance_vs_usual", -1, floor=1.0),
        # ... while prompting more than usual: retrying, not idle ...
        Condition("interactions_vs_usual", +1, z="z_support", floor="prompt_ratio"),
        # ... and, as counts, far fewer outputs accepted than the developer's own rate gives (`counts`):
        # the evidence of the pattern. Prompts only qualify it: a busy week, on-call or healthy heavy
        # use sends prompts far up on its own, so pooling the two would flag those on a small dip.
        Condition("acceptance_z", -1, z="z"),
        Condition("interactions", +1, times_median=1.0),  # ... and at least a typical week's prompts: a burn
    )),
    Pattern("unmerged_output", "Large output that never merges", (
        Condition("loc_added_vs_usual", +1, z="z_joint", floor="output_ratio"),  # far more lines written than usual ...
        Condition("prs_opened_unmerged", +1, floor="unmerged_prs"),  # ... into several PRs ...
        Condition("unmerged_share", +1, floor="unmerged_share"),  # ... most of those settled did not merge ...
        Condition("unmerged_z", +1, z="z_joint"),  # ... far more, as counts, than the developer's rate gives
    )),
    Pattern("off_window", "Heavy use outside delivery windows", (
        Condition("off_window_share", +1, z="z", floor="off_window_share"),  # much of the week off-window ...
        Condition("off_window_days", +1, floor="off_window_min_days"),  # ... on several days, not one push ...
        # ... each busier than the week's working days: it leaned on them, not a weekend worked like a weekday ...
        Condition("off_window_day_ratio", +1, floor="off_window_day_ratio"),
        # ... and heavy: a good part of a peer's whole week, not a stray prompt
        Condition("off_window_activity", +1, times_median="off_window_volume", median_of="activity"),
    )),
    Pattern("duplicate_work", "Duplicate requests across similar repos", (
        Condition("duplicate_prs", +1, floor=1),  # PRs that build what another repo's PR built (see `duplicates`)
    )),
    Pattern("cli_token_loop", "Token-heavy CLI loops", (
        Condition("cli_requests_per_prompt", +1, z="z", times_median="cli_ratio"),  # the agent loops on each prompt
    )),
)
PATTERN_BY_NAME = {p.name: p for p in PATTERNS}
