"""The incident gate: identities only within a recent grant whose scope (period, teams) covers the render, and
every render that shows them has its own access_audit row, from `report --detail` or papermill by hand alike."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import duckdb
import nbformat
import papermill
import pytest

from copilot_finops import privacy, warehouse
from copilot_finops.cli import main
from copilot_finops.errors import UserError

from conftest import ROOT

ACCESS = privacy.IncidentAccess("INC-42", "reclaiming seats of departed contractors", "ops")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@pytest.fixture
def audited(small_demo, tmp_path):
    shutil.copy(small_demo.warehouse, tmp_path / "w.duckdb")
    con = warehouse.connect(tmp_path / "w.duckdb")
    yield con
    con.close()


def test_a_grant_covers_only_its_teams_its_period_and_its_hours(audited):
    privacy.record_access(audited, ACCESS, "test", "out", period="2026-10", teams=["appsec"])
    access = privacy.detail_access(audited, True, "INC-42", "appsec", "2026-10")
    assert access.allowed and access.must_record and access.grant.reason == ACCESS.reason
    for team, period in (("devex", "2026-10"), ("__org__", "2026-10"), ("appsec", "2026-09")):
        with pytest.raises(UserError, match="no access_audit grant for incident 'INC-42' covers"):
            privacy.detail_access(audited, True, "INC-42", team, period)
    with pytest.raises(UserError, match="no access_audit grant"):
        privacy.detail_access(audited, True, "INC-43", "appsec", "2026-10")
    # an org-wide grant of two days ago has expired at 12 hours, not at 72
    privacy.record_access(audited, ACCESS, "test", "out", _now() - timedelta(hours=48), period="2026-10")
    with pytest.raises(UserError, match="within the last 12 hours"):
        privacy.detail_access(audited, True, "INC-42", "__org__", "2026-10")
    assert privacy.detail_access(audited, True, "INC-42", "__org__", "2026-10", hours=72).allowed
    assert not privacy.detail_access(audited, False, "", "appsec", "2026-10").allowed
    with pytest.raises(UserError, match="needs an incident id"):
        privacy.detail_access(audited, True, "", "appsec", "2026-10")


def test_an_unscoped_row_of_the_old_kind_grants_nothing(audited):
    audited.execute("INSERT INTO access_audit (accessed_at, actor, incident_id, reason, scope, output) "
                    "VALUES (?, 'ops', 'INC-42', 'a reason of old', 'period 2026-10; teams: appsec; identities', 'out')",
                    [_now()])
    with pytest.raises(UserError, match="no access_audit grant"):
        privacy.detail_access(audited, True, "INC-42", "appsec", "2026-10")


def test_a_render_of_the_report_command_is_found_by_its_runs_token_only(audited):
    privacy.record_access(audited, ACCESS, "test", "out", period="2026-10", teams=["appsec"])
    privacy.record_access(audited, ACCESS, "render", "out/x.html", kind=privacy.RENDER, period="2026-10",
                          teams=["appsec"], notebook="01_team_usage", run_token="the-runs-secret")
    assert privacy.detail_access(audited, True, "INC-42", "appsec", "2026-10", run_token="the-runs-secret") == \
        privacy.DetailAccess(True)  # its row is there: nothing more to record
    assert privacy.detail_access(audited, True, "INC-42", "appsec", "2026-10", run_token="a-guess").must_record
    stored = audited.execute("SELECT run_token_sha256 FROM access_audit WHERE access = 'render'").fetchone()[0]
    assert "the-runs-secret" not in stored and len(stored) == 64


@pytest.mark.slow
def test_papermill_by_hand_shows_identities_only_in_scope_and_records_each_render(small_demo, project_cwd, monkeypatch):
    """The issue's case: after a detail run scoped to appsec, notebook 00 run by hand is refused; under an org-wide
    grant it runs, and its render writes its own access_audit row."""
    monkeypatch.delenv(privacy.AUDIT_TOKEN_ENV, raising=False)
    shutil.copy(small_demo.warehouse, project_cwd / "w.duckdb")
    books = project_cwd / "books"
    books.mkdir()
    probe = nbformat.v4.new_notebook()
    probe.cells = [
        nbformat.v4.new_code_cell('team = "x"\nperiod = "2026-10"\nwarehouse = "w"\nparams = "p"\ndetail = False\n'
                                  'incident = ""\nrestricted = ""', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from copilot_finops.reports.notebook import open_report\n"
                                  "ctx = open_report(team=team, period=period, warehouse=warehouse, params=params)\n"
                                  "assert ctx.identities_allowed(detail, incident)"),
    ]
    probe.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(probe, books / "01_probe.ipynb")
    assert main(["report", "--period", "2026-10", "--teams", "appsec", "--warehouse", "w.duckdb", "--notebooks",
                 str(books), "--out", "out", "--detail", "--incident", "INC-42", "--reason", ACCESS.reason,
                 "--workers", "1", "--json"]) == 0

    def audit_rows() -> list[tuple]:
        con = duckdb.connect("w.duckdb", read_only=True)
        try:
            return con.execute("SELECT access, teams, notebook FROM access_audit ORDER BY accessed_at").fetchall()
        finally:
            con.close()

    # the run's grant and its render's row, which the render found by the run's token (it wrote none itself)
    assert audit_rows() == [("grant", ["appsec"], None), ("render", ["appsec"], "01_probe")]
    by_hand = dict(team="__org__", period="2026-10", warehouse="w.duckdb", params="params", detail=True,
                   incident="INC-42")
    with pytest.raises(papermill.PapermillExecutionError, match="covers the org overview"):
        papermill.execute_notebook(str(ROOT / "notebooks/00_org_overview.ipynb"), "refused.ipynb", parameters=by_hand,
                                   cwd=str(project_cwd), progress_bar=False, kernel_name="python3")
    con = duckdb.connect("w.duckdb", read_only=True)
    logins = {r[0] for r in con.execute("SELECT DISTINCT user_login FROM seat").fetchall()}
    con.close()
    assert len(audit_rows()) == 2  # refused: nothing recorded, and no login on the page
    refused = (project_cwd / "refused.ipynb").read_text()
    assert not [login for login in logins if f'"{login}' in refused or f" {login} " in refused]

    con = warehouse.connect("w.duckdb")
    privacy.record_access(con, ACCESS, "period 2026-10; teams: all, with the org overview; identities", "out",
                          period="2026-10")
    con.close()
    papermill.execute_notebook(str(ROOT / "notebooks/00_org_overview.ipynb"), "shown.ipynb", parameters=by_hand,
                               cwd=str(project_cwd), progress_bar=False, kernel_name="python3")
    rows = audit_rows()
    assert rows[-1] == ("render", None, None)  # this render's own row, written before any login was shown
    assert len(rows) == 4
    shown = (project_cwd / "shown.ipynb").read_text()
    assert [login for login in logins if login in shown]  # the reclaim list names the seats' holders
