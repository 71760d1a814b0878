"""Privacy promises, tested on real parts: pseudonyms, k-anonymity, purge on a demo warehouse, incident mode."""
from __future__ import annotations

import json
import re
import shutil
import stat
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from copilot_finops.period import Period, parse_period
from copilot_finops import delivery, privacy, usage, warehouse
from copilot_finops import retention as retention_mod
from copilot_finops.cli import main
from copilot_finops.errors import UserError
from copilot_finops.params import Retention

ROOT = Path(__file__).resolve().parents[1]
KEY = b"a-test-key-of-sufficient-length"


# -- pseudonyms ---------------------------------------------------------------------------------------------------
def test_pseudonyms_are_stable_keyed_and_unlinkable_without_the_key():
    a = privacy.pseudonym("Octo-Cat", KEY)
    assert a == privacy.pseudonym("octo-cat", KEY)  # GitHub logins are case-insensitive
    assert a != privacy.pseudonym("octo-cat", b"another-key-of-sufficient-length")
    assert a != privacy.pseudonym("octo-dog", KEY)
    assert re.fullmatch(r"dev-[0-9a-f]{12}", a) and "octo" not in a
    labels = privacy.person_labels(pd.Series(["octo-cat", None]), KEY)
    assert labels.iloc[0] == a and pd.isna(labels.iloc[1])
    assert privacy.person_labels(pd.Series(["octo-cat"]), KEY, detail=True).iloc[0] == "octo-cat"


def test_key_comes_from_the_environment_or_a_0600_key_file_created_once(tmp_path):
    assert privacy.pseudonym_key(tmp_path / "unused", {privacy.KEY_ENV: "x" * 20}) == b"x" * 20
    assert not (tmp_path / "unused").exists()
    with pytest.raises(UserError, match="shorter than"):
        privacy.pseudonym_key(tmp_path / "unused", {privacy.KEY_ENV: "short"})
    key_file = tmp_path / "keys" / ".pseudonym.key"
    first = privacy.pseudonym_key(key_file, {})
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert privacy.pseudonym_key(key_file, {}) == first  # stable across runs
    assert len(first) >= 32 and list(key_file.parent.iterdir()) == [key_file]  # no temp file left behind
    key_file.chmod(0o644)
    with pytest.raises(UserError, match="chmod 600"):
        privacy.pseudonym_key(key_file, {})


# -- k-anonymity ----------------------------------------------------------------------------------------------------
def test_suppress_blanks_groups_of_one_to_k_minus_one_and_marks_them():
    frame = pd.DataFrame({"team": list("abcde"), "users": [0, 1, 4, 5, 30], "credits": [0.0, 10, 40, 50, 300]})
    out = privacy.suppress(frame, "users", 5, also=pd.Series([False, False, False, False, True]))
    assert out["suppressed"].tolist() == [False, True, True, False, True]
    assert out.loc[out["suppressed"], ["users", "credits"]].isna().all().all()
    assert out.loc[~out["suppressed"], "credits"].tolist() == [0.0, 50.0]
    assert privacy.k_violations(out, 5) == [] and privacy.k_violations(frame, 5) == [("users", 1, 1.0), ("users", 2, 4.0)]


def test_a_change_against_a_suppressed_month_is_suppressed():
    assert privacy.change(12.0, 10.0) == 2.0
    assert privacy.change(12.0, float("nan")) != privacy.change(12.0, float("nan"))
    assert privacy.change(None, 3.0) != privacy.change(None, 3.0)
    series = privacy.change(pd.Series([5.0, 7.0]), pd.Series([float("nan"), 6.0]))
    assert series.isna().tolist() == [True, False]


