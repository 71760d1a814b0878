"""Delivery: DORA metrics per team-week (fourkeys definitions), their relation with Copilot usage, a verdict.

`metrics` defines and computes the delivery metrics from pull requests, deployments and incidents,
`usage` builds the weekly usage series, `stats` correlates them, `verdict` decides, `report` assembles
a team's month for the notebook and the `delivery` command, and `charts` draws it.
"""
from .metrics import (PRODUCTION_ENVIRONMENTS, WEEKLY_METRICS, DeliveryEvents, DeliveryInputs, attribute_pulls,
                      delivery_events, first_reviews, link_incidents, load_delivery_inputs, period_metrics,
                      pull_measures, reverted_deployments, successful_deployments, team_week_metrics, week_start)

__all__ = ["PRODUCTION_ENVIRONMENTS", "WEEKLY_METRICS", "DeliveryEvents", "DeliveryInputs", "attribute_pulls",
           "delivery_events", "first_reviews", "link_incidents", "load_delivery_inputs", "period_metrics",
           "pull_measures", "reverted_deployments", "successful_deployments", "team_week_metrics", "week_start"]
