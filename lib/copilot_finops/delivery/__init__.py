"""Delivery: DORA metrics per team-week (fourkeys definitions), their relation with Copilot usage, a verdict.

`events` defines and attributes pull requests, deployments, failures and incidents, `metrics` counts
them per week and period, `dora` places the figures on DORA's performance tiers, `usage` builds
the weekly usage series, `stats` relates usage and delivery within a team (detrended, with
autocorrelation-aware intervals), `verdict` decides, `report` assembles a team's month for the
notebook and the `delivery` command, `charts` draws it, and `evaluate` scores the verdicts on
generated orgs.
"""
from .dora import tiers as dora_tiers
from .events import (PRODUCTION_ENVIRONMENTS, DeliveryEvents, DeliveryInputs, attribute_pulls, delivery_events,
                     first_reviews, link_incidents, load_delivery_inputs, pull_measures, reverted_deployments,
                     shipped_by, successful_deployments, week_start)
from .metrics import WEEKLY_METRICS, period_metrics, team_week_metrics

__all__ = ["PRODUCTION_ENVIRONMENTS", "WEEKLY_METRICS", "DeliveryEvents", "DeliveryInputs", "attribute_pulls",
           "delivery_events", "dora_tiers", "first_reviews", "link_incidents", "load_delivery_inputs",
           "period_metrics", "pull_measures", "reverted_deployments", "shipped_by", "successful_deployments",
           "team_week_metrics", "week_start"]
