"""Params of the high-burn patterns and the on-call rota: `patterns:` and `on_call:` in org.yaml.

Kept apart from `params` (which reads and validates the files) so that each stays a size a reader
can hold; `params.OrgParams` carries both models.
"""
from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OnCallShift(_Strict):
    """One person on call from `start` to `end` (inclusive)."""

    user: str  # GitHub login
    start: date
    end: date


class OnCallRotation(_Strict):
    """A rota: `members` take turns of `shift_days` days from `start` (the first member first), until `end`."""

    members: list[str] = Field(min_length=1)  # GitHub logins, in rota order
    start: date
    shift_days: int = Field(7, ge=1)
    end: date | None = None


class OnCall(_Strict):
    """Who was on call when: their activity on those days is on-call work, never "off-window" use."""

    shifts: list[OnCallShift] = []
    rotations: list[OnCallRotation] = []

    def days_by_login(self, start: date, end: date) -> dict[str, set[date]]:
        """Lower-cased login -> the days from `start` to `end` (inclusive) the person was on call."""
        out: dict[str, set[date]] = {}
        for shift in self.shifts:
            day = max(shift.start, start)
            while day <= min(shift.end, end):
                out.setdefault(shift.user.lower(), set()).add(day)
                day += timedelta(days=1)
        for rota in self.rotations:
            day = max(rota.start, start)
            last = min(rota.end or end, end)
            while day <= last:
                who = rota.members[((day - rota.start).days // rota.shift_days) % len(rota.members)]
                out.setdefault(who.lower(), set()).add(day)
                day += timedelta(days=1)
        return out


class PatternRules(_Strict):
    """How far from its peers a week must be, and by how much in plain units, before it carries a pattern.

    Distances are robust z-scores within the role segment (median and MAD over the segment's
    user-weeks); the minimum effects keep a tiny departure in a very uniform segment from counting.
    """

    z: float = Field(3.0, gt=0, description="robust z a one-feature condition needs (about 1 week in 700 by chance)")
    z_joint: float = Field(2.0, gt=0, description="robust z each condition of a several-feature pattern needs")
    z_support: float = Field(1.0, gt=0, description="robust z a condition that only qualifies a pattern needs "
                                                     "(retries: prompts above the usual week)")
    min_peer_weeks: int = Field(20, ge=5, description="a segment with fewer user-weeks is compared with the whole org")
    min_history_weeks: int = Field(3, ge=1, description="other active weeks a developer needs before a week is judged")
    acceptance_gap: float = Field(0.10, gt=0, lt=1, description="retries: acceptance at least this far under the segment median")
    prompt_ratio: float = Field(1.5, gt=1, description="retries: at least this many times the developer's usual prompts")
    off_window_share: float = Field(0.30, gt=0, le=1, description="off-window: at least this share of the week's activity")
    off_window_min_days: int = Field(2, ge=1, description="off-window: on at least this many off-window days")
    off_window_day_ratio: float = Field(1.0, gt=0, description="off-window: each off-window day with activity at least "
                                                                "this busy, on average, as the week's working days")
    off_window_volume: float = Field(0.2, gt=0, description="off-window: at least this share of a typical week's "
                                                             "activity (0.2: about one working day)")
    incident_days: int = Field(3, ge=1, description="an incident's author and assignees are on incident duty for its first days")
    cli_ratio: float = Field(3.0, gt=1, description="CLI loops: at least this many times the segment's requests per prompt")
    unmerged_prs: int = Field(2, ge=1, description="unmerged output: at least this many PRs opened that week left unmerged")
    unmerged_share: float = Field(0.75, gt=0, le=1, description="unmerged output: and at least this share of the week's PRs")
    output_ratio: float = Field(2.0, gt=1, description="unmerged output: at least this many times the usual lines added")
    unmerged_after_days: int = Field(14, ge=1, description="an open PR counts as unmerged once this many days old")
    incident_pr_labels: list[str] = ["incident", "hotfix", "sev1", "sev2", "outage", "rollback"]
    bot_logins: list[str] = ["dependabot", "renovate", "github-actions", "snyk-bot", "deploy-bot"]
    generated_paths: list[str] = [
        "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "go.sum", "cargo.lock", "poetry.lock", "pipfile.lock",
        "composer.lock", "gemfile.lock", "uv.lock", "vendor/", "node_modules/", "dist/", "third_party/", ".min.js",
        ".min.css", ".map", ".snap", "__snapshots__/", "_pb2.py", ".pb.go", "_generated.", ".generated.", ".g.dart"]
    dependency_files: list[str] = [
        "package.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "go.mod", "go.sum", "requirements.txt",
        "requirements-dev.txt", "poetry.lock", "pipfile", "pipfile.lock", "cargo.toml", "cargo.lock", "gemfile",
        "gemfile.lock", "pom.xml", "build.gradle", "composer.json", "composer.lock", "uv.lock"]
    duplicate_min_similarity: float = Field(0.35, gt=0, lt=1, description="duplicate work: cosine floor of two PRs' content")
    duplicate_min_shared_tokens: int = Field(3, ge=1, description="duplicate work: distinct content tokens two PRs share")
    duplicate_z: float = Field(4.0, gt=0, description="duplicate work: robust z of a pair's similarity among random PR pairs")
    review_min_weight: float = Field(0.5, ge=0, le=1, description="flags weighed below this by analysts' reviews are not reported")
