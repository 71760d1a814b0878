"""The memo beside the warehouse: reused while the warehouse is unchanged, never after a change."""
from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from copilot_finops.period import parse_period
from copilot_finops import budget, cache, cost, patterns, retention, warehouse
from copilot_finops.delivery import report as delivery_report
from copilot_finops.patterns.detect import flagged_user_weeks, flagged_weeks, label_user_weeks, period_weeks
from copilot_finops.params import Retention, load_params

from conftest import ROOT


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self) -> pd.DataFrame:
        self.calls += 1
        return pd.DataFrame({"call": [self.calls]})


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "w.duckdb"
    warehouse.connect(path).close()
    return path


def test_an_entry_is_reused_until_the_key_or_the_warehouse_changes(db):
    compute = Counter()
    con = warehouse.connect(db, read_only=True)
    first = cache.memo(con, "thing", ("2026-10",), compute)
    again = cache.memo(con, "thing", ("2026-10",), compute)
    assert compute.calls == 1 and again.equals(first)
    cache.memo(con, "thing", ("2026-09",), compute)  # another key
    assert compute.calls == 2
    con.close()

    con = warehouse.connect(db)  # an ingest, purge or any write changes the file
    con.execute("INSERT INTO warehouse_meta VALUES ('touched', 'yes')")
    con.execute("CHECKPOINT")
    assert cache.memo(con, "thing", ("2026-10",), compute)["call"].item() == 3
    con.close()
    # entries of the older warehouse state are gone: they may hold rows a purge removed
    assert len(list((db.parent / "w.duckdb.cache").glob("*.memo"))) == 1


def test_a_torn_entry_is_recomputed_and_the_memo_can_be_turned_off(db, monkeypatch):
    compute = Counter()
    con = warehouse.connect(db, read_only=True)
    cache.memo(con, "thing", 1, compute)
    for entry in (db.parent / "w.duckdb.cache").glob("*.memo"):
        entry.write_bytes(b"\x80\x05 torn")
    assert cache.memo(con, "thing", 1, compute)["call"].item() == 2
    monkeypatch.setenv("COPILOT_FINOPS_CACHE", "0")
    cache.memo(con, "thing", 1, compute)
    cache.memo(con, "thing", 1, compute)
    assert compute.calls == 4
    assert cache.clear(con) == 1 and not (db.parent / "w.duckdb.cache").exists()
    con.close()


def test_a_memoised_function_is_keyed_by_all_its_arguments(db):
    calls = []

    @cache.memoised("sum")
    def total(con, period, params, months: int = 3):
        calls.append((period, months))
        return months

    params = load_params(ROOT / "params")
    con = warehouse.connect(db, read_only=True)
    assert total(con, "2026-10", params) == 3
    assert total(con, "2026-10", params, months=3) == 3  # the default is part of the key: the same entry
    assert total(con, "2026-10", params, 2) == 2
    assert total(con, "2026-09", params) == 3
    assert total(con, "2026-10", params.model_copy(update={"currency": "EUR"})) == 3  # other params
    con.close()
    assert calls == [("2026-10", 3), ("2026-10", 2), ("2026-09", 3), ("2026-10", 3)]


def test_an_in_memory_database_is_never_memoised():
    compute = Counter()
    con = duckdb.connect()
    cache.memo(con, "thing", 1, compute)
    cache.memo(con, "thing", 1, compute)
    assert compute.calls == 2


def _assert_same(memoised, fresh, where="value"):
    """Exactly equal: frames with their dtypes, dataclasses field by field, containers item by item, NaN as NaN."""
    assert type(memoised) is type(fresh), where
    if isinstance(fresh, pd.DataFrame):
        pd.testing.assert_frame_equal(memoised, fresh, check_exact=True, obj=where)
    elif dataclasses.is_dataclass(fresh):
        for f in dataclasses.fields(fresh):
            _assert_same(getattr(memoised, f.name), getattr(fresh, f.name), f"{where}.{f.name}")
    elif isinstance(fresh, dict):
        assert list(memoised) == list(fresh), where
        for k in fresh:
            _assert_same(memoised[k], fresh[k], f"{where}[{k!r}]")
    elif isinstance(fresh, (list, tuple)):
        assert len(memoised) == len(fresh), where
        for i, (m, f) in enumerate(zip(memoised, fresh)):
            _assert_same(m, f, f"{where}[{i}]")
    elif isinstance(fresh, float) and fresh != fresh:
        assert memoised != memoised, where
    else:
        assert memoised == fresh, where


