"""The DuckDB warehouse: opening it, creating its tables, and (re)creating the SQL views in `sql/`."""
from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import duckdb

from .errors import UserError

SQL_PACKAGE = "copilot_finops.sql"

# Run-log tables change on every run; comparisons of warehouse contents leave them out.
RUN_LOG_TABLES = ("ingest_run", "ingest_file", "access_audit", "warehouse_meta", "purge_log")


def _sql_files() -> list[tuple[str, str]]:
    folder = resources.files(SQL_PACKAGE)
    return sorted((f.name, f.read_text()) for f in folder.iterdir() if f.name.endswith(".sql"))


def view_files() -> list[tuple[str, str]]:
    """Staging views first, then marts, each in name order so a mart can build on an earlier one."""
    files = [(n, s) for n, s in _sql_files() if n != "schema.sql"]
    layer = {"stg": 0, "int": 1, "mart": 2}
    return sorted(files, key=lambda f: (layer.get(f[0].split("_", 1)[0], 3), f[0]))


def _views_digest() -> str:
    return hashlib.sha256("".join(n + s for n, s in _sql_files()).encode()).hexdigest()[:16]


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
    path.parent.mkdir(parents=True, exist_ok=True)
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
    # DuckDB's own progress bar writes to stdout, where --json promises one document and nothing else.
    # Inside a Jupyter kernel DuckDB refuses to change the setting (it wants ipywidgets) and draws none.
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:
        pass
    if not read_only:
        ensure_schema(con)
    return con


def _quote(text: str) -> str:
    return text.replace("'", "''")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    schema = dict(_sql_files())["schema.sql"]
    con.execute(schema)
    current = con.execute("SELECT value FROM warehouse_meta WHERE key = 'views_digest'").fetchone()
    digest = _views_digest()
    if current and current[0] == digest:
        return
    for name, sql in view_files():
        view = name[:-4]
        con.execute(f"CREATE OR REPLACE VIEW {view} AS\n{sql}")
    con.execute("DELETE FROM warehouse_meta WHERE key = 'views_digest'")
    con.execute("INSERT INTO warehouse_meta VALUES ('views_digest', ?)", [digest])


def table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
        "AND table_schema = 'main' ORDER BY table_name").fetchall()
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
