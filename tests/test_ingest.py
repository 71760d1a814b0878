"""Ingest: counts against the generator, tolerance of real-world files, quarantine, idempotence."""
from __future__ import annotations

import gzip
import json
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from copilot_finops import warehouse
from copilot_finops.cli import main
from copilot_finops.ingest import ingest_raw
from copilot_finops.ingest.provenance import read_lines, source_record

USER = {"user_id": 11, "user_login": "tester", "day": "2026-10-05", "organization_id": "1",
        "user_initiated_interaction_count": 3, "code_generation_activity_count": 9,
        "code_acceptance_activity_count": 4, "loc_suggested_to_add_sum": 30, "loc_suggested_to_delete_sum": 0,
        "loc_added_sum": 20, "loc_deleted_sum": 2, "used_chat": True, "used_cli": False,
        "totals_by_feature": [
            {"feature": "code_completion", "code_generation_activity_count": 6, "code_acceptance_activity_count": 4},
            {"feature": "agent_edit", "code_generation_activity_count": 3, "code_acceptance_activity_count": 0}]}


def _user(**changes) -> dict:
    return {**USER, **changes}


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _contents(db: Path, exclude: tuple[str, ...] = ()) -> dict[str, tuple[int, str]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: warehouse.table_digest(con, t, exclude=("quarantined_at", *exclude))
                for t in warehouse.table_names(con) if t not in warehouse.RUN_LOG_TABLES}
    finally:
        con.close()


def test_counts_match_the_generator(small_demo):
    con = duckdb.connect(str(small_demo.warehouse), read_only=True)
    manifest = [json.loads(line) for line in (small_demo.raw / "manifest.jsonl").read_text().splitlines()]
    rows = {}
    for m in manifest:
        rows[m["kind"]] = rows.get(m["kind"], 0) + m["rows"]
    assert con.execute("SELECT count(*) FROM user_day").fetchone()[0] == small_demo.user_day_records == rows["users-1-day"]
    assert con.execute("SELECT count(*) FROM user_team_day").fetchone()[0] == rows["user-teams-1-day"]
    assert con.execute("SELECT count(*) FROM org_day").fetchone()[0] == rows["organization-1-day"] == 62
    assert con.execute("SELECT count(*) FROM pull_request").fetchone()[0] == rows["pulls"]
    assert con.execute("SELECT count(*) FROM deployment").fetchone()[0] == rows["deployments"]
    assert con.execute("SELECT count(*) FROM incident").fetchone()[0] == rows["issues"]
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
    # totals survive the trip: the org report's counters equal the sum of the user records
    org, users = con.execute("""SELECT (SELECT sum(code_generation_activity_count) FROM org_day),
                                       (SELECT sum(code_generation_activity_count) FROM user_day)""").fetchone()
    assert org == users > 0
    raw_credits = sum(json.loads(line).get("ai_credits_used", 0)
                      for p in (small_demo.raw / "metrics" / "users-1-day").rglob("*.ndjson")
                      for line in p.read_text().splitlines())
    assert con.execute("SELECT sum(ai_credits_used) FROM user_day").fetchone()[0] == pytest.approx(raw_credits)
    # every row names the raw line it came from, and that line is the record, fields no column holds included
    rows = con.execute("""SELECT f.path, u.source_line, u.user_id, u.day::VARCHAR FROM user_day u
                          JOIN raw_file f ON f.file_id = u.source_file USING SAMPLE 20 ROWS""").fetchall()
    assert con.execute("SELECT count(*) FROM user_day WHERE source_file IS NULL OR source_line IS NULL").fetchone()[0] == 0
    for path, line, user_id, day in rows:
        rec = json.loads(read_lines(small_demo.raw / path, {line})[line])
        assert (rec["user_id"], rec["day"]) == (user_id, day)
        assert "etl_id" in rec and "totals_by_language_model" in rec
    # the demo's fields are all known: a parser reads them or they are left in the raw zone on purpose
    assert con.execute("SELECT count(*) FROM unknown_field").fetchone()[0] == 0


def test_reingest_changes_nothing(small_demo, tmp_path):
    db = tmp_path / "w.duckdb"
    shutil.copy(small_demo.warehouse, db)
    before = _contents(db)
    again = ingest_raw(small_demo.raw, db)
    assert again.files_ingested == 0 and again.files_unchanged == again.files_seen
    full = ingest_raw(small_demo.raw, db, full=True)
    assert full.files_ingested == full.files_seen
    assert _contents(db) == before