def test_every_memoised_value_reads_back_exactly_as_computed(small_demo, tmp_path, monkeypatch):
    """What a team notebook reads from the memo is what the first one computed: frames, dicts and the
    dataclasses holding them (guardrail report, delivery window), from every @memoised function."""
    db = tmp_path / "w.duckdb"
    shutil.copy(small_demo.warehouse, db)
    params = load_params(ROOT / "params")
    period = parse_period("2026-10")
    first, last = period_weeks(period)

    def values():
        con = warehouse.connect(db, read_only=True)
        try:
            return {"guardrails": budget.evaluate_guardrails(con, period, params),
                    "team-costs-history": cost.team_costs_history(con, period, params, months=3),
                    "org-team-weeks": patterns.org_team_weeks(con, params, period),
                    "patterns-org-table": patterns.org_pattern_table(con, params, period, params.privacy.k_anonymity),
                    "delivery-window": delivery_report.prepare(con, period, params),
                    "delivery-verdicts": delivery_report.team_verdicts(con, period, params),
                    "delivery-teams": delivery_report.team_deliveries(con, period, params),
                    "patterns-labelled": label_user_weeks(con, params, first, last),
                    "patterns-flagged": flagged_user_weeks(con, params, first, last)}
        finally:
            con.close()

    computed = values()  # fills the memo
    memoised = values()  # reads it
    folder = tmp_path / "w.duckdb.cache"
    for name in computed:
        assert len(list(folder.glob(f"*-{name}-*.memo"))) == 1, name
        _assert_same(memoised[name], computed[name], name)
    assert not computed["org-team-weeks"].empty and not computed["delivery-window"].events.prs.empty
    assert len(computed["delivery-verdicts"]) > 5 and computed["delivery-verdicts"]["verdict"].notna().all()
    assert any(len(c) for c in computed["guardrails"].rows["crossings"])  # lists of dicts in cells come back too
    # A team's page reads only the flagged weeks' memo: the same rows, and the same month, as the whole fit gives.
    labelled = computed["patterns-labelled"]
    _assert_same(memoised["patterns-flagged"],
                 labelled[labelled["pattern"] != patterns.NO_PATTERN].reset_index(drop=True), "flagged rows")
    assert 0 < len(memoised["patterns-flagged"]) < len(labelled) / 2
    con = warehouse.connect(db, read_only=True)
    try:
        current, previous = patterns.detect_with_previous(con, params, period)
        developers = patterns.active_developers_by_team(con, period)
        unsuppressed = patterns.org_pattern_table(con, params, period, 1)  # every figure shown (k = 1)
    finally:
        con.close()
    # page 04's org table, read from its own entry, is the table of the whole org's flagged weeks of the month
    _assert_same(memoised["patterns-org-table"], patterns.pattern_table(current, developers, params.privacy.k_anonymity),
                 "org table")
    _assert_same(unsuppressed, patterns.pattern_table(current, developers, 1), "org table, k = 1")
    assert len(unsuppressed) > 3 and unsuppressed["credits"].gt(0).all() and unsuppressed["users"].gt(0).all()
    # pages 05 and 06 read a team's delivery analysis from its entry: what the window gives for the team
    con = warehouse.connect(db, read_only=True)
    try:
        window = delivery_report.prepare(con, period, params)
        teams = delivery_report.team_deliveries(con, period, params)
        assert len(teams) > 5 and {d.verdict for d in teams.values()} - {"insufficient_data"}
        for team, analysis in teams.items():
            _assert_same(analysis, delivery_report.team_delivery(con, window, team), f"delivery of {team}")
            assert delivery_report.team_delivery_of(con, period, params, team) is not None
        unknown = delivery_report.team_delivery_of(con, period, params, "no-such-team")
        _assert_same(unknown, delivery_report.team_delivery(con, window, "no-such-team"), "an unknown team")
        # with the memo off, a page analyses its own team only, not every team to keep one
        monkeypatch.setenv("COPILOT_FINOPS_CACHE", "0")
        analysed = []
        real = delivery_report.team_delivery
        monkeypatch.setattr(delivery_report, "team_delivery", lambda c, w, t: analysed.append(t) or real(c, w, t))
        team = next(iter(teams))
        _assert_same(delivery_report.team_delivery_of(con, period, params, team), teams[team], "memo off")
        assert analysed == [team]
    finally:
        con.close()
    _assert_same(current, flagged_weeks(labelled, {"2026-10"}, min_weight=params.patterns.review_min_weight), "month")
    _assert_same(previous, flagged_weeks(labelled, {"2026-09"}, min_weight=params.patterns.review_min_weight), "before")
    assert not current.empty


