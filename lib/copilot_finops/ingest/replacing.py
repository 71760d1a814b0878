"""Rows that replace what a table holds by natural key, one file's worth at a time or merged over a batch of files.

A file's `Replacement` for a table deletes the rows of its groups (`replace_by`, by default the key) and inserts
its rows. Applied one after another, the files of a batch leave each group as the last file naming it wrote
it; `apply` computes that outcome in Python and writes it with one DELETE and one INSERT a table, since each
statement scans the table and a daily fetch brings dozens of small documents of a kind. Rows reach DuckDB as
Arrow columns typed like the table's own, so every value arrives exactly as Python held it.

A table whose groups carry a digest of what they were built from (`Replacement.digest`) is written only where the
digest changed: a daily fetch brings again every pull request of its settling window, most of them as they were,
and their file lists need neither a new patch sketch nor a delete and insert. The comparison is made after the
batch is merged, against what the table holds, so the outcome is the one file-by-file loading gives.
"""
from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Callable

import duckdb
import pyarrow as pa

_ARROW = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int32(), "DOUBLE": pa.float64(),
          "BOOLEAN": pa.bool_(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us")}


@dataclass
class Replacement:
    """One file's rows for `table`: they replace the rows of the table in the same `replace_by` groups.

    rows : one tuple per row, its values in the order of `columns`; duplicates on `key` already dropped (the last
        kept).
    groups : the `replace_by` values this file replaces, when more than its rows name (a snapshot day with no
        seats still empties the day); None for the rows' own.
    digest : the column holding a digest of everything a group's rows are built from (the same in each row of
        the group), or None. A group whose rows the table already holds with the same digest is left as it is.
    finish : applied to each row that is written, after the digests are compared (work worth skipping for the
        groups that did not change, such as a patch's sketch); None writes the rows as they are.
    """

    table: str
    columns: list[str]
    rows: list[tuple]
    key: list[str]
    replace_by: list[str]
    groups: list[tuple] | None = None
    digest: str | None = None
    finish: Callable[[tuple], tuple] | None = None

    def group_values(self) -> list[tuple]:
        if self.groups is not None:
            return self.groups
        return list(dict.fromkeys(map(getter(self.columns, self.replace_by), self.rows)))


def getter(columns: list[str], names: list[str]) -> Callable[[tuple], tuple]:
    """A function giving the tuple of a row's values of `names` (a row holding the values of `columns`)."""
    positions = [columns.index(n) for n in names]
    if len(positions) == 1:
        position = positions[0]
        return lambda row: (row[position],)
    return itemgetter(*positions)


def replacement(table: str, columns: list[str], rows: list, key: list[str], replace_by: list[str] | None = None,
                groups: list[tuple] | None = None, digest: str | None = None,
                finish: Callable[[tuple], tuple] | None = None) -> Replacement:
    """A Replacement of `rows` (tuples in the order of `columns`, or dicts with every name of `columns`),
    duplicates on `key` dropped (the last one kept, where the first one stood)."""
    if digest is not None and groups is not None:
        raise ValueError("a digest compares the groups the rows name: it cannot go with explicit groups")
    if rows and isinstance(rows[0], dict):
        rows = list(map(itemgetter(*columns), rows))
    positions = [columns.index(k) for k in key]
    by_key = dict(zip(map(itemgetter(*positions), rows), rows))  # one key column: the value itself, not a tuple
    if len(by_key) < len(rows):
        rows = list(by_key.values())
    return Replacement(table, columns, rows, key, replace_by or key, groups, digest, finish)


def _arrow_type(duckdb_type: str) -> pa.DataType | None:
    if duckdb_type.endswith("[]"):
        inner = _arrow_type(duckdb_type[:-2])
        return None if inner is None else pa.list_(inner)
    return _ARROW.get(duckdb_type)


_TYPES: dict[tuple[str, str], pa.DataType | None] = {}  # (table, column) -> Arrow type; schema.sql never retypes one


def _types(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> list[pa.DataType | None]:
    """The Arrow type of each column (None for a type `_ARROW` lacks: Arrow infers it, DuckDB casts)."""
    if any((table, c) not in _TYPES for c in columns):  # every table's at once: each query costs milliseconds
        for name, column, duckdb_type in con.execute("SELECT table_name, column_name, data_type "
                                                     "FROM information_schema.columns WHERE table_schema = 'main' "
                                                     "AND table_catalog = current_database()").fetchall():
            _TYPES[(name, column)] = _arrow_type(duckdb_type)
    return [_TYPES[(table, c)] for c in columns]


def _arrow_table(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[tuple]) -> pa.Table:
    """`rows` (tuples in the order of `columns`) as an Arrow table typed like `table`'s columns, a column at a time."""
    types = _types(con, table, columns)
    return pa.Table.from_arrays([pa.array(values, type=t) for values, t in zip(zip(*rows), types)], names=columns)


def merged(replacements: list[Replacement]) -> tuple[list[tuple] | None, list[tuple]]:
    """(groups to delete, rows to insert) of replacements of one table applied in order: each group as the last
    replacement naming it left it. The groups are None when they are those the rows to insert name (no
    replacement gave more): the last replacement naming a group inserts its rows."""
    own = all(r.groups is None for r in replacements)
    if len(replacements) == 1:
        return None if own else replacements[0].group_values(), replacements[0].rows
    groups = [r.group_values() for r in replacements]
    last: dict[tuple, int] = {}
    for i, values in enumerate(groups):
        last.update(dict.fromkeys(values, i))
    rows = []
    for i, (r, values) in enumerate(zip(replacements, groups)):
        if r.groups is None and all(last[g] == i for g in values):  # no later file names its rows' groups
            rows.extend(r.rows)
            continue
        group_of = getter(r.columns, r.replace_by)
        rows.extend(row for row in r.rows if last[group_of(row)] == i)
    return None if own else list(last), rows


def _changed(con: duckdb.DuckDBPyConnection, r: Replacement, rows: list[tuple]) -> list[tuple]:
    """`rows` without those of the groups `r.table` already holds with the same digest (`r.digest`)."""
    group_of = getter(r.columns, r.replace_by)
    digest_of = getter(r.columns, [r.digest])
    incoming = list(dict.fromkeys(group + digest_of(row) for row in rows for group in (group_of(row),)))
    names = [*r.replace_by, r.digest]
    con.register("incoming_digest", _arrow_table(con, r.table, names, incoming))
    on = " AND ".join(f't."{n}" = g."{n}"' for n in names)
    cols = ", ".join(f'g."{n}"' for n in r.replace_by)
    same = set(con.execute(f"SELECT DISTINCT {cols} FROM incoming_digest g JOIN {r.table} t ON {on}").fetchall())
    con.unregister("incoming_digest")
    if not same:
        return rows
    return [row for row in rows if group_of(row) not in same]


def apply(con: duckdb.DuckDBPyConnection, replacements: list[Replacement], compare: bool = True) -> None:
    """Apply replacements in order, as one DELETE and one INSERT per table.

    compare : leave the groups whose digest the table already holds as they are (see `Replacement.digest`);
        False writes every group again (`ingest --full`).
    """
    if not replacements:
        return
    con.fetchall()  # finishes a query result left unread (after a fetchone): DuckDB refuses register() until then
    by_table: dict[str, list[Replacement]] = {}
    for r in replacements:
        by_table.setdefault(r.table, []).append(r)
    for table, group in by_table.items():
        first = group[0]
        if any((r.columns, r.key, r.replace_by, r.digest, r.finish)
               != (first.columns, first.key, first.replace_by, first.digest, first.finish) for r in group):
            raise ValueError(f"replacements of {table} differ in columns, keys or digest")
        groups, rows = merged(group)
        if first.digest is not None and compare and rows:
            rows = _changed(con, first, rows)
        if first.finish is not None:
            rows = list(map(first.finish, rows))
        by = first.replace_by
        cond = " AND ".join(f't."{k}" = g."{k}"' for k in by)
        cols = ", ".join(f'"{c}"' for c in first.columns)
        if rows:
            con.register("incoming", _arrow_table(con, table, first.columns, rows))
        # (DuckDB reads the groups of the incoming rows itself, rather than Python building them row by row)
        if groups is None and rows:
            by_cols = ", ".join(f'"{k}"' for k in by)
            con.execute(f"DELETE FROM {table} t USING (SELECT DISTINCT {by_cols} FROM incoming) g WHERE {cond}")
        elif groups:
            con.register("replaced_group", _arrow_table(con, table, by, groups))
            con.execute(f"DELETE FROM {table} t USING replaced_group g WHERE {cond}")
            con.unregister("replaced_group")  # not in a `finally`: in an aborted transaction it would hide the error
        if rows:
            con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM incoming")
            con.unregister("incoming")