def test_a_new_day_ingested_into_a_warehouse_gives_what_one_ingest_of_everything_gives(small_demo, tmp_path):
    """The daily increment: a warehouse of every day but the last reads only the last day's files, and ends up
    exactly as the warehouse built from the whole raw zone at once."""
    last = "2026-10-31"
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    shutil.copytree(small_demo.raw, raw, ignore=lambda folder, names: [n for n in names if n.startswith(last)])
    first = ingest_raw(raw, db)
    new = [p for p in small_demo.raw.rglob("*") if p.is_file() and last in p.relative_to(small_demo.raw).as_posix()]
    assert {p.parts[-3] if p.parent.name == last else p.parts[-2] for p in new} >= {
        "users-1-day", "user-teams-1-day", "organization-1-day", "seats", "teams"}
    for p in new:
        (raw / p.relative_to(small_demo.raw)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, raw / p.relative_to(small_demo.raw))
    increment = ingest_raw(raw, db)
    assert increment.files_ingested == len(new) and increment.files_unchanged == first.files_seen
    # the same rows, from the same lines (file ids are numbered in the order files were first read)
    assert _contents(db, ("source_file",)) == _contents(small_demo.warehouse, ("source_file",))


def test_broken_lines_are_quarantined_and_the_rest_loads(tmp_path):
    raw = tmp_path / "raw"
    good = [_user(user_id=i) for i in range(1, 5)]
    lines = [json.dumps(good[0]), '{"user_id": 2, "day": "2026-10-05", oops', json.dumps(good[1]),
             json.dumps({"user_login": "no-id", "day": "2026-10-05"}), json.dumps(good[2]), "[1, 2]",
             json.dumps(good[3])[:40]]
    _write(raw / "metrics/users-1-day/2026-10-05/part-0.ndjson", "\n".join(lines) + "\n")
    summary = ingest_raw(raw, tmp_path / "w.duckdb")
    assert summary.lines_quarantined == 4
    assert (summary.batches_typed, summary.batches_line_by_line) == (0, 1)  # DuckDB's reader refuses the file
    assert summary.quarantined_files == ["metrics/users-1-day/2026-10-05/part-0.ndjson"]
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert sorted(r[0] for r in con.execute("SELECT user_id FROM user_day").fetchall()) == [1, 2, 3]
    q = con.execute("SELECT line, error, raw_text FROM quarantine ORDER BY line").fetchall()
    assert [r[0] for r in q] == [2, 4, 6, 7]
    assert "invalid JSON" in q[0][1] and "user_id" in q[1][1] and q[2][1] == "not a JSON object"
    assert q[3][2].startswith('{"user_id": 4')
    con.close()
    # rerun: the same file is unchanged, nothing is duplicated
    ingest_raw(raw, tmp_path / "w.duckdb", full=True)
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 4
    assert con.execute("SELECT count(*) FROM user_day").fetchone()[0] == 3


def test_tolerates_gzip_bom_crlf_arrays_renames_and_missing_breakdowns(tmp_path):
    raw = tmp_path / "raw"
    _write(raw / "metrics/users-1-day/2026-10-01/part-0.ndjson.gz",
           gzip.compress((json.dumps(_user(user_id=1, day="2026-10-01")) + "\n").encode()))
    _write(raw / "metrics/users-1-day/2026-10-02/part-0.ndjson",
           b"\xef\xbb\xbf" + (json.dumps(_user(user_id=1, day="2026-10-02")) + "\r\n"
                              + json.dumps(_user(user_id=2, day="2026-10-02")) + "\r\n").encode())
    _write(raw / "metrics/users-1-day/2026-10-03/part-0.ndjson",
           json.dumps([_user(user_id=1, day="2026-10-03", used_copilot_coding_agent=True),
                       _user(user_id=2, day="2026-10-03", brand_new_field={"x": 1})], indent=2))
    stripped = {k: v for k, v in _user(user_id=3, day="2026-10-03").items() if not k.startswith("totals_by")}
    _write(raw / "somewhere/else/users-1-day/extra.ndjson", json.dumps(stripped) + "\n")
    summary = ingest_raw(raw, tmp_path / "w.duckdb")
    assert summary.lines_quarantined == 0
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM user_day").fetchone()[0] == 6
    # the record read back is the line itself, without the byte-order mark or the carriage return; from a gzip
    # file, inflated; from a JSON array body, the element's own text
    rec = source_record(con, "users-1-day", day="2026-10-02", user="1")
    assert rec.text == json.dumps(_user(user_id=1, day="2026-10-02")).encode() and rec.exact
    assert source_record(con, "users-1-day", day="2026-10-01", user="1").text == json.dumps(
        _user(user_id=1, day="2026-10-01")).encode()
    assert con.execute("SELECT used_copilot_cloud_agent FROM user_day WHERE user_id = 1 AND day = '2026-10-03'").fetchone()[0] is True
    rec = source_record(con, "users-1-day", day="2026-10-03", user="2")
    assert json.loads(rec.text)["brand_new_field"] == {"x": 1} and rec.line == 2
    # the new field is counted where it appeared (both records of that file are sampled)
    assert con.execute("SELECT kind, day::VARCHAR, field, records_seen, records_sampled FROM unknown_field").fetchall() == [
        ("users-1-day", "2026-10-03", "brand_new_field", 1, 2)]
    # accepted-output ratio leaves agent_edit out: 4 / 6, not 4 / 9
    g, a = con.execute("""SELECT generations_excl_agent_edit, acceptances_excl_agent_edit FROM stg_user_day_usage
                          WHERE user_id = 1 AND day = '2026-10-01'""").fetchone()
    assert (g, a) == (6, 4)


