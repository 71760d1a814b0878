"""The DuckDB warehouse: opening it, creating its tables, and (re)creating the SQL views in `sql/`.

The views are layered as dbt lays out models: `sql/staging/stg_*.sql` each read one table and only rename, cast
and derive row-local fields; `sql/intermediate/int_*.sql` join, aggregate and fall back; `sql/marts/mart_*.sql`
answer the notebooks' questions from staging and intermediate views only; `sql/aliases/` keeps the names views had
before the layers. Every view file starts with a `-- grain:` header (its key), every table in `sql/schema.sql`
has one too; views are created in the order of what each reads, which is read from the SQL itself.

A view whose header says `-- materialized: table` is org-wide work that every team report would otherwise redo in
each of its queries (membership with its roster fallback, the seat calendar, the per-user-day usage and cost
quantities, the report days) or that every team's page compares against (the org and every team per day, week and
month: peers, trends, the guardrail forecast, the delivery window). Its rows can be kept in a table, `mat_<view>`,
ordered by its grain, with the view reading that table, so its name, columns and rows stay what the SQL file
defines. The tables are a cache for the report fan-out: whatever changes the tables they read (`ingest`, `purge`, a
change of the team source) calls `mark_stale`, which points each such view back at its SQL and drops its table
(correct at once, and no purged row lingers; a daily ingest stays seconds), and `copilot-finops report` calls
`refresh_if_stale` before its notebooks start, which fills the tables once for every team's pages.
`warehouse_meta.materialized` says which: the views digest the tables were filled under, or 'stale'.
"""
from __future__ import annotations

import functools
import graphlib
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb

from . import cache
from .errors import UserError

SQL_PACKAGE = "copilot_finops.sql"
SCHEMA_FILE = "schema.sql"
# folder under sql/ -> (the prefix its view names take, what its views may read: "table" or a layer)
LAYERS = {
    "staging": ("stg_", {"table"}),
    "intermediate": ("int_", {"staging", "intermediate"}),
    "marts": ("mart_", {"staging", "intermediate"}),
    "aliases": ("", {"staging", "intermediate", "marts"}),
}

# Run-log tables change on every run (fetch_manifest: when each file was fetched); comparisons of warehouse
# contents leave them out.
RUN_LOG_TABLES = ("ingest_run", "ingest_file", "raw_file", "access_audit", "warehouse_meta", "purge_log",
                  "fetch_manifest")
MATERIALIZED_PREFIX = "mat_"  # the table that holds the rows of a `-- materialized: table` view
MATERIALIZED_KEY = "materialized"  # warehouse_meta: the views digest the materialized tables were filled under, or 'stale'


@dataclass(frozen=True)
class Grain:
    """A table's or view's key: `columns` are unique together and never NULL, except the `nullable` ones.

    A table with no natural key (a log) has no columns and says why in `reason`.
    """

    columns: tuple[str, ...]
    nullable: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class View:
    """One view file: its name, layer, path under sql/, SQL text, declared grain and the relations it reads."""

    name: str
    layer: str
    path: str
    sql: str
    grain: Grain
    reads: frozenset[str]
    materialized: bool = False  # `-- materialized: table`: its rows are kept in the table `table`

    @property
    def table(self) -> str:
        return MATERIALIZED_PREFIX + self.name


def _sql_files() -> list[tuple[str, str]]:
    """Every .sql file under sql/ as (path relative to sql/, text), in path order."""
    root = resources.files(SQL_PACKAGE)
    files = []
    for entry in root.iterdir():
        inner = entry.iterdir() if entry.is_dir() else [entry]
        for f in inner:
            if f.name.endswith(".sql"):
                files.append((f"{entry.name}/{f.name}" if entry.is_dir() else f.name, f.read_text()))
    return sorted(files)


def _views_digest() -> str:
    return hashlib.sha256("".join(n + s for n, s in _sql_files()).encode()).hexdigest()[:16]


_GRAIN = re.compile(r"^--\s*grain:\s*(.*?)\s*$", re.MULTILINE)
_NULLABLE = re.compile(r"^--\s*nullable:\s*([\w ,]+)", re.MULTILINE)
_MATERIALIZED = re.compile(r"^--\s*materialized:\s*table\b", re.MULTILINE)
_TABLE = re.compile(r"((?:^--[^\n]*\n)*)^CREATE TABLE IF NOT EXISTS (\w+)", re.MULTILINE)


