"""A memo, beside the warehouse, of org-wide analyses that every team's report would otherwise redo.

Each team notebook needs the org-wide pattern fit and delivery window (peers judge peers), and
recomputing them in every one of a period's notebooks was most of the report set's time. An entry
is keyed by the warehouse file's size and modification time (and its WAL's), the params and the
package's code, so any ingest, purge, params or code change makes a fresh one; entries of an
older warehouse state are deleted when a new one is written (they may hold user-level rows that
`purge` has since removed). COPILOT_FINOPS_CACHE=0 turns the memo off.

Entries are data, never code (`memofile`: typed JSON and Arrow IPC), sealed with a key kept inside
the warehouse (`warehouse_meta.memo_key`, made on the first writable open): whoever can write the
memo folder but not read the warehouse cannot forge an entry, and a tampered or foreign entry is
refused and computed afresh. Entries are 0600 in a 0700 folder, or shared with the warehouse's
group when the warehouse file is group-readable.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import os
import secrets
import stat
import typing
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Callable, TypeVar

import duckdb

from . import memofile

T = TypeVar("T")
KEY_NAME = "memo_key"  # warehouse_meta row holding the key that seals this warehouse's memo entries
SUFFIX = ".memo"


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


def ensure_key(con: duckdb.DuckDBPyConnection) -> None:
    """Give the warehouse its memo key if it has none (a writable connection; `warehouse.connect` calls it)."""
    if not con.execute("SELECT 1 FROM warehouse_meta WHERE key = ?", [KEY_NAME]).fetchone():
        con.execute("INSERT INTO warehouse_meta VALUES (?, ?)", [KEY_NAME, secrets.token_hex(32)])


def _key(con: duckdb.DuckDBPyConnection) -> bytes | None:
    try:
        row = con.execute("SELECT value FROM warehouse_meta WHERE key = ?", [KEY_NAME]).fetchone()
    except duckdb.Error:
        return None
    return row[0].encode() if row and row[0] else None


def can_keep(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether `memo` keeps what it computes for this connection: the memo is on, and the warehouse is a file
    with a memo key (computing ahead for a warehouse whose memo cannot be kept would only double the work)."""
    return (os.environ.get("COPILOT_FINOPS_CACHE", "1") != "0" and warehouse_file(con) is not None
            and _key(con) is not None)


def _protect(target: Path, warehouse: Path, directory: bool) -> None:
    """Owner-only, plus the warehouse's group when the warehouse itself is group-readable."""
    mode = 0o700 if directory else 0o600
    try:
        st = warehouse.stat()
        if st.st_mode & stat.S_IRGRP:
            mode |= 0o050 if directory else 0o040
            if target.stat().st_gid != st.st_gid:
                os.chown(target, -1, st.st_gid)
        os.chmod(target, mode)
    except OSError:
        pass  # not ours to change: the entry is still sealed


def memo(con: duckdb.DuckDBPyConnection, name: str, key: object, compute: Callable[[], T], hint=None) -> T:
    """`compute()`, or its result from an earlier call with the same warehouse state, name and key.

    `key` must capture every input besides the warehouse (period, params, random_state ...) in its repr;
    `memoised` builds it from a function's arguments. `hint` is the result's declared type (a dataclass
    is rebuilt from it). A result the memo cannot store (see `memofile`) is returned, not kept.
    """
    path = warehouse_file(con)
    if path is None or os.environ.get("COPILOT_FINOPS_CACHE", "1") == "0":
        return compute()
    secret = _key(con)
    if secret is None:  # a warehouse last written before memo keys: nothing can be sealed for it
        return compute()
    folder = Path(str(path) + ".cache")
    state = _state(path)
    digest = hashlib.sha256(repr((key, code_version())).encode()).hexdigest()[:16]
    entry = folder / f"{state}-{name}-{digest}{SUFFIX}"
    header = {"warehouse": hashlib.sha256(secret).hexdigest()[:16], "state": state, "entry": f"{name}-{digest}",
              "code": code_version()}
    try:
        return memofile.open_sealed(entry.read_bytes(), secret, header, hint)
    except (OSError, memofile.Refused):
        pass  # missing, torn, tampered with or outdated: compute afresh
    with _computing(folder, path, entry.name):  # one process computes; the others of a fan-out wait and read it
        try:
            return memofile.open_sealed(entry.read_bytes(), secret, header, hint)
        except (OSError, memofile.Refused):
            pass
        return _compute_and_keep(compute, secret, header, folder, path, state, entry)


@contextlib.contextmanager
def _computing(folder: Path, path, entry: str):
    """Hold an exclusive lock on `entry` while it is computed (POSIX; elsewhere, or where the folder cannot be
    written, no lock: each process computes its own, as before). The report fan-out starts several notebooks
    of the same period at once, and an org-wide pass (page 04's pattern fit at 30,000 developers: minutes,
    gigabytes) must not run twice side by side."""
    try:
        import fcntl

        folder.mkdir(mode=0o700, exist_ok=True)
        _protect(folder, path, directory=True)
        handle = os.fdopen(os.open(folder / f".{entry}.lock", os.O_WRONLY | os.O_CREAT, 0o600), "w")
    except (ImportError, OSError):
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # releases the lock


def _compute_and_keep(compute, secret, header, folder: Path, path, state: str, entry: Path):
    value = compute()
    try:
        data = memofile.seal(value, secret, header)
    except (TypeError, ValueError):
        return value
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        _protect(folder, path, directory=True)
        for old in folder.iterdir():
            if not old.name.startswith(".") and not (old.name.startswith(state + "-") and old.name.endswith(SUFFIX)):
                old.unlink(missing_ok=True)  # entries of older states, and anything else (an old pickle): never read
            elif old.name.endswith(".lock") and not old.name.startswith(f".{state}-"):
                old.unlink(missing_ok=True)  # the lock of an older state's entry: nobody computes it any more
        tmp = folder / f".{uuid.uuid4().hex}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        _protect(tmp, path, directory=False)
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

        @functools.lru_cache(maxsize=1)
        def result_type():  # resolved on first call: at decoration the names it uses may not be bound yet
            return typing.get_type_hints(fn).get("return")

        @functools.wraps(fn)
        def memoised_fn(con: duckdb.DuckDBPyConnection, *args, **kwargs) -> T:
            bound = signature.bind(con, *args, **kwargs)
            bound.apply_defaults()
            key = tuple((arg, value.model_dump_json() if hasattr(value, "model_dump_json") else repr(value))
                        for arg, value in list(bound.arguments.items())[1:])
            return memo(con, name, key, lambda: fn(con, *args, **kwargs), hint=result_type())
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
            removed += not entry.name.endswith(".lock")  # entries, not the locks that guarded their computing
        folder.rmdir()
    return removed
