"""Keys and layers of the warehouse: every table and view declares its grain, and on the demo warehouse each key is
unique and never NULL and the relationships the reports rest on hold; the view catalogue creates views after what
they read and refuses SQL that breaks the layers."""
from __future__ import annotations

import shutil

import pytest

from copilot_finops import cost, warehouse
from copilot_finops.errors import UserError
from copilot_finops.retention import ARCHIVED_MARTS
from copilot_finops.period import parse_period


def declared_grains() -> dict[str, warehouse.Grain]:
    grains = warehouse.grains()
    for mart in ARCHIVED_MARTS:  # purge's archive tables hold rows of their mart, so they keep its grain
        grains["archive_" + mart.removeprefix("mart_")] = grains[mart]
    return grains


GRAINS = declared_grains()
KEYED = sorted(name for name, grain in GRAINS.items() if grain.columns and not name.startswith("archive_"))
# Empty on a demo warehouse: nothing was unreadable, purged, accessed in incident mode, alerted, missing from the
# reports, of a field no parser knows, or reviewed by an analyst; its teams are GitHub's, so no team map or cost
# centers and no recorded team source. test_alerts.py checks alert_sent's key, test_ingest.py unknown_field's,
# test_teams_source.py the team sources'.
EMPTY_ON_DEMO = {"quarantine", "purge_log", "access_audit", "alert_sent", "mart_data_gap", "data_gap", "unknown_field",
                 "team_assignment", "stg_team_assignment", "team_source", "stg_team_source",
                 "pattern_review"}  # nobody reviewed: test_patterns_review.py stores and replaces reviews by key

KNOWN_USERS = "SELECT user_id FROM user_day UNION SELECT user_id FROM seat"  # in a users report or holding a seat
TEAMS = "SELECT team_slug FROM stg_team"
# (child, its columns, a query of the parent keys): every child row (with no NULL in those columns) has a parent.
RELATIONSHIPS = [
    ("int_user_team_day", "user_id", KNOWN_USERS),  # every user-team row's user exists
    ("int_user_team_day", "team_id", "SELECT team_id FROM team"),
    ("int_team_member_day", "user_id", KNOWN_USERS),
    *[(name, "team_slug", TEAMS) for name in KEYED  # every team row's team (a team map's teams are its own)
      if "team_slug" in GRAINS[name].columns and name not in EMPTY_ON_DEMO],
    *[(table, "day, user_id", "SELECT day, user_id FROM user_day")  # a breakdown row belongs to its user-day
      for table in ("user_day_feature", "user_day_model_feature", "user_day_language_feature", "user_day_ide")],
    ("int_cost_seat_day", "user_id", "SELECT user_id FROM seat"),
    ("review", "repo, number", "SELECT repo, number FROM pull_request"),
    ("pull_request_file", "repo, number", "SELECT repo, number FROM pull_request"),
    ("deployment_status", "repo, deployment_id", "SELECT repo, deployment_id FROM deployment"),
]


@pytest.fixture(scope="module")
def demo(small_demo, tmp_path_factory):
    """The demo warehouse as a report run reads it: its materialized views' tables filled (a copy: others share it)."""
    path = tmp_path_factory.mktemp("grains") / "warehouse.duckdb"
    shutil.copy(small_demo.warehouse, path)
    warehouse.refresh_if_stale(path)
    con = warehouse.connect(path, read_only=True)
    yield con
    con.close()


def test_every_table_and_view_of_the_warehouse_declares_its_grain(demo):
    present = dict(demo.execute("""SELECT table_name, table_type FROM information_schema.tables
                                   WHERE table_schema = 'main' AND table_catalog = current_database()""").fetchall())
    assert sorted(set(present) - set(GRAINS)) == []  # a new table or view must say what its key is
    views = {v.name for v in warehouse.views()}
    assert views <= {n for n, kind in present.items() if kind == "VIEW"}
    assert set(warehouse.table_grains()) <= {n for n, kind in present.items() if kind == "BASE TABLE"}
    assert all(GRAINS[name].reason for name in present if not GRAINS[name].columns)  # no key: it says why