def test_segment_totals_never_reveal_a_hidden_team_by_subtraction():
    from copilot_finops.overview import segment_table

    members = pd.DataFrame(
        [("big", u, True) for u in range(10)] + [("tiny", u, True) for u in range(100, 103)]
        + [("pair-a", u, True) for u in range(200, 203)] + [("pair-b", u, True) for u in range(203, 206)]
        + [("solo", u, True) for u in range(300, 312)], columns=["team_slug", "user_id", "active"])
    figures = pd.DataFrame({
        "team_slug": ["big", "tiny", "pair-a", "pair-b", "solo"], "segment": ["s1", "s1", "s2", "s2", "s3"],
        "total_cost": [100.0, 30.0, 20.0, 25.0, 120.0], "ai_credits": [1.0, 2.0, 3.0, 4.0, 5.0],
        "flagged_weeks": [1, 0, 0, 1, 2], "small": [False, True, True, True, False]})
    def counted_once(groups):  # no developer is on two teams here, so each person once is the teams' sum
        return pd.DataFrame({label: figures[figures["team_slug"].isin(teams)][["total_cost", "ai_credits"]].sum()
                             for label, teams in groups.items()}).T

    table = segment_table(figures, members, k=5, counted_once=counted_once).set_index("segment")
    assert table.loc["s1", "suppressed"]  # s1 minus 'big' would be 'tiny' (3 people)
    assert not table.loc["s2", "suppressed"] and table.loc["s2", "total_cost"] == 45.0  # two hidden teams: 6 people
    assert not table.loc["s3", "suppressed"] and table.loc["s3", "total_cost"] == 120.0
    # every team would reveal 'tiny' too (the pair sums to 6, but 'tiny' alone is 3): only teams shown are summed
    last = table.iloc[-1]
    assert table.index[-1] == "teams with 5 or more developers" and last["total_cost"] == 220.0 and last["members"] == 22


# -- retention: purge ---------------------------------------------------------------------------------------------------
MARTS = {"mart_team_day_usage": "day", "mart_team_day_feature": "day", "mart_team_day_model": "day",
         "mart_org_day_usage": "day", "mart_team_day_cost": "day", "mart_team_month_cost": "period",
         "mart_team_week_delivery_usage": "week_start"}
USER_TABLES = ("user_day", "user_day_feature", "user_day_model_feature", "user_day_language_feature", "user_day_ide",
               "user_team_day")


def _marts_from(con, first_day: date, period: str) -> dict[str, pd.DataFrame]:
    out = {}
    for view, column in MARTS.items():
        bound = period if column == "period" else first_day
        frame = con.execute(f"SELECT * FROM {view} WHERE {column} >= ?", [bound]).df()
        out[view] = frame.sort_values(list(frame.columns[:3])).reset_index(drop=True)
    return out


def _team_results(con, period: Period, k: int) -> dict:
    teams = usage.teams_in_warehouse(con, period)
    events = delivery.delivery_events(delivery.load_delivery_inputs(con, period.start, period.end))
    return {t: (usage.team_period_summary(con, t, period, k), delivery.period_metrics(events, t, period.start, period.end))
            for t in teams}


def _flat(value, prefix="") -> dict:
    """Nested dicts and tuples of figures as one flat dict (None as NaN), for approximate comparison."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}/{key}").items()}
    if isinstance(value, (tuple, list)):
        return {k: v for i, item in enumerate(value) for k, v in _flat(item, f"{prefix}/{i}").items()}
    return {prefix: float("nan") if value is None else float(value)}


@pytest.fixture()
def purge_copy(small_demo, tmp_path):
    """A copy of the small demo's warehouse and raw zone, for purge to change."""
    shutil.copytree(small_demo.raw, tmp_path / "raw")
    shutil.copy(small_demo.warehouse, tmp_path / "w.duckdb")
    return tmp_path


