"""Coaching playbooks (params/playbooks.yaml): advice per high-burn pattern, read by `patterns` and the monthly
retro. Kept apart from org.yaml because platform teams edit it as prose; `params` re-exports these names.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import UserError
from .yamlfiles import format_error, load_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PatternPlaybook(_Strict):
    title: str
    what_we_see: str  # the signal, in plain words, without naming anyone
    advice: str  # process advice for the team
    first_steps: list[str] = []


class PromptPlaybook(_Strict):
    name: str
    when: str
    steps: list[str]


class AvoidAsk(_Strict):
    ask: str  # the kind of request that burns credits without value
    why: str
    instead: str


class Playbooks(_Strict):
    patterns: dict[str, PatternPlaybook]
    prompt_playbooks: list[PromptPlaybook] = []
    what_not_to_ask: list[AvoidAsk] = []


def load_playbooks(params_dir: str | Path) -> Playbooks:
    """Read and validate `playbooks.yaml` under `params_dir`."""
    path = Path(params_dir) / "playbooks.yaml"
    if not path.exists():
        raise UserError(f"{path} not found: the coaching advice for the high-burn patterns lives there "
                        "(copy the repository's params/playbooks.yaml and edit it)")
    try:
        return Playbooks.model_validate(load_yaml(path))
    except ValidationError as exc:
        raise UserError(format_error(path, exc)) from exc