def test_a_new_field_in_a_later_list_item_is_found_though_the_items_share_their_keys():
    """Items of one list mostly share their keys, and the walk reads an item of a known shape only for what nests
    below it: a field new in the second day's pull_requests must still show, and nothing else."""
    from copilot_finops.ingest.schemas import unknown_fields

    def day(d: str, **extra) -> dict:
        return {"day": d, "daily_active_users": 3, "pull_requests": {"total_created": 1, **extra}}

    record = {"organization_id": "1", "report_start_day": "2026-10-01", "report_end_day": "2026-10-28",
              "day_totals": [day("2026-10-01"), day("2026-10-02", total_brand_new=2), day("2026-10-03")]}
    assert unknown_fields("organization-28-day", record) == {"day_totals[].pull_requests.total_brand_new"}
    record["day_totals"][1]["pull_requests"] = {"total_created": 1}
    assert unknown_fields("organization-28-day", record) == set()


def test_the_fast_and_the_line_by_line_parse_load_the_same_warehouse(small_demo, tmp_path, monkeypatch):
    """DuckDB's JSON reader parses clean files whole; the line-by-line path is the fallback. Both must
    load exactly the same rows, so forcing the fallback on the demo org must change nothing."""
    from copilot_finops.ingest import run as ingest_run

    fast = ingest_raw(small_demo.raw, tmp_path / "fast.duckdb")
    assert fast.batches_typed > 0 and fast.batches_line_by_line == 0
    monkeypatch.setattr(ingest_run.Ingestor, "_parse_typed", lambda self, kind, files, con, table: None)
    careful = ingest_raw(small_demo.raw, tmp_path / "careful.duckdb")
    assert careful.batches_typed == 0 and careful.batches_line_by_line == fast.batches_typed
    assert _contents(tmp_path / "fast.duckdb") == _contents(tmp_path / "careful.duckdb")


def test_batches_parsed_ahead_load_what_one_batch_of_everything_loads(small_demo, tmp_path, monkeypatch):
    """A thread parses the next batch while the one before loads: with a file a batch (so every batch but the
    first was parsed ahead), the warehouse must be the one a single batch of each kind gives."""
    from copilot_finops.ingest import reports as ingest_reports

    monkeypatch.setattr(ingest_reports, "BATCH_BYTES", 1 << 60)
    whole = ingest_raw(small_demo.raw, tmp_path / "whole.duckdb")
    monkeypatch.setattr(ingest_reports, "BATCH_BYTES", 1)
    ahead = ingest_raw(small_demo.raw, tmp_path / "ahead.duckdb")
    assert ahead.batches_typed > 10 * whole.batches_typed and ahead.batches_line_by_line == 0
    assert _contents(tmp_path / "whole.duckdb") == _contents(tmp_path / "ahead.duckdb")