def test_purge_removes_old_user_rows_and_raw_files_and_keeps_remaining_months_identical(purge_copy):
    retention, as_of = Retention(user_level_days=30, raw_days=30), date(2026, 11, 5)
    cutoff = retention_mod.retention_cutoff(as_of, 30)
    assert cutoff.weekday() == 0 and cutoff <= date(2026, 10, 1)  # whole weeks and whole months stay
    kept_period = parse_period(retention_mod.first_kept_period(cutoff))
    con = warehouse.connect(purge_copy / "w.duckdb")
    before_rows = {t: con.execute(f"SELECT count(*) FROM {t} WHERE day < ?", [cutoff]).fetchone()[0] for t in USER_TABLES}
    assert all(before_rows.values())
    old_marts = _marts_from(con, date(1900, 1, 1), "0000-00")
    marts = _marts_from(con, cutoff, kept_period.label)
    results = _team_results(con, kept_period, 5)
    raw_before = {p.relative_to(purge_copy / "raw").as_posix() for p in (purge_copy / "raw").rglob("*") if p.is_file()}

    dry = retention_mod.purge(con, retention, as_of, purge_copy / "raw", dry_run=True)
    assert dry.rows["user_day"] == before_rows["user_day"] and dry.raw_files
    assert con.execute("SELECT count(*) FROM user_day WHERE day < ?", [cutoff]).fetchone()[0] == before_rows["user_day"]
    assert all((purge_copy / "raw" / rel).exists() for rel in dry.raw_files)
    assert con.execute("SELECT count(*) FROM purge_log").fetchone()[0] == 0  # a dry run logs nothing

    done = retention_mod.purge(con, retention, as_of, purge_copy / "raw", actor="tester")
    assert done.rows == dry.rows and done.raw_files == dry.raw_files
    for table in USER_TABLES:  # user-level rows past retention are gone
        assert con.execute(f"SELECT count(*) FROM {table} WHERE day < ?", [cutoff]).fetchone()[0] == 0
        assert done.rows[table] == before_rows[table]
    assert con.execute("SELECT count(*) FROM credit_usage WHERE user_login <> '' AND period < ?",
                       [kept_period.label]).fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM pull_request WHERE coalesce(merged_at, closed_at) < ?", [cutoff]).fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM deployment WHERE created_at < ? AND creator_login IS NOT NULL",
                       [cutoff]).fetchone()[0] == 0
    # raw files past retention are gone, the rest are untouched
    raw_after = {p.relative_to(purge_copy / "raw").as_posix() for p in (purge_copy / "raw").rglob("*") if p.is_file()}
    assert raw_after == raw_before - set(done.raw_files)
    assert not any(re.search(r"users-1-day/(\d{4}-\d{2}-\d{2})/", r) and r.split("/")[2] < str(cutoff) for r in raw_after)
    assert any(r.startswith("seats/") and r[6:16] <= str(cutoff) for r in raw_after)  # the snapshot days kept need
    # aggregates of the periods that remain agree exactly, and team results do too
    after = _marts_from(con, cutoff, kept_period.label)
    for view in MARTS:
        pd.testing.assert_frame_equal(marts[view], after[view], check_dtype=False, obj=view)
    assert _flat(_team_results(con, kept_period, 5)) == pytest.approx(_flat(results), rel=1e-9, nan_ok=True)
    # the team aggregates of the purged months are kept
    for view, column in MARTS.items():
        archive = con.execute(f"SELECT * FROM archive_{view.removeprefix('mart_')}").df()
        bound = kept_period.label if column == "period" else cutoff
        expected = old_marts[view][old_marts[view][column].astype(str) < str(bound)]
        assert len(archive) == len(expected) > 0, view
        pd.testing.assert_frame_equal(archive.sort_values(list(archive.columns[:3])).reset_index(drop=True),
                                      expected.reset_index(drop=True), check_dtype=False, obj=view)
    # what was removed is recorded
    log = con.execute("SELECT target, action, count, actor FROM purge_log").df()
    assert set(log["actor"]) == {"tester"}
    logged = dict(zip(log.loc[log["action"] == "deleted rows", "target"], log.loc[log["action"] == "deleted rows", "count"]))
    assert logged == {t: n for t, n in done.rows.items()}
    assert log.loc[log["action"] == "deleted raw files", "count"].sum() == len(done.raw_files)

    again = retention_mod.purge(con, retention, as_of, purge_copy / "raw")  # nothing left to remove, nothing re-archived
    assert not any(again.rows.values()) and not any(again.archived.values()) and not again.raw_files
    con.close()


