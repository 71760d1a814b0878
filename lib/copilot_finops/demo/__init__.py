"""The demo org: a deterministic synthetic org written in the exact raw-zone formats, with its ground truth.

`generate` writes the raw zone (`generate_org`), `org` draws the people and teams, `usage` their daily
Copilot telemetry and the injected high-burn weeks, and `delivery` their pull requests, deployments
and incidents.
"""
from .generate import DEFAULT_DAYS, DEFAULT_END, DEFAULT_SEED, DEFAULT_USERS, GenerateResult, generate_org

__all__ = ["DEFAULT_DAYS", "DEFAULT_END", "DEFAULT_SEED", "DEFAULT_USERS", "GenerateResult", "generate_org"]