def test_bytes_that_are_not_utf8_cost_only_their_line(tmp_path):
    """DuckDB refuses a batch holding bytes that are not UTF-8; the batch is read again with them replaced, so the
    file's other lines load and the broken one is quarantined with its number and its text."""
    raw = tmp_path / "raw"
    broken = json.dumps(_user(user_id=2, user_login="caf\u00e9")).encode().replace(b"\\u00e9", b"\xe9")
    _write(raw / "metrics/users-1-day/2026-10-05/part-0.ndjson",
           json.dumps(_user(user_id=1)).encode() + b"\n" + broken + b"\n" + json.dumps(_user(user_id=3)).encode())
    summary = ingest_raw(raw, tmp_path / "w.duckdb")
    assert summary.by_kind["users-1-day"] == 2 and summary.lines_quarantined == 1
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("SELECT list(user_id ORDER BY user_id) FROM user_day").fetchone()[0] == [1, 3]
    line, error, text = con.execute("SELECT line, error, raw_text FROM quarantine").fetchone()
    assert line == 2 and "user_login" in error and '"caf\ufffd"' in text


def test_a_whitespace_line_is_skipped_not_quarantined(tmp_path):
    raw = tmp_path / "raw"
    _write(raw / "metrics/users-1-day/2026-10-05/part-0.ndjson",
           json.dumps(_user(user_id=1)) + "\n   \t\n\n" + json.dumps(_user(user_id=2)) + "\n")
    summary = ingest_raw(raw, tmp_path / "w.duckdb")
    assert summary.lines_quarantined == 0 and summary.by_kind["users-1-day"] == 2
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("SELECT list(user_id ORDER BY user_id) FROM user_day").fetchone()[0] == [1, 2]


def test_a_newer_file_replaces_rows_by_natural_key(tmp_path):
    raw = tmp_path / "raw"
    _write(raw / "metrics/users-1-day/2026-10-05/part-0.ndjson", json.dumps(_user(loc_added_sum=20)) + "\n")
    ingest_raw(raw, tmp_path / "w.duckdb")
    _write(raw / "metrics/users-1-day/2026-10-05/part-0.ndjson", json.dumps(_user(loc_added_sum=25)) + "\n")
    ingest_raw(raw, tmp_path / "w.duckdb")
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("SELECT count(*), max(loc_added_sum) FROM user_day").fetchone() == (1, 25)
    assert con.execute("SELECT count(*) FROM user_day_feature").fetchone()[0] == 2


@pytest.mark.parametrize("careful", [False, True], ids=["fast parse", "line-by-line parse"])
def test_breakdown_items_naming_one_key_twice_are_summed_into_one_row(tmp_path, monkeypatch, careful):
    if careful:  # the line-by-line path, as when DuckDB's reader refuses a batch
        monkeypatch.setattr("copilot_finops.ingest.reports.ReportLoader._parse_typed", lambda *a: False)
    repeated = [{"feature": "code_completion", "code_generation_activity_count": 6},
                {"feature": "agent_edit", "code_generation_activity_count": 3},
                {"feature": "code_completion", "code_generation_activity_count": 1},
                {"code_generation_activity_count": 2}, {"feature": "unknown", "code_generation_activity_count": 5}]
    lines = [_user(user_id=1), _user(user_id=2, totals_by_feature=repeated),
             _user(user_id=3, totals_by_ide=[{"ide": "vscode", "code_generation_activity_count": 4},
                                             {"ide": "vscode", "code_generation_activity_count": 5}])]
    raw = tmp_path / "raw"
    _write(raw / "metrics/users-1-day/2026-10-05/part-0.ndjson", "".join(json.dumps(u) + "\n" for u in lines))
    ingest_raw(raw, tmp_path / "w.duckdb")
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    features = con.execute("""SELECT user_id, feature, code_generation_activity_count FROM user_day_feature
                              ORDER BY ALL""").fetchall()
    assert features == [(1, "agent_edit", 3), (1, "code_completion", 6),
                        (2, "agent_edit", 3), (2, "code_completion", 7), (2, "unknown", 7),
                        (3, "agent_edit", 3), (3, "code_completion", 6)]
    assert con.execute("SELECT user_id, ide, code_generation_activity_count FROM user_day_ide").fetchall() == [
        (3, "vscode", 9)]


