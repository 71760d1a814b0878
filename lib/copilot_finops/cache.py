"""A memo, beside the warehouse, of org-wide analyses that every team's report would otherwise redo.

Each team notebook needs the org-wide pattern fit and delivery window (peers judge peers), and
recomputing them in every one of a period's notebooks was most of the report set's time. An entry
is keyed by the warehouse file's size and modification time (and its WAL's), the params and the
package's code, so any ingest, purge, params or code change makes a fresh one; entries of an
older warehouse state are deleted when a new one is written (they may hold user-level rows that
`purge` has since removed). COPILOT_FINOPS_CACHE=0 turns the memo off.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import os
import pickle
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Callable, TypeVar

import duckdb

T = TypeVar("T")


@lru_cache(maxsize=1)
def code_version() -> str:
    """Digest of the package's Python and SQL sources: a code change invalidates every entry."""
    root = Path(__file__).parent
    h = hashlib.sha256()
    for path in sorted(list(root.rglob("*.py")) + list(root.rglob("*.sql"))):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def warehouse_file(con: duckdb.DuckDBPyConnection) -> Path | None:
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return Path(row[0]) if row and row[0] else None


def _state(path: Path) -> str:
    parts = []
    for p in (path, Path(str(path) + ".wal")):
        if p.exists():
            st = p.stat()
            parts.append(f"{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def memo(con: duckdb.DuckDBPyConnection, name: str, key: object, compute: Callable[[], T]) -> T:
    """`compute()`, or its result from an earlier call with the same warehouse state, name and key.

    `key` must capture every input besides the warehouse (period, params, random_state ...) in its repr;
    `memoised` builds it from a function's arguments.
    """
    path = warehouse_file(con)
    if path is None or os.environ.get("COPILOT_FINOPS_CACHE", "1") == "0":
        return compute()
    folder = Path(str(path) + ".cache")
    state = _state(path)
    entry = folder / f"{state}-{name}-{hashlib.sha256(repr((key, code_version())).encode()).hexdigest()[:16]}.pkl"
    if entry.exists():
        try:
            with open(entry, "rb") as fh:
                return pickle.load(fh)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
            pass  # a torn or outdated entry: compute afresh
    value = compute()
    try:
        folder.mkdir(exist_ok=True)
        for old in folder.glob("*.pkl"):
            if not old.name.startswith(state + "-"):
                old.unlink(missing_ok=True)
        tmp = folder / f".{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, entry)
    except OSError:
        pass  # a read-only place: the result is still right, only not kept
    return value


def memoised(name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorate `fn(con, ...)` so its result is memoised under `name`, keyed by every other argument.

    The key is built from the call's bound arguments (defaults applied; params models by their JSON,
    anything else by its repr), so no input can be left out of it by mistake.
    """
    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def memoised_fn(con: duckdb.DuckDBPyConnection, *args, **kwargs) -> T:
            bound = signature.bind(con, *args, **kwargs)
            bound.apply_defaults()
            key = tuple((arg, value.model_dump_json() if hasattr(value, "model_dump_json") else repr(value))
                        for arg, value in list(bound.arguments.items())[1:])
            return memo(con, name, key, lambda: fn(con, *args, **kwargs))
        return memoised_fn
    return wrap


def clear(con: duckdb.DuckDBPyConnection) -> int:
    """Delete every memo entry of this warehouse (purge calls it: entries may hold purged rows)."""
    path = warehouse_file(con)
    folder = Path(str(path) + ".cache") if path else None
    removed = 0
    if folder and folder.is_dir():
        for entry in folder.iterdir():
            entry.unlink(missing_ok=True)
            removed += 1
        folder.rmdir()
    return removed
