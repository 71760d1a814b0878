"""Reports: papermill runs each report notebook per team and period, and the results become HTML pages.

`task` runs one notebook, `plan` decides which, `executors` runs them (local pool, or Dask in `dask`),
`render` turns an executed notebook into a page, `index` writes the period's index, `stitch` the
combined retro, `notebook` is what every report notebook starts with, and `pipeline` is what the
`report` and `demo` commands call.
"""
from .executors import EXECUTORS, run_reports, runner_for
from .index import team_headlines, write_index
from .pipeline import make_reports
from .plan import discover_notebooks, plan_tasks, team_dirname
from .task import ORG_TEAM, ReportResult, ReportTask, run_task

__all__ = ["EXECUTORS", "ORG_TEAM", "ReportResult", "ReportTask", "discover_notebooks", "make_reports", "plan_tasks",
           "run_reports", "run_task", "runner_for", "team_dirname", "team_headlines",
           "write_index"]