def test_documents_of_a_kind_read_in_one_run_load_as_read_one_run_each(tmp_path):
    """A run writes the documents of a kind together; the tables end as if each file had been read in a run of its
    own, in load order: a later snapshot of a pull request's files replaces its list whole, a second snapshot of a
    day replaces the day's roster, and people no longer on a pull request are gone."""
    def pull(number, **extra):
        return {"number": number, "head": {"ref": "x"}, **extra}

    def person(login):
        return {"login": login}

    seat = {"assignee": {"login": "a", "id": 1}, "plan_type": "business"}
    files = [  # in load order
        ("delivery/o/r/pulls.json", [pull(1, assignees=[person("ann"), person("bob")]), pull(2, title="two")]),
        ("delivery/o/r/pulls-2026-10-05.json", [pull(1, assignees=[person("ann")]), pull(3)]),
        ("delivery/o/r/pulls-2026-10-06.json", [pull(2, title="two, retitled"), pull(1, assignees=[])]),
        ("delivery/o/r/pull-files.json", [{"number": 1, "files": [{"filename": "a.py"}, {"filename": "b.py"}]},
                                          {"number": 2, "files": [{"filename": "c.py", "patch": "+fooBar"}]}]),
        ("delivery/o/r/pull-files-2026-10-05.json", [{"number": 1, "files": [{"filename": "a.py", "additions": 3}]}]),
        ("delivery/o/r/reviews.json", [{"id": 7, "pull_number": 1, "state": "COMMENTED"}]),
        ("delivery/o/r/reviews-2026-10-05.json", [{"id": 7, "pull_number": 1, "state": "APPROVED"},
                                                  {"id": 8, "pull_number": 2, "state": "APPROVED"}]),
        ("seats/2026-10-05.json", [{"total_seats": 2, "seats": [seat, {**seat, "assignee": {"login": "b", "id": 2}}]}]),
        ("seats/2026-10-05.json.gz", [{"total_seats": 1, "seats": [{**seat, "plan_type": "enterprise"}]}]),
        ("seats/2026-10-06.json", [{"total_seats": 0, "seats": []}]),
    ]
    together, one_by_one = tmp_path / "together", tmp_path / "one_by_one"
    for rel, doc in files:
        text = json.dumps(doc)
        _write(together / "raw" / rel, gzip.compress(text.encode()) if rel.endswith(".gz") else text)
    summary = ingest_raw(together / "raw", together / "w.duckdb")
    assert summary.files_ingested == len(files) and summary.lines_quarantined == 0
    for rel, _ in files:
        _write(one_by_one / "raw" / rel, (together / "raw" / rel).read_bytes())
        assert ingest_raw(one_by_one / "raw", one_by_one / "w.duckdb").files_ingested == 1
    # the same rows from the same lines (file ids are numbered in the order files were first read)
    assert _contents(together / "w.duckdb", ("source_file",)) == _contents(one_by_one / "w.duckdb", ("source_file",))
    con = duckdb.connect(str(together / "w.duckdb"), read_only=True)
    assert con.execute("SELECT number, title FROM pull_request ORDER BY 1").fetchall() == [
        (1, None), (2, "two, retitled"), (3, None)]
    assert con.execute("SELECT count(*) FROM pull_request_person").fetchone()[0] == 0
    assert con.execute("SELECT number, filename, additions FROM pull_request_file ORDER BY 1, 2").fetchall() == [
        (1, "a.py", 3), (2, "c.py", None)]
    assert con.execute("SELECT review_id, state FROM review ORDER BY 1").fetchall() == [(7, "APPROVED"), (8, "APPROVED")]
    assert con.execute("SELECT snapshot_day::VARCHAR, user_id, plan_type FROM seat").fetchall() == [
        ("2026-10-05", 1, "enterprise")]


def _pull_files(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT number, filename, additions, patch_sketch FROM pull_request_file "
                           "ORDER BY 1, 2").fetchall()
    finally:
        con.close()


def test_a_file_list_fetched_again_unchanged_is_left_as_it_is_and_full_writes_it_again(tmp_path):
    """A daily fetch brings every pull request of its window again: an unchanged file list keeps its rows (no new
    sketch, no delete and insert), a changed one is replaced, and `ingest --full` writes them all again."""
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    one = {"number": 1, "files": [{"filename": "a.py", "additions": 1, "patch": "+retryWithBackoff()"}]}
    two = {"number": 2, "files": [{"filename": "b.py", "additions": 2}]}
    _write(raw / "delivery/o/r/pull-files.json", json.dumps([one, two]))
    ingest_raw(raw, db)
    written = _pull_files(db)
    assert written[0][3] and written[1][3] is None  # the patch's sketch; no patch, no sketch
    con = duckdb.connect(str(db))
    con.execute("UPDATE pull_request_file SET patch_sketch = [42] WHERE number = 1")  # to see whether it is written
    con.close()
    _write(raw / "delivery/o/r/pull-files-2026-10-05.json",
           json.dumps([one, {**two, "files": [{"filename": "b.py", "additions": 5}]}]))
    assert ingest_raw(raw, db).files_ingested == 1
    assert _pull_files(db) == [(1, "a.py", 1, [42]), (2, "b.py", 5, None)]
    ingest_raw(raw, db, full=True)
    assert _pull_files(db) == [written[0], (2, "b.py", 5, None)]


