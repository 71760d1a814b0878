"""Fetch: GitHub's Copilot usage reports, seats, billing, teams and delivery data into the raw zone.

`run` is the job, `context` what every kind shares, `reports` / `org` / `delivery` the kinds, `github`
the REST client (retries, rate limits, signed downloads) and `rawzone` the immutable writer.
"""
from .context import DEFAULT_KINDS, FetchConfig, KindResult, resolve_kinds
from .run import estimate_requests, format_summary, plan, resolve_window, run_fetch

__all__ = ["DEFAULT_KINDS", "FetchConfig", "KindResult", "estimate_requests", "format_summary", "plan",
           "resolve_kinds", "resolve_window", "run_fetch"]
