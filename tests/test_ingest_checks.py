"""What ingest refuses: files of another kind (refused by import, quarantined by ingest), records that break a range
or sanity rule, malformed documents. Each lands in quarantine with the reason and the run goes on."""
from __future__ import annotations

import json
from datetime import date, timedelta

import duckdb
import pytest

from copilot_finops.cli import main
from copilot_finops.ingest import ingest_raw
from test_ingest import _user, _write

TEAM_ROW = {"user_id": 11, "user_login": "tester", "day": "2026-10-05", "organization_id": "1", "team_id": 9,
            "slug": "core"}
ORG_ROW = {"day": "2026-10-05", "organization_id": "1", "daily_active_users": 3, "code_generation_activity_count": 9}


def _rows(db, sql: str) -> list:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _ndjson(*records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


# -- 15.2: the kind of a file -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, content, looks_like", [
    ("users-1-day", _ndjson(TEAM_ROW, {**TEAM_ROW, "user_id": 12}), "user-teams-1-day"),
    ("organization-1-day", _ndjson(_user(), _user(user_id=12)), "users-1-day"),
    ("user-teams-1-day", _ndjson(ORG_ROW), "organization-1-day"),
    ("seats", "[1, 2, 3]", "no kind"),
])
def test_import_refuses_a_file_of_another_kind_and_writes_nothing(tmp_path, capsys, kind, content, looks_like):
    src = _write(tmp_path / "downloads/2026-10-05.json", content)
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    assert main(["import", "--kind", kind, str(src), "--raw", str(raw), "--warehouse", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and looks_like in err and "nothing was imported" in err
    if looks_like != "no kind":
        assert f"--kind {looks_like}" in err  # the fix is named
    assert not raw.exists() and not db.exists()


def test_import_refuses_a_file_that_is_not_json_and_a_snapshot_without_its_day(tmp_path, capsys):
    bad = _write(tmp_path / "notes.txt", "this is not a report\n")
    assert main(["import", "--kind", "users-1-day", str(bad), "--raw", str(tmp_path / "raw")]) == 2
    assert "is not a report file" in capsys.readouterr().err
    seats = _write(tmp_path / "seats.json", json.dumps({"total_seats": 1, "seats": [{"assignee": {"id": 1}}]}))
    assert main(["import", "--kind", "seats", str(seats), "--raw", str(tmp_path / "raw")]) == 2
    assert "YYYY-MM-DD.json" in capsys.readouterr().err and not (tmp_path / "raw").exists()


def test_ingest_quarantines_a_file_of_another_kind_and_keeps_the_days_rows(tmp_path):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    _write(raw / "metrics/users-1-day/2026-10-05/part-0.ndjson", _ndjson(_user(), _user(user_id=12)))
    _write(raw / "metrics/organization-1-day/2026-10-05/part-0.ndjson", _ndjson(ORG_ROW))
    ingest_raw(raw, db)
    before = _rows(db, "SELECT * FROM user_day ORDER BY user_id"), _rows(db, "SELECT * FROM org_day")
    # a user-teams report filed as users, a users report filed as organization: both quarantined whole
    _write(raw / "metrics/users-1-day/2026-10-05/part-1.ndjson", _ndjson(TEAM_ROW))
    _write(raw / "metrics/organization-1-day/2026-10-05/part-1.ndjson", _ndjson(_user()))
    _write(raw / "metrics/user-teams-1-day/2026-10-05/part-0.ndjson", _ndjson(TEAM_ROW))
    summary = ingest_raw(raw, db)
    assert summary.files_ingested == 3 and summary.rows_loaded == 1  # the real user-teams file still loads
    assert (_rows(db, "SELECT * FROM user_day ORDER BY user_id"), _rows(db, "SELECT * FROM org_day")) == before
    errors = dict(_rows(db, "SELECT path, error FROM quarantine WHERE line = 0"))
    assert "look like user-teams-1-day" in errors["metrics/users-1-day/2026-10-05/part-1.ndjson"]
    assert "look like users-1-day" in errors["metrics/organization-1-day/2026-10-05/part-1.ndjson"]


# -- 15.3: range and sanity rules ---------------------------------------------------------------------------------------
def test_records_breaking_a_rule_are_quarantined_with_the_rule_and_the_rest_load(tmp_path):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    future = (date.today() + timedelta(days=30)).isoformat()
    feature = [{"feature": "code_completion", "code_generation_activity_count": -4}]
    lines = [_user(user_id=1), _user(user_id=2, ai_credits_used=-50000), _user(user_id=3, day="2026-10-06"),
             _user(user_id=-5), _user(user_id=4, loc_added_sum=-1), _user(user_id=6, user_login="bad login<x>"),
             _user(user_id=7, totals_by_feature=feature), _user(user_id=8, ai_credits_used=12.5)]
    text = _ndjson(*lines)
    _write(raw / "metrics/users-1-day/2026-10-05/part-0.ndjson", text)
    _write(raw / f"metrics/users-1-day/{future}/part-0.ndjson", _ndjson(_user(day=future)))
    _write(raw / "metrics/user-teams-1-day/2026-10-05/part-0.ndjson",
           _ndjson(TEAM_ROW, {**TEAM_ROW, "user_id": 12, "team_id": 0}))
    summary = ingest_raw(raw, db)
    assert summary.batches_typed >= 1  # clean JSON: the fast parse read it, the rules still applied
    assert _rows(db, "SELECT list(user_id ORDER BY user_id) FROM user_day")[0][0] == [1, 8]
    assert _rows(db, "SELECT list(user_id) FROM user_team_day")[0][0] == [11]
    q = {(p, line): (error, raw_text) for p, line, error, raw_text in
         _rows(db, "SELECT path, line, error, raw_text FROM quarantine")}
    day = "metrics/users-1-day/2026-10-05/part-0.ndjson"
    assert "ai_credits_used must be a finite number, 0 or more (found -50000" in q[(day, 2)][0]
    assert "is not the day of the report it sits in (2026-10-05)" in q[(day, 3)][0]
    assert "user_id must be a positive integer (found -5)" in q[(day, 4)][0]
    assert "loc_added_sum must be 0 or more" in q[(day, 5)][0]
    assert "not a GitHub login" in q[(day, 6)][0]
    assert "totals_by_feature[] counters must be 0 or more" in q[(day, 7)][0]
    assert "is in the future" in q[(f"metrics/users-1-day/{future}/part-0.ndjson", 1)][0]
    assert "team_id must be a positive integer" in q[("metrics/user-teams-1-day/2026-10-05/part-0.ndjson", 2)][0]
    assert q[(day, 2)][1] == text.splitlines()[1]  # the raw text is the line, read back from the file


def test_a_value_that_is_not_a_number_is_not_loaded_as_missing(tmp_path):
    """DuckDB's reader refuses such a file, and the line-by-line parse would read "x" as NULL: the rule says so."""
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    _write(raw / "metrics/users-1-day/2026-10-05/part-0.ndjson",
           _ndjson(_user(user_id=1, ai_credits_used="x"), _user(user_id=2, loc_added_sum="twelve"), _user(user_id=3)))
    summary = ingest_raw(raw, db)
    assert summary.batches_line_by_line == 1
    assert _rows(db, "SELECT user_id FROM user_day") == [(3,)]
    assert _rows(db, "SELECT line, error FROM quarantine ORDER BY line") == [
        (1, 'ai_credits_used must be a number (found "x")'), (2, 'loc_added_sum must be a number (found "twelve")')]


def test_a_28_day_report_keeps_to_its_own_window(tmp_path):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    window = {"report_start_day": "2026-09-08", "report_end_day": "2026-10-05"}
    _write(raw / "metrics/users-28-day/2026-10-05/part-0.ndjson",
           _ndjson({**_user(day="2026-09-20"), **window}, {**_user(day="2026-09-01"), **window}))
    ingest_raw(raw, db)
    assert _rows(db, "SELECT day::VARCHAR FROM user_day") == [("2026-09-20",)]
    assert "outside the report's window, 2026-09-08 to 2026-10-05" in _rows(db, "SELECT error FROM quarantine")[0][0]


# -- 15.4: malformed documents ------------------------------------------------------------------------------------------
def test_malformed_documents_are_quarantined_with_path_and_reason_and_every_later_ingest_runs(tmp_path):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    seat = {"assignee": {"login": "a", "id": 1}, "plan_type": "business"}
    _write(raw / "seats/2026-10-04.json", "[1, 2, 3]")
    _write(raw / "seats/2026-10-05.json", json.dumps([{"total_seats": 2, "seats": [seat, {"assignee": {"id": "x7"}}]}]))
    _write(raw / "teams/2026-10-05.json", json.dumps([{"id": 9, "slug": "core", "members": [{"id": 1, "login": "a"}]},
                                                      {"id": "nine", "slug": "edge"}]))
    _write(raw / "billing/ai-credit-usage/2026-10.json", json.dumps([
        {"user": "a", "usageItems": [{"model": "m", "sku": "s", "product": "p", "grossQuantity": 3}]},
        {"user": "b", "usageItems": [{"model": "m", "sku": "s", "product": "p", "grossQuantity": "three"}]}]))
    _write(raw / "delivery/o/r/pulls.json", json.dumps([{"number": 1, "head": {"ref": "x"}}, {"number": "one", "head": {}}]))
    _write(raw / "delivery/o/r/reviews.json", json.dumps({"message": "Not Found"}))
    _write(raw / "delivery/o/r/deployments.json", json.dumps([[{"id": 5, "sha": "abc"}], "garbage"]))
    for _ in range(2):  # the second run reads nothing new and must not fail either
        ingest_raw(raw, db, full=True)
    assert _rows(db, "SELECT user_id FROM seat") == [(1,)]
    assert _rows(db, "SELECT team_id FROM team") == [(9,)] and _rows(db, "SELECT user_id FROM team_member") == [(1,)]
    assert _rows(db, "SELECT user_login, gross_quantity FROM credit_usage") == [("a", 3.0)]
    assert _rows(db, "SELECT number FROM pull_request") == [(1,)] and _rows(db, "SELECT deployment_id FROM deployment") == [(5,)]
    q = {(p, line): error for p, line, error in _rows(db, "SELECT path, line, error FROM quarantine")}
    assert "match no kind" in q[("seats/2026-10-04.json", 0)]
    assert "assignee.id must be a positive integer" in q[("seats/2026-10-05.json", 2)]
    assert "id must be a positive integer (found \"nine\")" in q[("teams/2026-10-05.json", 2)]
    assert "grossQuantity must be a number" in q[("billing/ai-credit-usage/2026-10.json", 2)]
    assert "number must be a positive integer" in q[("delivery/o/r/pulls.json", 2)]
    assert "are not reviews records" in q[("delivery/o/r/reviews.json", 0)]
    assert "deployment is not a JSON object" in q[("delivery/o/r/deployments.json", 2)]


def test_a_document_the_loaders_did_not_foresee_is_quarantined_and_the_others_of_its_kind_load(tmp_path, monkeypatch):
    """The safety net under the element checks: a loader error on one file (simulated: no real input is known to
    reach one) sends that file to quarantine, the kind's other files load, each in its own transaction, and so do
    the other kinds read in the same transaction."""
    from copilot_finops.ingest import documents

    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    for day, team in (("2026-10-04", 9), ("2026-10-05", 10), ("2026-10-06", 11)):
        _write(raw / f"teams/{day}.json", json.dumps([{"id": team, "slug": f"t{team}"}]))
    _write(raw / "seats/2026-10-05.json", json.dumps([{"seats": [{"assignee": {"login": "a", "id": 1}}]}]))
    _write(raw / "delivery/o/r/pulls.json", json.dumps([{"number": 1, "head": {"ref": "x"}}]))
    real = documents._teams

    def flaky(con, f, items, file_id):
        if f.path.name.startswith("2026-10-05"):
            raise TypeError("an unforeseen shape")
        return real(con, f, items, file_id)

    monkeypatch.setattr(documents, "_teams", flaky)
    summary = ingest_raw(raw, db)
    assert summary.files_ingested == 5 and summary.rows_loaded == 4 and summary.lines_quarantined == 1
    assert _rows(db, "SELECT team_id FROM team ORDER BY 1") == [(9,), (11,)]
    assert _rows(db, "SELECT user_id FROM seat") == [(1,)] and _rows(db, "SELECT number FROM pull_request") == [(1,)]
    assert _rows(db, "SELECT path, error FROM quarantine") == [
        ("teams/2026-10-05.json", "could not be read as teams: TypeError: an unforeseen shape")]


def test_delivery_fields_for_patterns_load_and_a_wrong_shape_quarantines_its_element(tmp_path):
    """Labels, author type and description of pull requests, what each file's patch writes, and who opened and
    worked an incident reach the warehouse (and the incident duty days read from them); an element holding one
    of them in another shape is quarantined."""
    from copilot_finops.ingest.documents import patch_sketch
    from copilot_finops.params import OrgParams
    from copilot_finops.patterns import duty

    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    patch = "@@ -1 +1 @@\n-old\n+retryWithBackoff(maxAttempts)"
    _write(raw / "delivery/o/r/pulls.json", json.dumps([
        {"number": 1, "head": {"ref": "x"}, "user": {"login": "renovate[bot]", "id": 3, "type": "Bot"},
         "labels": [{"name": "dependencies"}, "chore"], "title": "Bump", "body": "Fixes #7"},
        {"number": 2, "head": {"ref": "y"}, "labels": "dependencies"},
        {"number": 3, "head": {"ref": "z"}, "user": {"login": "dev", "id": 4, "type": "User"}, "title": "Retry",
         "body": "Restores the queue, see #7", "created_at": "2026-10-07T10:00:00Z"}]))
    _write(raw / "delivery/o/r/pull-files.json", json.dumps([
        {"number": 1, "files": [{"filename": "a.py", "patch": patch}, {"filename": "logo.png"}]},
        {"number": 2, "files": [{"filename": "b.py", "patch": 42}]}]))
    _write(raw / "delivery/o/r/issues.json", json.dumps([
        {"number": 7, "title": "Outage", "user": {"login": "ana"}, "assignee": {"login": "bo"},
         "assignees": [{"login": "cy"}, {"login": "bo"}], "labels": [{"name": "incident"}],
         "created_at": "2026-10-06T09:00:00Z", "closed_at": "2026-10-06T18:00:00Z"},
        {"number": 8, "title": "Slow", "assignees": "bo"}]))
    ingest_raw(raw, db)
    assert _rows(db, "SELECT number, author_type, labels, body FROM pull_request ORDER BY 1") == [
        (1, "Bot", ["dependencies", "chore"], "Fixes #7"), (3, "User", [], "Restores the queue, see #7")]
    assert _rows(db, "SELECT filename, patch_sketch FROM pull_request_file ORDER BY 1") == [
        ("a.py", patch_sketch(patch)), ("logo.png", None)]
    assert patch_sketch(patch)  # the added line's words, not nothing
    assert _rows(db, "SELECT number, author_login, assignees FROM incident") == [(7, "ana", ["bo", "cy"])]
    q = {(p, line): error for p, line, error in _rows(db, "SELECT path, line, error FROM quarantine")}
    assert "labels must be a list" in q[("delivery/o/r/pulls.json", 2)]
    assert "files[].patch of b.py must be text" in q[("delivery/o/r/pull-files.json", 2)]
    assert "assignees must be a list of user objects" in q[("delivery/o/r/issues.json", 2)]
    assert len(q) == 3
    con = duckdb.connect(str(db), read_only=True)
    try:  # Tuesday to Thursday: no weekend stretch is added around them
        days = duty.duty_days(con, OrgParams(org="o"), date(2026, 10, 5), date(2026, 10, 9))
    finally:
        con.close()
    assert set(days.itertuples(index=False, name=None)) == {
        ("ana", date(2026, 10, 6), "incident"), ("bo", date(2026, 10, 6), "incident"),
        ("cy", date(2026, 10, 6), "incident"), ("dev", date(2026, 10, 7), "incident fix")}