def test_a_file_list_changed_and_changed_back_in_one_run_ends_as_the_last_file_has_it(tmp_path):
    """The digests are compared with what the table holds after the run's files are merged: a list that one snapshot
    changes and a later one of the same run changes back ends as the later one has it, as file-by-file loading does."""
    lists = {"pull-files.json": ["a.py", "b.py"], "pull-files-2026-10-05.json": ["a.py"],
             "pull-files-2026-10-06.json": ["a.py", "b.py"]}
    together, one_by_one = tmp_path / "together", tmp_path / "one_by_one"
    for i, (name, names) in enumerate(lists.items()):
        text = json.dumps([{"number": 1, "files": [{"filename": n, "patch": f"+{n[0]}Name"} for n in names]}])
        for root in (together, one_by_one):
            _write(root / "raw/delivery/o/r" / name, text)
        assert ingest_raw(one_by_one / "raw", one_by_one / "w.duckdb").files_ingested == 1
        if i == 0:
            ingest_raw(together / "raw", together / "w.duckdb")
    assert ingest_raw(together / "raw", together / "w.duckdb").files_ingested == 2
    assert [row[1] for row in _pull_files(together / "w.duckdb")] == ["a.py", "b.py"]
    assert _contents(together / "w.duckdb", ("source_file",)) == _contents(one_by_one / "w.duckdb", ("source_file",))


def _pr(number: int, title: str) -> dict:
    return {"number": number, "title": title, "user": {"login": "a", "id": 1}, "state": "open",
            "created_at": "2026-10-01T10:00:00Z", "labels": [{"name": "bug"}], "head": {"ref": "fix", "sha": "abc"}}


def _review(review_id: int, number: int, state: str) -> dict:
    return {"id": review_id, "user": {"login": "b", "id": 2}, "state": state, "submitted_at": "2026-10-02T10:00:00Z",
            "pull_request_url": f"https://api.github.com/repos/o/r/pulls/{number}"}


def _files(number: int, name: str) -> dict:
    return {"number": number, "files": [{"filename": name, "status": "modified", "additions": 1, "deletions": 0}]}


def _delivery(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {"pulls": con.execute("SELECT p.number, p.title, p.body, f.path, p.source_line FROM pull_request p "
                                     "JOIN raw_file f ON f.file_id = p.source_file ORDER BY 1").fetchall(),
                "reviews": con.execute("SELECT review_id, state, commit_id FROM review ORDER BY 1").fetchall(),
                "files": con.execute("SELECT number, filename, status FROM pull_request_file ORDER BY 1, 2").fetchall()}
    finally:
        con.close()


def test_elements_served_again_byte_for_byte_are_not_built_again(tmp_path):
    """A daily fetch brings again pull requests, reviews and file lists the warehouse holds as served: their rows
    stand as they are (their provenance the file that served them first), a changed element replaces its rows,
    and `ingest --full` builds every element again."""
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    _write(raw / "delivery/o/r/pulls.json", json.dumps([_pr(1, "one"), _pr(2, "two")]))
    _write(raw / "delivery/o/r/reviews.json", json.dumps([_review(7, 1, "COMMENTED"), _review(8, 2, "APPROVED")]))
    _write(raw / "delivery/o/r/pull-files.json", json.dumps([_files(1, "a.py"), _files(2, "b.py")]))
    assert ingest_raw(raw, db).elements_unchanged == 0
    con = duckdb.connect(str(db))  # marks that show whether a row is written again
    con.execute("UPDATE pull_request SET body = 'as it was'")
    con.execute("UPDATE review SET commit_id = 'as it was'")
    con.execute("UPDATE pull_request_file SET status = 'as it was'")
    con.close()
    # the next day serves pull request 1, its review and its file list again as they were; 2's changed
    _write(raw / "delivery/o/r/pulls-2026-10-05.json", json.dumps([_pr(1, "one"), _pr(2, "two, retitled")]))
    _write(raw / "delivery/o/r/reviews-2026-10-05.json",
           json.dumps([_review(7, 1, "COMMENTED"), _review(8, 2, "DISMISSED")]))
    _write(raw / "delivery/o/r/pull-files-2026-10-05.json", json.dumps([_files(1, "a.py"), _files(2, "c.py")]))
    summary = ingest_raw(raw, db)
    assert summary.elements_unchanged == 3
    assert summary.by_kind == {"pulls": 2, "reviews": 2, "pull-files": 2}  # rows held count as loaded
    assert _delivery(db) == {
        "pulls": [(1, "one", "as it was", "delivery/o/r/pulls.json", 1),
                  (2, "two, retitled", None, "delivery/o/r/pulls-2026-10-05.json", 2)],
        "reviews": [(7, "COMMENTED", "as it was"), (8, "DISMISSED", None)],
        "files": [(1, "a.py", "as it was"), (2, "c.py", "modified")]}
    full = ingest_raw(raw, db, full=True)
    assert full.elements_unchanged == 0
    assert _delivery(db) == {
        "pulls": [(1, "one", None, "delivery/o/r/pulls-2026-10-05.json", 1),
                  (2, "two, retitled", None, "delivery/o/r/pulls-2026-10-05.json", 2)],
        "reviews": [(7, "COMMENTED", None), (8, "DISMISSED", None)],
        "files": [(1, "a.py", "modified"), (2, "c.py", "modified")]}


def test_the_same_file_list_served_by_another_repo_is_built_for_it(tmp_path):
    """A file list names no repo: the same bytes served for another repo's pull request load its rows."""
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    _write(raw / "delivery/o/one/pull-files.json", json.dumps([_files(1, "a.py")]))
    ingest_raw(raw, db)
    _write(raw / "delivery/o/two/pull-files.json", json.dumps([_files(1, "a.py")]))
    assert ingest_raw(raw, db).elements_unchanged == 0
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT repo, number, filename FROM pull_request_file ORDER BY 1").fetchall() == [
        ("o/one", 1, "a.py"), ("o/two", 1, "a.py")]