def _grain(header: str, where: str) -> Grain:
    """The grain a comment block declares: `-- grain: a, b` (plus `-- nullable: a`), or `-- grain: none, why`."""
    found = _GRAIN.findall(header)
    if len(found) != 1:
        raise UserError(f"{where}: declare its key in one `-- grain: col, col` line (or `-- grain: none, <why>` "
                        f"for a log without one); found {len(found)}")
    text = found[0]
    if text.lower().startswith("none"):
        reason = text[4:].strip(" ,:-")
        if not reason:
            raise UserError(f"{where}: `-- grain: none` must say why there is no key, e.g. `-- grain: none, a log`")
        return Grain((), reason=reason)
    columns = tuple(c.strip() for c in text.split(","))
    nullable = tuple(c.strip() for m in _NULLABLE.findall(header) for c in m.split(",") if c.strip())
    if not all(re.fullmatch(r"\w+", c) for c in columns) or not set(nullable) <= set(columns):
        raise UserError(f"{where}: `-- grain: {text}` must list column names separated by commas, and "
                        "`-- nullable:` only columns of the grain")
    return Grain(columns, nullable)


def table_grains(schema: str | None = None) -> dict[str, Grain]:
    """Each table of schema.sql with the grain declared in the comment block right above its CREATE TABLE."""
    schema = dict(_sql_files())[SCHEMA_FILE] if schema is None else schema
    return {name: _grain(header, f"sql/{SCHEMA_FILE}, table {name}") for header, name in _TABLE.findall(schema)}


def _relations_read(con: duckdb.DuckDBPyConnection, path: str, sql: str) -> tuple[set[str], set[str]]:
    """(relations, CTE names) a SELECT reads, from DuckDB's own parse tree: subqueries and CTEs included."""
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    if tree.get("error"):
        raise UserError(f"sql/{path}: {tree.get('error_message', 'not a single SELECT')}: fix the SQL")
    read, ctes, stack = set(), set(), [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE":
                read.add(node["table_name"].lower())
            ctes.update(entry["key"].lower() for entry in (node.get("cte_map") or {}).get("map", []))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return read - ctes, ctes


def build_views(files: list[tuple[str, str]], tables: set[str]) -> list[View]:
    """The view files (path under sql/, SQL) as Views, in an order that creates each after the views it reads.

    Raises UserError, naming the file, for a missing or malformed grain header, a file outside the layer folders or
    named for another layer, a read of an unknown name, a read its layer may not make (a staging view reads exactly
    one table; intermediate views and marts read staging and intermediate views; an alias reads one view), or a
    cycle.
    """
    parsed: dict[str, View] = {}
    ctes: dict[str, set[str]] = {}
    con = duckdb.connect()
    try:
        for path, sql in files:
            layer, _, file = path.rpartition("/")
            if layer not in LAYERS or not file.startswith(LAYERS[layer][0]):
                raise UserError(f"sql/{path}: a view file belongs in one of "
                                + ", ".join(f"{d}/{prefix}*.sql" for d, (prefix, _) in LAYERS.items()))
            name = _view_name(path)
            if name in parsed or name in tables:
                raise UserError(f"sql/{path}: the name {name} is taken by another view or a table: rename the file")
            reads, ctes[name] = _relations_read(con, path, sql)
            header = _header(sql)
            parsed[name] = View(name, layer, path, sql, _grain(header, f"sql/{path}"), frozenset(reads),
                                bool(_MATERIALIZED.search(header)))
    finally:
        con.close()
    kind = {**{t: "table" for t in tables}, **{n: v.layer for n, v in parsed.items()}}
    for view in parsed.values():
        where = f"sql/{view.path}"
        if ctes[view.name] & kind.keys():
            raise UserError(f"{where}: the CTE {min(ctes[view.name] & kind.keys())} has the name of a table or view: "
                            "rename the CTE")
        unknown = sorted(view.reads - kind.keys())
        if unknown:
            raise UserError(f"{where} reads {', '.join(unknown)}, which is no table in sql/{SCHEMA_FILE} and no view "
                            "in sql/: fix the name or add the view")
        one = view.layer in ("staging", "aliases")
        if any(kind[r] not in LAYERS[view.layer][1] for r in view.reads) or (one and len(view.reads) != 1):
            rule = {"staging": "a staging view reads exactly one table", "aliases": "an alias reads exactly one view"}
            raise UserError(f"{where} reads {', '.join(f'{r} ({kind[r]})' for r in sorted(view.reads))}, but "
                            + rule.get(view.layer, "intermediate views and marts read staging and intermediate "
                                                   "views only")
                            + ": move the read or the join to the right layer")
    sorter = graphlib.TopologicalSorter({n: {r for r in v.reads if r in parsed} for n, v in parsed.items()})
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        raise UserError(f"the views read each other in a cycle: {' -> '.join(exc.args[1])}: break it") from None
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    ordered = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda n: (rank[parsed[n].layer], n))
        ordered += [parsed[n] for n in ready]
        sorter.done(*ready)
    return ordered


