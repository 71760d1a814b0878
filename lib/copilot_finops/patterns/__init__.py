"""High burn, low value: user-week features, the scikit-learn detector, and the patterns it names.

`catalog` names the patterns, `features` builds the per user-week measures, `model` scores and
clusters them against role-segment peers, `detect` returns the flagged weeks with their evidence,
`report` turns them into tables and summaries for readers, `duplicates` finds duplicate work from
what PRs change, `duty` the days of on-call and incident work, `review` and `review_list` keep
analysts' verdicts on flagged weeks and let them weigh on similar ones, and `evaluate` scores the
detector on generated orgs.
"""
from .catalog import NO_PATTERN, PATTERN_BY_NAME, PATTERNS
from .detect import (DETECT_COLUMNS, FEATURE_LABELS, LOOKBACK_WEEKS, PATTERN_NAMES, SMALL_TEAMS,
                     active_developers_by_team, check_playbooks, detect, detect_with_previous, evidence,
                     evidence_text, flagged_user_weeks, flagged_weeks, label_features, label_user_weeks, period_weeks,
                     week_month)
from .report import (flagged_for_display, median_evidence, movement_chart, movement_for_display, org_pattern_table,
                     org_team_weeks, pattern_table, precision_chart, precision_for_display, review_precision,
                     table_for_display, table_records, team_credits, team_movement, team_summary_markdown,
                     team_week_table, to_records, week_table_display, with_logins)

__all__ = ["DETECT_COLUMNS", "FEATURE_LABELS", "LOOKBACK_WEEKS", "NO_PATTERN", "PATTERNS", "PATTERN_BY_NAME",
           "PATTERN_NAMES", "SMALL_TEAMS", "active_developers_by_team", "check_playbooks", "detect",
           "detect_with_previous", "evidence", "evidence_text", "flagged_for_display", "flagged_user_weeks", "flagged_weeks",
           "label_features", "label_user_weeks", "median_evidence", "movement_chart", "movement_for_display",
           "org_pattern_table", "org_team_weeks", "pattern_table", "period_weeks", "precision_chart",
           "precision_for_display", "review_precision", "table_for_display", "table_records", "team_credits", "team_movement",
           "team_summary_markdown", "team_week_table", "to_records", "week_month", "week_table_display",
           "with_logins"]
