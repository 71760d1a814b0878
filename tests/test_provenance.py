"""The raw zone is the record: rows keep their raw file and line, show-record reads the object back byte for byte,
fields no parser knows are counted per kind and day, and `ingest --full` loads a field once a parser knows it."""
from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from copilot_finops import warehouse
from copilot_finops.cli import main
from copilot_finops.ingest import ingest_raw, schemas
from copilot_finops.ingest.migrate import PROVENANCE_TABLES
from test_ingest import _user, _write


def test_show_record_prints_the_raw_line_byte_for_byte(small_demo, capsysbinary):
    con = duckdb.connect(str(small_demo.warehouse), read_only=True)
    login, day, path, line = con.execute("""
        SELECT u.user_login, u.day::VARCHAR, f.path, u.source_line FROM user_day u JOIN raw_file f ON f.file_id = u.source_file
        WHERE u.source_line > 1 ORDER BY u.day DESC, u.user_id LIMIT 1""").fetchone()
    con.close()
    raw_line = (small_demo.raw / path).read_bytes().split(b"\n")[line - 1]
    assert main(["show-record", "--kind", "users-1-day", "--day", day, "--user", login,
                 "--warehouse", str(small_demo.warehouse)]) == 0
    out = capsysbinary.readouterr()
    assert out.out == raw_line + b"\n" and f"{path} line {line}".encode() in out.err
    assert main(["show-record", "--kind", "users-1-day", "--day", day, "--user", login, "--json",
                 "--warehouse", str(small_demo.warehouse)]) == 0
    doc = json.loads(capsysbinary.readouterr().out)
    assert doc["record"] == json.loads(raw_line) and doc["path"] == path and doc["line"] == line and doc["exact"]
    # the organisation's day and a seat come back too
    assert main(["show-record", "--kind", "organization-1-day", "--day", day, "--json",
                 "--warehouse", str(small_demo.warehouse)]) == 0
    assert json.loads(capsysbinary.readouterr().out)["record"]["day"] == day


def test_show_record_says_when_the_raw_file_is_missing_or_changed(tmp_path, capsys):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    part = _write(raw / "metrics/users-1-day/2026-10-05/part-0.ndjson", json.dumps(_user()) + "\n")
    ingest_raw(raw, db)
    args = ["show-record", "--kind", "users-1-day", "--day", "2026-10-05", "--user", "tester", "--warehouse", str(db)]
    moved = tmp_path / "moved"
    shutil.move(raw, moved)
    assert main(args) == 2
    assert "is missing: pass --raw" in capsys.readouterr().err
    assert main(args + ["--raw", str(moved)]) == 0  # the raw zone where it is now
    capsys.readouterr()
    shutil.move(moved, raw)
    part.write_text(json.dumps(_user(loc_added_sum=99)) + "\n")
    assert main(args) == 2
    assert "changed since it was ingested" in capsys.readouterr().err
    assert main(args[:-4] + ["--user", "nobody", "--warehouse", str(db)]) == 2
    assert "no users-1-day row for day 2026-10-05, user nobody" in capsys.readouterr().err


def test_a_new_field_is_counted_the_day_it_appears_and_loaded_once_a_parser_knows_it(tmp_path, monkeypatch):
    """Stand-in for a field GitHub adds: ai_credits_used, with the parser made not to know it, then restored."""
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    _write(raw / "metrics/users-1-day/2026-10-05/part-0.ndjson", json.dumps(_user()) + "\n")
    _write(raw / "metrics/users-1-day/2026-10-06/part-0.ndjson",
           "".join(json.dumps(_user(user_id=i, day="2026-10-06", ai_credits_used=2.5)) + "\n" for i in (1, 2)))
    unaware = {k: v for k, v in schemas.USER_SCHEMA.items() if k != "ai_credits_used"}
    monkeypatch.setitem(schemas.NDJSON_SCHEMAS, "users-1-day", (unaware, schemas.NDJSON_SCHEMAS["users-1-day"][1]))
    ingest_raw(raw, db)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*), count(ai_credits_used) FROM user_day").fetchone() == (3, 0)
    assert con.execute("SELECT kind, day::VARCHAR, field, records_seen, records_sampled FROM unknown_field").fetchall() == [
        ("users-1-day", "2026-10-06", "ai_credits_used", 2, 2)]
    con.close()
    monkeypatch.undo()  # the parser learns the field
    assert ingest_raw(raw, db).files_ingested == 0  # unchanged files are not read again ...
    ingest_raw(raw, db, full=True)  # ... until --full
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT sum(ai_credits_used) FROM user_day").fetchone()[0] == 5.0
    assert con.execute("SELECT count(*) FROM unknown_field").fetchone()[0] == 0
    con.close()


def test_a_warehouse_of_the_old_layout_is_upgraded_in_place(tmp_path):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    _write(raw / "metrics/users-1-day/2026-10-05/part-0.ndjson", json.dumps(_user()) + "\n")
    _write(raw / "seats/2026-10-05.json", json.dumps([{"total_seats": 1, "seats": [{"assignee": {"id": 11}}]}]))
    ingest_raw(raw, db)
    con = warehouse.connect(db)
    for table in PROVENANCE_TABLES:  # as an earlier version left it: the text kept, no provenance ids
        con.execute(f"ALTER TABLE {table} DROP COLUMN source_file")
        con.execute(f"ALTER TABLE {table} DROP COLUMN source_line")
        con.execute(f"ALTER TABLE {table} ADD COLUMN source_path VARCHAR")
        con.execute(f"ALTER TABLE {table} ADD COLUMN record VARCHAR")
    con.execute("UPDATE user_day SET record = '{}'")
    con.close()
    summary = ingest_raw(raw, db)
    assert summary.files_ingested == 2  # every file read again, to fill the provenance
    con = duckdb.connect(str(db), read_only=True)
    for table in PROVENANCE_TABLES:
        columns = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
        assert {"source_file", "source_line"} <= columns and not {"record", "source_path"} & columns
    assert con.execute("SELECT source_line FROM user_day").fetchall() == [(1,)]
    assert con.execute("SELECT source_line FROM seat").fetchall() == [(1,)]
    con.close()



@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
@pytest.mark.parametrize("ending", [b"\n", b"", b"\r\n"])
def test_the_scan_numbers_sampled_lines_right_across_chunk_edges(tmp_path, monkeypatch, chunk, ending):
    """The fast parse trusts the scan's line count and sampled line numbers: check them where chunks cut lines."""
    import hashlib

    from copilot_finops.ingest import scan

    monkeypatch.setattr(scan, "CHUNK", chunk)
    lines = [json.dumps({"user_id": i, "pad": "x" * (i % 13)}).encode() for i in range(1, 60)]
    body = (b"\r\n" if ending == b"\r\n" else b"\n").join(lines) + ending
    path = _write(tmp_path / "part-0.ndjson", body)
    found = scan.scan_file(path, path, samples=17)
    assert found.lines == len(lines) and found.sha256 == hashlib.sha256(body).hexdigest() and found.bytes == len(body)
    assert len(found.samples) >= 10 and found.samples[0][0] == 1
    for number, text in found.samples:
        assert text == lines[number - 1]