@pytest.mark.parametrize("read_bytes", [None, 1], ids=["read-together", "read-one-by-one"])
def test_an_element_changed_and_served_back_in_one_run_ends_as_the_last_file_has_it(tmp_path, monkeypatch,
                                                                                   read_bytes):
    """An element one file of a run changes and a later file (or a later element of the same file) serves
    again as the warehouse held it ends as served last, as loading the files one by one leaves it: whether the
    files are looked up together or each alone (READ_BYTES)."""
    if read_bytes:
        monkeypatch.setattr("copilot_finops.ingest.run.READ_BYTES", read_bytes)
    together, one_by_one = tmp_path / "together", tmp_path / "one_by_one"
    steps = [{"pulls.json": [_pr(1, "one"), _pr(2, "two")]},
             {"pulls-2026-10-05.json": [_pr(1, "changed"), _pr(2, "two")], "pulls-2026-10-06.json": [_pr(1, "one")]},
             {"pulls-2026-10-07.json": [_pr(2, "changed"), _pr(2, "two")]}]
    for files in steps:
        for name, doc in files.items():
            for root in (together, one_by_one):
                _write(root / "raw/delivery/o/r" / name, json.dumps(doc))
            assert ingest_raw(one_by_one / "raw", one_by_one / "w.duckdb").files_ingested == 1
        assert ingest_raw(together / "raw", together / "w.duckdb").files_ingested == len(files)
        assert _contents(together / "w.duckdb") == _contents(one_by_one / "w.duckdb")
    assert [row[:2] for row in _delivery(together / "w.duckdb")["pulls"]] == [(1, "one"), (2, "two")]


def test_a_document_msgspec_cannot_read_loads_as_before(tmp_path):
    """A document with a byte-order mark or NaN is parsed whole by `json`, as before: its rows carry no digest (the
    next fetch of its elements builds them again). An element with a number beyond a double is read by `json`
    too, its document still split and digested."""
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    _write(raw / "delivery/o/r/pulls.json", "\ufeff" + json.dumps([_pr(1, "one")]))
    _write(raw / "delivery/o/r/reviews.json", json.dumps([{**_review(7, 1, "APPROVED"), "score": float("nan")}]))
    _write(raw / "delivery/o/r/pull-files.json", json.dumps([_files(1, "a.py")])[:-1] + ', {"number": 2, "x": 1e400}]')
    summary = ingest_raw(raw, db)
    assert summary.lines_quarantined == 0 and summary.by_kind == {"pulls": 1, "reviews": 1, "pull-files": 1}
    con = duckdb.connect(str(db), read_only=True)
    assert [con.execute(f"SELECT count(*), count(element_digest) FROM {t}").fetchone()
            for t in ("pull_request", "review", "pull_request_file")] == [(1, 0), (1, 0), (1, 1)]


