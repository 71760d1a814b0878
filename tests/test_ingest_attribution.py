"""The attribution kinds (team maps, cost centers, the repository report, billing usage, a pull request's people)
load like every other kind: a file of another kind is refused whole, a malformed line goes to quarantine with its
file and line and the rest loads, each row keeps its raw file and line, and purge's cutoff holds on every ingest."""
from __future__ import annotations

import json
from datetime import date

import pytest

from copilot_finops import retention, warehouse
from copilot_finops.cli import main
from copilot_finops.ingest import ingest_raw
from copilot_finops.params import Retention
from test_ingest import _contents, _write

REPO = {"day": "2026-10-05", "organization_id": "1",
        "repository": {"id": 7, "name": "api", "full_name": "acme/api", "owner": {"login": "acme"}},
        "pull_requests": {"total_created": 3, "total_merged": 2, "total_created_by_copilot": 1}}

from test_ingest_checks import _rows  # noqa: E402


def _ndjson(*records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def _attribution_raw(raw):
    _write(raw / "team-map/2026-10-01.csv", "login,team,cost_center\nana,Payments,CC-1\n\nbo,Payments\n"
                                             "John Smith,Mobile\ncy,\ndee,Mobile,CC-2\n")
    _write(raw / "cost-centers/2026-10-07.json", json.dumps({"costCenters": [
        {"id": "c1", "name": "Alpha", "state": "active", "resources": [{"type": "User", "name": "ana"},
                                                                       {"type": "Repo", "name": "acme/api"}]},
        {"id": "c2", "state": "active", "resources": [{"type": "User", "name": "bo"}]},
        {"id": "c3", "name": "Gone", "state": "deleted", "resources": [{"type": "User", "name": "cy"}]},
        {"id": "c4", "name": "Beta", "resources": {"type": "User"}}]}))
    _write(raw / "metrics/repos-1-day/2026-10-05/part-0.ndjson", _ndjson(
        REPO, '{"day": "2026-10-05", "repository": ', {**REPO, "day": "2026-10-06"},
        {**REPO, "repository": "acme/web", "pull_requests": {"total_merged": -1}},
        {"day": "2026-10-05", "organization_id": "1", "pull_requests": {"total_created": 1}},
        {**REPO, "repository": {"full_name": "acme/web"}}))
    _write(raw / "billing/billing-usage/2026-10.json", json.dumps([{"usageItems": [
        {"date": "2026-10-05T00:00:00Z", "product": "actions", "sku": "actions_linux", "quantity": 12.5,
         "unitType": "minutes", "netAmount": 0.1, "repositoryName": "acme/api", "workflowPath": ".github/ci.yml"},
        {"date": "2026-10-05", "product": "actions", "quantity": "twelve"}]}]))
    _write(raw / "delivery/acme/api/pulls.json", json.dumps([
        {"number": 1, "head": {"ref": "x"}, "user": {"login": "copilot-swe-agent[bot]", "type": "Bot"},
         "assignees": [{"login": "ana"}], "requested_reviewers": [{"login": "bo"}]},
        {"number": 2, "head": {"ref": "y"}, "assignees": "ana"}]))


def test_malformed_lines_are_quarantined_with_file_and_line_and_every_row_keeps_its_source(tmp_path, capsysbinary):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    _attribution_raw(raw)
    summary = ingest_raw(raw, db)
    q = {(p, line): error for p, line, error in _rows(db, "SELECT path, line, error FROM quarantine")}
    assert set(q) == {("team-map/2026-10-01.csv", 5), ("team-map/2026-10-01.csv", 6),
                      ("cost-centers/2026-10-07.json", 2), ("cost-centers/2026-10-07.json", 4),
                      *(("metrics/repos-1-day/2026-10-05/part-0.ndjson", n) for n in (2, 3, 4, 5)),
                      ("billing/billing-usage/2026-10.json", 2), ("delivery/acme/api/pulls.json", 2)}
    assert "login is not a GitHub login" in q[("team-map/2026-10-01.csv", 5)]
    assert "not the day of the report" in q[("metrics/repos-1-day/2026-10-05/part-0.ndjson", 3)]
    assert "must be 0 or more" in q[("metrics/repos-1-day/2026-10-05/part-0.ndjson", 4)]
    assert "quantity must be a number" in q[("billing/billing-usage/2026-10.json", 2)]
    assert "assignees must be a list" in q[("delivery/acme/api/pulls.json", 2)]
    assert summary.lines_quarantined == len(q)
    source = "(SELECT path FROM raw_file WHERE file_id = source_file)"
    assert sorted(_rows(db, f"SELECT source, user_login, team_slug, cost_center, {source}, source_line "
                            "FROM team_assignment")) == [
        ("cost_centers", "ana", "alpha", "Alpha", "cost-centers/2026-10-07.json", 1),
        ("csv", "ana", "payments", "CC-1", "team-map/2026-10-01.csv", 2),
        ("csv", "bo", "payments", None, "team-map/2026-10-01.csv", 4),
        ("csv", "dee", "mobile", "CC-2", "team-map/2026-10-01.csv", 7)]
    assert _rows(db, f"SELECT repo, pr_total_created, pr_total_merged, pr_total_reviewed_by_copilot, {source}, "
                     "source_line FROM repo_day ORDER BY repo") == [
        ("acme/api", 3, 2, None, "metrics/repos-1-day/2026-10-05/part-0.ndjson", 1),
        ("acme/web", 3, 2, None, "metrics/repos-1-day/2026-10-05/part-0.ndjson", 6)]
    assert _rows(db, f"SELECT period, quantity, repository, workflow, {source}, source_line "
                     "FROM billing_usage_item") == [
        ("2026-10", 12.5, "acme/api", ".github/ci.yml", "billing/billing-usage/2026-10.json", 1)]
    assert sorted(_rows(db, "SELECT number, login, role, source_line FROM pull_request_person")) == [
        (1, "ana", "assignee", 1), (1, "bo", "requested_reviewer", 1)]
    # the repository report's line, byte for byte, from the raw zone
    assert main(["show-record", "--kind", "repos-1-day", "--day", "2026-10-05", "--repo", "acme/web",
                 "--warehouse", str(db)]) == 0
    line = (raw / "metrics/repos-1-day/2026-10-05/part-0.ndjson").read_bytes().splitlines()[5]
    assert capsysbinary.readouterr().out == line + b"\n"
    before = _contents(db)
    ingest_raw(raw, db, full=True)
    assert _contents(db) == before  # idempotent


def test_a_changed_team_map_replaces_what_its_earlier_version_loaded(tmp_path):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    path = _write(raw / "team-map/hr-export.csv", "ana,Payments\nbo,Payments\n")
    ingest_raw(raw, db)
    path.write_text("ana,Mobile\n")
    ingest_raw(raw, db)
    assert _rows(db, "SELECT user_login, team_slug, snapshot_day FROM team_assignment") == [
        ("ana", "mobile", date(1970, 1, 1))]  # a map named otherwise applies from the start


@pytest.mark.parametrize("kind, name, content, looks_like", [
    ("organization-1-day", "2026-10-05.ndjson", _ndjson(REPO), "repos-1-day"),
    ("team-map", "teams.json", json.dumps([{"id": 1, "slug": "core"}]), "teams"),
    ("users-1-day", "hr-export.csv", "ana,Payments\n", "team-map"),
    ("billing-usage", "2026-10.json", json.dumps([{"timePeriod": {"year": 2026, "month": 10}, "user": "ana",
                                                    "usageItems": []}]), "ai-credit-usage"),
])
def test_import_refuses_a_file_of_another_kind(tmp_path, capsys, kind, name, content, looks_like):
    src = _write(tmp_path / "downloads" / name, content)
    assert main(["import", "--kind", kind, str(src), "--raw", str(tmp_path / "raw")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and looks_like in err and "nothing was imported" in err
    assert not (tmp_path / "raw").exists()


def test_purge_removes_old_team_maps_and_a_closed_pull_requests_people_and_ingest_keeps_them_out(tmp_path):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    for day, team in (("2025-12-01", "old"), ("2026-01-05", "kept"), ("2026-10-01", "new")):
        _write(raw / f"team-map/{day}.csv", f"ana,{team}\n")
    _write(raw / "delivery/acme/api/pulls.json", json.dumps([
        {"number": n, "head": {"ref": "x"}, "created_at": f"{d}T10:00:00Z", "closed_at": f"{d}T12:00:00Z",
         "merged_at": f"{d}T12:00:00Z", "assignees": [{"login": "ana"}]} for n, d in ((1, "2025-11-03"), (2, "2026-10-20"))]))
    ingest_raw(raw, db)
    con = warehouse.connect(db)
    retention.purge(con, Retention(user_level_days=120, raw_days=400), date(2026, 11, 5))  # cutoff 2026-06-29
    con.close()
    for _ in range(2):  # after the purge and after a full ingest of the raw files that remain
        assert _rows(db, "SELECT team_slug FROM team_assignment ORDER BY snapshot_day") == [("kept",), ("new",)]
        assert _rows(db, "SELECT number FROM pull_request_person") == [(2,)]
        ingest_raw(raw, db, full=True)


def test_the_snapshot_kinds_keep_their_latest_raw_file_before_the_cutoff():
    files = {"team-map/2026-01-05.csv": "team-map", "team-map/2026-03-02.csv": "team-map",
             "cost-centers/2026-02-01.json": "cost-centers", "billing/billing-usage/2026-01.json": "billing-usage",
             "metrics/repos-1-day/2026-01-05/part-0.ndjson": "repos-1-day"}
    assert sorted(retention.expired_raw_files(list(files), date(2026, 6, 29), files)) == [
        "billing/billing-usage/2026-01.json", "metrics/repos-1-day/2026-01-05/part-0.ndjson",
        "team-map/2026-01-05.csv"]