@pytest.mark.parametrize("name", KEYED)
def test_key_is_unique_and_not_null_on_the_demo_warehouse(demo, name):
    grain = GRAINS[name]
    key = ", ".join(grain.columns)
    not_null = [c for c in grain.columns if c not in grain.nullable]
    rows, distinct, nulls = demo.execute(f"""
        SELECT count(*), count(DISTINCT row({key})),
               count(*) FILTER (WHERE {' OR '.join(f'{c} IS NULL' for c in not_null)})
        FROM {name}""").fetchone()
    assert rows > 0 or name in EMPTY_ON_DEMO, f"{name} is empty on the demo warehouse: its key is not tested"
    duplicates = demo.execute(f"SELECT {key}, count(*) FROM {name} GROUP BY ALL HAVING count(*) > 1 LIMIT 3").fetchall()
    assert (rows - distinct, duplicates) == (0, []), f"{name} repeats its key ({key})"
    assert nulls == 0, f"{name} has NULL in its key ({', '.join(not_null)})"


@pytest.mark.parametrize("child, columns, parents", RELATIONSHIPS, ids=[f"{c}.{k}" for c, k, _ in RELATIONSHIPS])
def test_relationship_holds_on_the_demo_warehouse(demo, child, columns, parents):
    cols = [c.strip() for c in columns.split(",")]
    rows, orphans = demo.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE p.found IS NULL)
        FROM {child} LEFT JOIN (SELECT DISTINCT {columns}, true AS found FROM ({parents})) p USING ({columns})
        WHERE {' AND '.join(f'{child}.{c} IS NOT NULL' for c in cols)}""").fetchone()
    assert rows > 0 and orphans == 0, f"{orphans} of {rows} rows of {child} have no parent ({columns})"


def test_the_shared_seat_months_agree_with_the_org_figure_of_the_cost_model(demo):
    """int_scope_month_seats is where seat-months are defined; its org rows are the cost model's org seat-months."""
    rows = demo.execute("""SELECT period, seat_months, business_seat_months, enterprise_seat_months
                           FROM int_scope_month_seats WHERE team_slug IS NULL ORDER BY period""").fetchall()
    assert len(rows) >= 2
    for period, seat_months, business, enterprise in rows:
        org = cost.org_month_quantities(demo, parse_period(period))
        assert (seat_months, business, enterprise) == (
            org["seat_months"], org["business_seat_months"], org["enterprise_seat_months"]), period
    # the team rows are what the team-month mart reports
    mart = demo.execute("""SELECT count(*), count(*) FILTER (WHERE m.seat_months = coalesce(s.seat_months, 0))
                           FROM mart_team_month_cost m
                           LEFT JOIN int_scope_month_seats s USING (team_slug, period)""").fetchone()
    assert mart[0] > 0 and mart[0] == mart[1]


def test_premium_allowance_inputs_per_user_month_on_the_hand_built_org(tiny):
    """tests/test_cost.py's org: in May (premium-request billing) u1 was billed 500 requests, u4 100, both on business
    seats; June is billed in AI credits, so its premium requests are 0."""
    rows = tiny.execute("""SELECT user_id, period, plan_type, premium_requests FROM int_cost_user_month
                           WHERE period IN ('2026-05', '2026-06') ORDER BY period, user_id""").fetchall()
    assert rows == [(1, "2026-05", "business", 500.0), (4, "2026-05", "business", 100.0),
                    (1, "2026-06", "business", 0.0)]


# -- the catalogue: layers, order, errors -----------------------------------------------------------------------------
def _view(path: str, reads: str, grain: str = "x") -> tuple[str, str]:
    return path, f"-- grain: {grain}\n-- a view for the test\nSELECT x FROM {reads}"


STAGING = _view("staging/stg_t.sql", "t")