def test_unreadable_document_is_quarantined_whole(tmp_path):
    raw = tmp_path / "raw"
    _write(raw / "seats/2026-10-05.json", '[{"total_seats": 1, "seats": [{"assignee": {"login": "a", "id": 1}}]')
    _write(raw / "seats/2026-10-06.json", json.dumps([{"total_seats": 2, "seats": [
        {"assignee": {"login": "a", "id": 1}, "created_at": "2026-01-01T10:00:00-06:00"}, {"assignee": None}]}]))
    summary = ingest_raw(raw, tmp_path / "w.duckdb")
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert summary.lines_quarantined == 2
    assert con.execute("SELECT count(*) FROM seat").fetchone()[0] == 1
    assert str(con.execute("SELECT created_at FROM seat").fetchone()[0]) == "2026-01-01 16:00:00"  # offsets to UTC
    errors = dict(con.execute("SELECT path, error FROM quarantine").fetchall())
    assert "invalid JSON" in errors["seats/2026-10-05.json"]


def test_import_command_copies_into_the_raw_zone(tmp_path, capsys):
    src = _write(tmp_path / "downloads/report.json", json.dumps([_user(user_id=7)]))
    rc = main(["import", "--kind", "users-1-day", str(src), "--raw", str(tmp_path / "raw"),
               "--warehouse", str(tmp_path / "w.duckdb"), "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["rows_loaded"] == 1
    assert list((tmp_path / "raw/imports/users-1-day").rglob("report.json"))
    assert main(["import", "--kind", "nonsense", str(src), "--raw", str(tmp_path / "raw")]) == 2
    assert "allowed:" in capsys.readouterr().err


def test_28_day_bootstrap_never_overrides_1_day_rows_and_enterprise_stays_apart(tmp_path):
    raw = tmp_path / "raw"
    day = {"day": "2026-10-05", "daily_active_users": 9, "code_generation_activity_count": 100}
    _write(raw / "metrics/organization-1-day/2026-10-05/part-0.ndjson", json.dumps({**day, "organization_id": "1"}) + "\n")
    window = {"organization_id": "1", "report_start_day": "2026-10-04", "report_end_day": "2026-10-05",
              "day_totals": [{**day, "day": "2026-10-04", "daily_active_users": 7}, {**day, "daily_active_users": 1}]}
    _write(raw / "metrics/organization-28-day/2026-10-05/part-0.ndjson", json.dumps(window) + "\n")
    _write(raw / "metrics/enterprise-1-day/2026-10-05/part-0.ndjson", json.dumps({**day, "enterprise_id": "77",
                                                                                  "daily_active_users": 40}) + "\n")
    _write(raw / "metrics/users-28-day/2026-10-05/part-0.ndjson", json.dumps(_user(loc_added_sum=999)) + "\n")
    _write(raw / "metrics/users-1-day/2026-10-05/part-0.ndjson", json.dumps(_user()) + "\n")
    ingest_raw(raw, tmp_path / "w.duckdb")
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    rows = con.execute("SELECT organization_id, day::VARCHAR, daily_active_users, source_kind FROM org_day ORDER BY 1, 2").fetchall()
    assert rows == [("1", "2026-10-04", 7, "organization-28-day"), ("1", "2026-10-05", 9, "organization-1-day"),
                    ("enterprise:77", "2026-10-05", 40, "enterprise-1-day")]
    assert con.execute("SELECT loc_added_sum, source_kind FROM user_day").fetchall() == [(20, "users-1-day")]


@pytest.mark.parametrize("text, expected", [
    ("2026-10-01T12:00:00Z", datetime(2026, 10, 1, 12)),
    ("2026-10-01T12:00:00.250Z", datetime(2026, 10, 1, 12, 0, 0, 250000)),
    ("2026-10-01T12:00:00+02:00", datetime(2026, 10, 1, 10)),  # offsets become UTC
    ("2026-10-01T01:00:00-03:30", datetime(2026, 10, 1, 4, 30)),
    ("2026-10-01T12:00:00", datetime(2026, 10, 1, 12)),  # no zone: taken as UTC
    ("not a time", None), ("Z", None), ("", None), (None, None), (1700000000, None),
])
def test_github_timestamps_become_naive_utc(text, expected):
    from copilot_finops.ingest.documents import ts

    assert ts(text) == expected
