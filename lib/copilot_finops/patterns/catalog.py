"""The named waste patterns the high-burn detector reports, as data: no model code, no scikit-learn.

Kept apart from `model` so that reading labelled weeks (a report notebook whose org-wide
fit is already memoised) does not pay for importing scikit-learn.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

NO_PATTERN = ""  # label of weeks that are not flagged, or flagged without a matching pattern


@dataclass(frozen=True)
class Condition:
    """One clause of a pattern, read against the week's role-segment peers.

    The feature is at least `z` peer spreads above (direction +1) or below (-1) the segment median;
    when set, it is also past `floor` in its own units, and at least `times_median` times the
    segment median (above) or at most 1/`times_median` of it (below). The median is the feature's
    own, or that of `median_of` (e.g. off-window activity against a peer's whole week of activity).
    """

    feature: str
    direction: int
    z: float
    floor: float | None = None
    times_median: float | None = None
    median_of: str | None = None

    def holds(self, z: pd.DataFrame, raw: pd.DataFrame, peer_median: pd.DataFrame) -> pd.Series:
        value = raw[self.feature]
        ok = (z[self.feature] * self.direction >= self.z) & value.notna()
        if self.floor is not None:
            ok &= value * self.direction >= self.floor * self.direction
        if self.times_median is not None:
            median = peer_median[self.median_of or self.feature]
            bound = median * self.times_median if self.direction > 0 else median / self.times_median
            ok &= value * self.direction >= bound * self.direction
        return ok


@dataclass(frozen=True)
class Pattern:
    name: str
    title: str
    conditions: tuple[Condition, ...]


# The named waste patterns. Each reads as a sentence about the week, measured against peers.
PATTERNS = (
    Pattern("retry_no_accept", "Repeated retries with no acceptance", (
        Condition("accepted_output_ratio", -1, 2.0, times_median=5),  # a fifth of peers' acceptance or less ...
        Condition("interactions", +1, 0.5),  # ... while asking more often than peers: retrying, not idle
    )),
    Pattern("unmerged_output", "Large output that never merges", (
        Condition("loc_added_per_suggested", +1, 4.0),  # far more lines written than suggested (agent output) ...
        Condition("prs_opened_unmerged", +1, 3.0, floor=2),  # ... into several PRs ...
        Condition("unmerged_share", +1, 0.0, floor=0.75),  # ... most of which did not merge
    )),
    Pattern("off_window", "Heavy use outside delivery windows", (
        Condition("off_window_share", +1, 3.0, floor=0.6),  # most of the week's use off-window ...
        # ... and heavy: at least 30 % of a peer's whole week (more than a working day), not a stray prompt
        Condition("off_window_activity", +1, 0.0, times_median=0.3, median_of="activity"),
    )),
    Pattern("duplicate_work", "Duplicate requests across similar repos", (
        Condition("duplicate_prs", +1, 3.0, floor=1),  # PRs that repeat another author's work
    )),
    Pattern("cli_token_loop", "Token-heavy CLI loops", (
        Condition("cli_requests_per_prompt", +1, 4.0, times_median=3),  # the agent loops on each prompt ...
        Condition("cli_tokens_per_accepted_output", +1, 2.0),  # ... burning tokens without kept output
    )),
)
PATTERN_BY_NAME = {p.name: p for p in PATTERNS}