def _entry(db) -> "Path":
    (entry,) = (db.parent / (db.name + ".cache")).glob("*.memo")
    return entry


def test_a_tampered_entry_is_refused_and_recomputed(db):
    compute = Counter()
    con = warehouse.connect(db, read_only=True)
    cache.memo(con, "thing", 1, compute)
    entry = _entry(db)
    data = bytearray(entry.read_bytes())
    data[-40] ^= 0x01  # one bit inside the frame's Arrow data
    entry.write_bytes(bytes(data))
    assert cache.memo(con, "thing", 1, compute)["call"].item() == 2
    assert cache.memo(con, "thing", 1, compute)["call"].item() == 2  # the recomputed entry is good again
    con.close()


def test_an_entry_sealed_for_another_warehouse_is_refused(tmp_path):
    """Same state name, same key, but another warehouse's seal: not this warehouse's memo."""
    paths = [tmp_path / "a" / "w.duckdb", tmp_path / "b" / "w.duckdb"]
    for path in paths:
        path.parent.mkdir()
        warehouse.connect(path).close()
    cons = [warehouse.connect(p, read_only=True) for p in paths]
    cache.memo(cons[0], "thing", 1, lambda: pd.DataFrame({"who": ["a"]}))
    cache.memo(cons[1], "thing", 1, lambda: pd.DataFrame({"who": ["b"]}))
    shutil.copy(_entry(paths[0]), _entry(paths[1]))
    assert cache.memo(cons[1], "thing", 1, lambda: pd.DataFrame({"who": ["b, again"]}))["who"].item() == "b, again"
    for con in cons:
        con.close()


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = "PLACEHOLDER"


def test_a_crafted_pickle_in_the_memo_folder_is_never_loaded(db, tmp_path):
    """The old format's file names, holding a pickle that runs a command when loaded: nothing runs."""
    global MARKER
    MARKER = str(tmp_path / "pwned")
    con = warehouse.connect(db, read_only=True)
    cache.memo(con, "thing", 1, Counter())
    entry = _entry(db)
    payload = pickle.dumps(_Exploit())
    for path in (entry, entry.with_suffix(".pkl")):
        path.write_bytes(payload)
    assert cache.memo(con, "thing", 1, Counter())["call"].item() == 1  # refused, recomputed
    con.close()
    assert not (tmp_path / "pwned").exists()
    assert not entry.with_suffix(".pkl").exists()  # files that are not sealed entries are deleted


def test_what_the_memo_cannot_store_is_returned_not_kept(db):
    con = warehouse.connect(db, read_only=True)
    assert cache.memo(con, "thing", 1, lambda: {1, 2}) == {1, 2}  # a set: not a type the memo stores
    assert not list((db.parent / "w.duckdb.cache").glob("*.memo")) if (db.parent / "w.duckdb.cache").exists() else True
    con.close()


def test_purge_clears_the_memo(small_demo, tmp_path):
    db = tmp_path / "w.duckdb"
    shutil.copy(small_demo.warehouse, db)
    shutil.copytree(small_demo.raw, tmp_path / "raw")
    params = load_params(ROOT / "params")
    con = warehouse.connect(db)
    patterns.org_team_weeks(con, params, parse_period("2026-10"))
    assert (tmp_path / "w.duckdb.cache").is_dir()
    retention.purge(con, Retention(user_level_days=30, raw_days=30), date(2026, 11, 5), tmp_path / "raw")
    con.close()
    assert not (tmp_path / "w.duckdb.cache").exists()


def _compute_once_in_a_child(db: str, log: str, start: float) -> int:
    """A report kernel's memoised call: waits for the common start, computes slowly, logs each compute."""
    import time

    con = warehouse.connect(db, read_only=True)
    time.sleep(max(0.0, start - time.time()))

    def compute():
        with open(log, "a") as fh:
            fh.write("computed\n")
        time.sleep(1.5)
        return pd.DataFrame({"value": [42]})

    try:
        return int(cache.memo(con, "org-wide", ("2026-10",), compute)["value"].item())
    finally:
        con.close()


def test_processes_asking_for_the_same_entry_at_once_compute_it_once(db, tmp_path):
    """The report fan-out starts several notebooks of a period together; an org-wide pass they share (page 04's
    pattern fit takes minutes at 30,000 developers) is computed by one of them while the others wait and read it."""
    import multiprocessing
    import time

    log = tmp_path / "computes.log"
    start = time.time() + 2.0
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        values = pool.starmap(_compute_once_in_a_child, [(str(db), str(log), start)] * 3)
    assert values == [42, 42, 42]
    assert log.read_text().count("computed") == 1