def test_purge_command_prints_one_json_document_and_validates_as_of(purge_copy, capsys, monkeypatch):
    params = purge_copy / "params"
    shutil.copytree(ROOT / "params", params)
    org = (params / "org.yaml").read_text()
    (params / "org.yaml").write_text(re.sub(r"user_level_days: \d+", "user_level_days: 30", org))
    monkeypatch.chdir(purge_copy)
    args = ["purge", "--warehouse", "w.duckdb", "--params", "params", "--raw", "raw", "--as-of", "2026-11-05"]
    assert main(args + ["--dry-run", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["dry_run"] and doc["rows"]["user_day"] > 0 and doc["first_kept_period"] == "2026-10"
    assert doc["raw_files"] == 0  # raw_days stays at 400 in these params
    assert main(args[:-2] + ["--as-of", "05/11/2026"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "removed" in out and "purge_log" in out
    con = duckdb.connect("w.duckdb", read_only=True)
    assert con.execute("SELECT count(*) FROM purge_log WHERE action = 'deleted rows'").fetchone()[0] > 0
    con.close()


# -- incident mode ------------------------------------------------------------------------------------------------------
def test_incident_access_needs_an_id_and_a_reason():
    with pytest.raises(UserError, match="--reason is required"):
        privacy.incident_access("INC-7", None)
    with pytest.raises(UserError, match="--reason is required"):
        privacy.incident_access("INC-7", "   ")
    with pytest.raises(UserError, match="--incident"):
        privacy.incident_access("../INC", "a long enough reason")
    access = privacy.incident_access("INC-7", "seat reclaim dispute for a departed contractor", actor="ops")
    assert access.actor == "ops" and "INC-7" in access.notice


def test_report_detail_requires_incident_and_reason(small_demo, project_cwd, capsys):
    base = ["report", "--period", "2026-10", "--warehouse", str(small_demo.warehouse), "--detail"]
    assert main(base + ["--incident", "INC-1"]) == 2
    assert "--reason is required" in capsys.readouterr().err
    assert main(base + ["--reason", "a reason that is long enough"]) == 2
    assert "--incident" in capsys.readouterr().err
    assert main(base[:-1] + ["--incident", "INC-1"]) == 2  # --incident without --detail is a mistake, said so
    assert "go with --detail" in capsys.readouterr().err


def demo_identities(con, raw) -> set[str]:
    """Every login of the demo org's people in the warehouse (seats, usage, teams, pull requests), and every
    email of the seats files in the raw zone (the warehouse keeps none)."""
    rows = con.execute("""
        SELECT user_login FROM user_day UNION SELECT user_login FROM seat UNION SELECT user_login FROM team_member
        UNION SELECT author_login FROM pull_request UNION SELECT reviewer_login FROM review""").fetchall()
    emails = {s["assignee"].get("email") for path in (raw / "seats").glob("*.json")
              for page in json.loads(path.read_text()) for s in page["seats"]}
    return {r[0] for r in rows if r[0] and not r[0].endswith("-bot")} | {e for e in emails if e}


@pytest.mark.slow
def test_incident_mode_shows_identities_records_the_access_and_marks_every_page(small_demo, project_cwd):
    shutil.copy(small_demo.warehouse, project_cwd / "w.duckdb")
    books = project_cwd / "books"
    books.mkdir()
    shutil.copy(ROOT / "notebooks/00_org_overview.ipynb", books)
    rc = main(["report", "--period", "2026-10", "--warehouse", "w.duckdb", "--notebooks", str(books), "--out", "out",
               "--detail", "--incident", "INC-42", "--reason", "reclaiming seats of departed contractors",
               "--workers", "1", "--json"])
    assert rc == 0
    out = project_cwd / "out/restricted/INC-42/2026-10"
    pages = sorted(out.rglob("*.html"))
    assert len(pages) == 2  # the org overview and the index
    for page in pages:
        assert "RESTRICTED: incident INC-42" in page.read_text()
    assert not (project_cwd / "out/2026-10").exists()  # default-mode outputs are never overwritten
    con = duckdb.connect("w.duckdb", read_only=True)
    audit = con.execute("SELECT actor, incident_id, reason, scope, output, access, period, teams, notebook, "
                        "run_token_sha256 FROM access_audit ORDER BY access").fetchall()
    identities = demo_identities(con, small_demo.raw)
    idle_logins = {r[0] for r in con.execute("SELECT user_login FROM seat").fetchall()}
    con.close()
    # the run's grant (every team and the overview, for the month), and a row for the one notebook it rendered
    (grant, render) = audit
    assert grant[1:3] == ("INC-42", "reclaiming seats of departed contractors") and grant[0]
    assert grant[4:9] == ("out/restricted/INC-42/2026-10", "grant", "2026-10", None, None)
    assert render[5:9] == ("render", "2026-10", None, "00_org_overview") and render[9]
    assert render[4] == "out/restricted/INC-42/2026-10/org/00_org_overview.html"
    # the token that ties the render to its row reached the kernel, not the notebook: no parameter carries it
    nb = json.loads((out / "org/00_org_overview.ipynb").read_text())
    assert set(nb["metadata"]["papermill"]["parameters"]) == {
        "team", "period", "warehouse", "params", "detail", "incident", "restricted"}
    overview = (out / "org/00_org_overview.html").read_text()
    shown = {login for login in idle_logins if re.search(rf"(?<![\w-]){re.escape(login)}(?![\w-])", overview)}
    assert shown and shown <= identities  # the reclaim list names the seats' holders
    assert "dev-" not in overview.split("Reclaim list")[1].split("</table>")[0]