def _view_name(path: str) -> str:
    """A view file's view: its name without `.sql` (path under sql/)."""
    return path.rpartition("/")[2].removesuffix(".sql")


def _header(sql: str) -> str:
    """The comment lines a file starts with."""
    lines = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line)
    return "\n".join(lines) + "\n"


@functools.cache
def views() -> tuple[View, ...]:
    """The package's views, each after the views it reads (see `build_views`)."""
    files = [(p, s) for p, s in _sql_files() if p != SCHEMA_FILE]
    return tuple(build_views(files, set(table_grains())))


def grains() -> dict[str, Grain]:
    """The declared grain of every table (schema.sql), view (sql/*/) and materialized view's table, by name."""
    return {**table_grains(), **{v.name: v.grain for v in views()},
            **{v.table: v.grain for v in views() if v.materialized}}


def connect(path: str | Path, read_only: bool = False, row_group_size: int | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file; a writable open creates the tables and refreshes the views if the SQL changed.

    A read-only open of a missing file is an error that says how to build it. `row_group_size`
    (a multiple of 2048) sets the rows per row group of what this connection writes; ingest uses
    small ones (see `ingest.ROW_GROUP_SIZE`).
    """
    path = Path(path)
    if read_only and not path.exists():
        raise UserError(
            f"warehouse {path} does not exist: build it with `copilot-finops ingest RAWDIR --warehouse {path}` "
            "(or `copilot-finops demo` for the demo org)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--warehouse {path}: cannot make its folder {path.parent} ({exc.strerror}): "
                        "give a path in a folder of yours") from None
    new = not path.exists()
    try:
        if row_group_size and not read_only:
            con = duckdb.connect()
            con.execute(f"SET temp_directory = '{_quote(str(path))}.tmp'")  # where a file-backed open spills
            con.execute(f"ATTACH '{_quote(str(path))}' AS warehouse (ROW_GROUP_SIZE {int(row_group_size)})")
            con.execute("USE warehouse")
        else:
            con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        raise UserError(f"cannot open warehouse {path}: {exc}. If another copilot-finops command is writing it, "
                        "wait for that to finish, or pass another --warehouse.") from exc
    if new and path.exists():
        os.chmod(path, 0o600)  # it holds logins: its owner's alone (privacy.restrict may add a readers group)
    # DuckDB's own progress bar writes to stdout, where --json promises one document and nothing else.
    # Inside a Jupyter kernel DuckDB refuses to change the setting (it wants ipywidgets) and draws none.
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:
        pass
    if not read_only:
        ensure_schema(con)
        cache.ensure_key(con)
    else:
        _check_views_current(con, path)
    return con


def _check_views_current(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """A read-only open cannot refresh the views: refuse a warehouse whose views other SQL made (an older version)."""
    try:
        row = con.execute("SELECT value FROM warehouse_meta WHERE key = 'views_digest'").fetchone()
    except duckdb.Error:
        row = None
    if not row or row[0] != _views_digest():
        con.close()
        raise UserError(f"warehouse {path} holds the views of another copilot-finops version: refresh them with "
                        f"`copilot-finops ingest RAWDIR --warehouse {path}` (unchanged files are not read again)")


def _quote(text: str) -> str:
    return text.replace("'", "''")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables that are missing; re-create every view when the package's SQL changed since the last time."""
    con.execute(dict(_sql_files())[SCHEMA_FILE])
    current = con.execute("SELECT value FROM warehouse_meta WHERE key = 'views_digest'").fetchone()
    digest = _views_digest()
    if current and current[0] == digest:
        return
    for view in views():
        con.execute(f"CREATE OR REPLACE VIEW {view.name} AS\n{view.sql}")
    _drop_materialized_tables(con)  # filled again by the next report run (refresh_if_stale)
    con.execute("DELETE FROM warehouse_meta WHERE key IN ('views_digest', ?)", [MATERIALIZED_KEY])
    con.execute("INSERT INTO warehouse_meta VALUES ('views_digest', ?), (?, 'stale')", [digest, MATERIALIZED_KEY])


def _drop_materialized_tables(con: duckdb.DuckDBPyConnection) -> None:
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND "
                                "database_name = current_database() AND starts_with(table_name, ?)",
                                [MATERIALIZED_PREFIX]).fetchall():
        con.execute(f"DROP TABLE {table}")