def test_views_are_created_after_the_views_they_read_whatever_their_names():
    files = [_view("intermediate/int_a.sql", "int_b"), _view("intermediate/int_b.sql", "stg_t"),
             _view("marts/mart_a.sql", "int_a JOIN int_b USING (x)"), STAGING]
    assert [v.name for v in warehouse.build_views(files, {"t"})] == ["stg_t", "int_b", "int_a", "mart_a"]
    order = [v.name for v in warehouse.views()]
    for position, view in enumerate(warehouse.views()):
        assert {r for r in view.reads if r in order} <= set(order[:position]), view.name


def test_reads_are_found_in_subqueries_and_ctes_and_ctes_are_not_reads():
    files = [STAGING, ("intermediate/int_a.sql", "-- grain: x\nWITH w AS (SELECT x FROM stg_t)\n"
                                                  "SELECT x FROM w WHERE x IN (SELECT x FROM int_b)"),
             _view("intermediate/int_b.sql", "stg_t")]
    assert {v.name: v.reads for v in warehouse.build_views(files, {"t"})}["int_a"] == {"stg_t", "int_b"}


@pytest.mark.parametrize("files, message", [
    ([STAGING, _view("intermediate/int_a.sql", "int_b"), _view("intermediate/int_b.sql", "int_a")],
     "cycle: int_"),
    ([STAGING, _view("intermediate/int_a.sql", "stg_nope")], "sql/intermediate/int_a.sql reads stg_nope, which is no"),
    ([_view("staging/stg_t.sql", "t JOIN u USING (x)")], "a staging view reads exactly one table"),
    ([STAGING, _view("staging/stg_u.sql", "stg_t")], "a staging view reads exactly one table"),
    ([STAGING, _view("marts/mart_a.sql", "t")], "intermediate views and marts read staging and intermediate"),
    ([STAGING, _view("intermediate/int_a.sql", "stg_t"), _view("marts/mart_a.sql", "int_a"),
      _view("marts/mart_b.sql", "mart_a")], "sql/marts/mart_b.sql reads mart_a (marts)"),
    ([STAGING, _view("aliases/old_name.sql", "stg_t JOIN stg_t USING (x)"), _view("aliases/two.sql", "t")],
     "an alias reads exactly one view"),
    ([("staging/stg_t.sql", "-- a view without a key\nSELECT x FROM t")], "sql/staging/stg_t.sql: declare its key"),
    ([_view("staging/stg_t.sql", "t", grain="none")], "must say why there is no key"),
    ([_view("marts/stg_t.sql", "t")], "sql/marts/stg_t.sql: a view file belongs in"),
    ([_view("stg_t.sql", "t")], "sql/stg_t.sql: a view file belongs in"),
    ([STAGING, ("intermediate/int_a.sql", "-- grain: x\nWITH stg_t AS (SELECT 1 AS x) SELECT x FROM stg_t")],
     "the CTE stg_t has the name of a table or view"),
    ([STAGING, ("intermediate/int_a.sql", "-- grain: x\nSELEC x FROM stg_t")], "sql/intermediate/int_a.sql: "),
])
def test_the_catalogue_refuses_sql_that_breaks_the_layers_with_the_file_and_the_fix(files, message):
    with pytest.raises(UserError) as info:
        warehouse.build_views(files, {"t", "u"})
    assert message in str(info.value)


def test_tables_declare_their_grain_in_the_comment_above_them():
    schema = ("-- Tables.\n\n-- grain: day, user_id\nCREATE TABLE IF NOT EXISTS a (day DATE, user_id BIGINT);\n\n"
              "-- grain: none, a log\nCREATE TABLE IF NOT EXISTS b (at TIMESTAMP);\n")
    assert warehouse.table_grains(schema) == {"a": warehouse.Grain(("day", "user_id")),
                                              "b": warehouse.Grain((), reason="a log")}
    with pytest.raises(UserError, match=r"sql/schema.sql, table c: declare its key"):
        warehouse.table_grains(schema + "\nCREATE TABLE IF NOT EXISTS c (day DATE);\n")