def _fill(con: duckdb.DuckDBPyConnection, view: View) -> None:
    """(Re)compute a materialized view's table from its SQL, ordered by its grain (the filters reports use)."""
    order = ", ".join(view.grain.columns)
    con.execute(f"CREATE OR REPLACE TABLE {view.table} AS SELECT * FROM (\n{view.sql}\n) ORDER BY {order}")


def mark_stale(con: duckdb.DuckDBPyConnection) -> None:
    """Before changing the tables the materialized views read: point each such view back at its SQL and drop its
    table, and record them stale. Every read stays correct (slower) until `refresh_materialized`; a purge leaves no
    row behind in them. Cheap: what an ingest of one new day pays, and nothing when they are stale already (every
    writer of the state records it last, after the views and tables changed). The views are found by their files'
    headers (`views()` would parse every file's SQL first, a tenth of a second); the order does not matter here."""
    row = con.execute("SELECT value FROM warehouse_meta WHERE key = ?", [MATERIALIZED_KEY]).fetchone()
    if row and row[0] == "stale":
        return
    for path, sql in _sql_files():
        if path != SCHEMA_FILE and _MATERIALIZED.search(_header(sql)):
            con.execute(f"CREATE OR REPLACE VIEW {_view_name(path)} AS\n{sql}")
    _drop_materialized_tables(con)
    _record_materialized(con, "stale")


def is_stale(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute("SELECT value FROM warehouse_meta WHERE key = ?", [MATERIALIZED_KEY]).fetchone()
    return any(v.materialized for v in views()) and (not row or row[0] != _views_digest())


def refresh_materialized(con: duckdb.DuckDBPyConnection) -> None:
    """Fill the table of every materialized view from the current tables, each after the views it reads, point the
    view at it and record them current. Idempotent; runs in the caller's transaction (call it before COMMIT)."""
    con.execute("SET preserve_insertion_order = true")  # the tables keep their grain's order (zone maps)
    for view in views():
        if view.materialized:
            _fill(con, view)
            con.execute(f"CREATE OR REPLACE VIEW {view.name} AS SELECT * FROM {view.table}")
    _record_materialized(con, _views_digest())


def _record_materialized(con: duckdb.DuckDBPyConnection, state: str) -> None:
    con.execute("DELETE FROM warehouse_meta WHERE key = ?", [MATERIALIZED_KEY])
    con.execute("INSERT INTO warehouse_meta VALUES (?, ?)", [MATERIALIZED_KEY, state])


def refresh_if_stale(path: str | Path) -> float | None:
    """What `copilot-finops report` does before its notebooks start: fill the materialized views' tables if an
    ingest, purge or team-source change left them stale. Returns the seconds it took, None when they were current."""
    con = connect(path, read_only=True)
    try:
        if not is_stale(con):
            return None
    finally:
        con.close()
    started = time.perf_counter()
    con = connect(path)
    try:
        con.execute("BEGIN")
        refresh_materialized(con)
        con.execute("COMMIT")
    finally:
        con.close()
    return time.perf_counter() - started


def table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The warehouse's own tables, without the tables of materialized views (rows the views derive from them)."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
        "AND table_schema = 'main' AND NOT starts_with(table_name, ?) ORDER BY table_name",
        [MATERIALIZED_PREFIX]).fetchall()
    return [r[0] for r in rows]


def table_digest(con: duckdb.DuckDBPyConnection, table: str, exclude: tuple[str, ...] = ()) -> tuple[int, str]:
    """Row count and an order-independent digest of a table's contents, for equality checks."""
    cols = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position", [table]
    ).fetchall() if r[0] not in exclude]
    expr = ", ".join(f'"{c}"' for c in cols)
    n, digest = con.execute(
        f"SELECT count(*), coalesce(sum(hash(({expr}))::HUGEINT), 0)::VARCHAR FROM {table}").fetchone()
    return int(n), digest
