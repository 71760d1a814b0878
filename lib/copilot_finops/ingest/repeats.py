"""Elements a fetch serves again as they were: digested as served and left out before their rows are built.

A daily fetch asks for the pull requests updated since a day before the last fetch, with their reviews and file
lists, so much of what it brings the warehouse already holds, byte for byte (in bench/ingest.py's org of 10,000
developers, 56 % of a working day's pull requests and file lists and 75 % of its reviews), and those three kinds
took 40 % of the day's ingest, building rows only to write them as they were.

So the documents of these kinds are read element by element: each element's bytes as served (`msgspec.Raw`, a
slice of the file, nothing decoded) get a 64-bit digest, salted with the kind and the version of the rows built
of it, and the rows built of an element keep its digest (`element_digest`). An element whose digest a row of its
repo already carries is neither decoded nor built: the rows stand as they are, their provenance the earlier
file that served the same bytes. Every other element is decoded and loaded as before.

Skipping must leave the tables as loading every file in order does. It does when the rows holding the digest
are the rows the element would write, i.e. no earlier file (or earlier element) of the same run changed that
key first. The documents are looked up a few at a time (`read_ahead`), after what the files before them staged
is written; the loader keeps the keys those read together build (`seen`) and builds an element again whose key
is in it. `ingest --full` skips nothing.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Callable, Iterator

import duckdb
import msgspec
import pyarrow as pa

from .replacing import Replacement, getter

# Bump a kind's version when the rows built of an element change for the same bytes (a new column, another
# parse): no stored digest matches then, and the next fetch of each element builds it again.
VERSION = {"pulls": "1", "reviews": "1", "pull-files": "1"}


@dataclass(frozen=True)
class Held:
    """Where a kind's rows keep their elements' digests: the table, and the key naming an element's rows."""

    table: str
    key: tuple[str, ...]  # with repo first


KINDS = {"pulls": Held("pull_request", ("repo", "number")),
         "reviews": Held("review", ("repo", "number", "review_id")),
         "pull-files": Held("pull_request_file", ("repo", "number"))}

_SPLIT = msgspec.json.Decoder(msgspec.Raw)
_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_DECODE = msgspec.json.Decoder()
_INT64 = struct.Struct(">q").unpack


class Picked(list):
    """The decoded elements to build, with each one's 1-based place in the file and digest."""

    places: list[int]
    digests: list[int]  # of every element of the file, by place - 1
    unchanged_rows: int = 0  # the rows the elements left out made (the table holds them)
    unchanged_keys: frozenset = frozenset()  # their keys


class Served:
    """A document's elements as served (its pages flattened as `documents._items` flattens them), not decoded."""

    def __init__(self, kind: str, data: bytes, raws: list):
        self.kind, self.data, self.raws = kind, data, raws
        self.unchanged = 0  # elements left out by `pick`
        self.held: dict | None = None  # what `hold` found: 0-based element -> (its key, the rows of it held)
        salted = hashlib.blake2b(digest_size=8, person=f"{kind}:{VERSION[kind]}".encode()[:16])
        self.digests = []
        for raw in raws:
            h = salted.copy()
            h.update(raw)
            self.digests.append(_INT64(h.digest())[0])

    def head(self, n: int) -> list:
        """The first n elements, decoded (what the kind's signature is checked on)."""
        return [_decode(raw) for raw in self.raws[:n]]

    def pick(self, con: duckdb.DuckDBPyConnection, repo: str, seen: set | None,
             flatten: Callable[[object], list]) -> Picked:
        """The elements whose rows must be built: all of them unless `seen` is given (the hashes of the keys built
        since `hold` looked), else those whose digest no row of `repo` carries, or whose key was built since."""
        if seen is not None and self.held is None:
            hold(con, [(repo, self)])
        held = {} if seen is None else self.held
        skip = {i: rows for i, (key, rows) in held.items() if hash(key) not in seen}
        if skip:
            picked = Picked(_decode(raw) for i, raw in enumerate(self.raws) if i not in skip)
            picked.places = [i + 1 for i in range(len(self.raws)) if i not in skip]
        else:  # one call for the whole document (a first fetch's elements are all new), its pages flattened
            try:
                picked = Picked(flatten(_DECODE.decode(self.data)))
            except msgspec.DecodeError:
                picked = Picked(map(_decode, self.raws))
            picked.places = range(1, len(picked) + 1)
        picked.digests = self.digests
        picked.unchanged_rows, self.unchanged = sum(skip.values()), len(skip)
        picked.unchanged_keys = frozenset(held[i][0] for i in skip)
        return picked


def stage(con: duckdb.DuckDBPyConnection, f, doc: Served, file_id: int, loader, seen: dict | None,
          flatten: Callable[[object], list]):
    """`documents.stage` of a Served document: `loader` builds the rows of the elements `pick` leaves in (a
    document decoded whole is flattened into its elements by `flatten`, as `split` does); the rows of those
    left out count in the rows loaded. `seen` (kind -> hashes of the keys built since `hold` looked)
    is updated."""
    held, built = KINDS[f.kind], None if seen is None else seen.setdefault(f.kind, set())
    items = doc.pick(con, f.repo, built, flatten)
    rows, bad, replacements = loader(con, f, items, file_id)
    if not items.unchanged_keys and built is None:  # (a first fetch: nothing held, nothing to keep)
        return rows, bad, replacements
    keys = _keys(replacements, held)
    if keys & items.unchanged_keys:  # the file serves a key twice, once as held: the last one must win, build all
        items = doc.pick(con, f.repo, None, flatten)
        rows, bad, replacements = loader(con, f, items, file_id)
        keys = _keys(replacements, held)
    if built is not None:  # (hashes take less room than the key tuples; a key whose hash collides is only built)
        built.update(map(hash, keys))
    return rows + items.unchanged_rows, bad, replacements


def _keys(replacements: list[Replacement], held: Held) -> set[tuple]:
    """The keys of the rows these Replacements write into the table that holds the kind's element digests."""
    return {k for r in replacements if r.table == held.table for k in map(getter(r.columns, list(held.key)), r.rows)}


def digests(items: list) -> list:
    """Each element's digest by place - 1; None for each when the document was parsed whole (not `Served`)."""
    return items.digests if isinstance(items, Picked) else [None] * len(items)


def split(kind: str, data: bytes, name: str) -> Served | None:
    """The document's elements as served, or None when it is not plain JSON of a list (or one object) that
    msgspec reads: gzip that does not inflate, a byte-order mark, bytes that are not UTF-8, NaN. The caller then
    parses it whole, as before, and says what is wrong with it."""
    try:
        if name.endswith(".gz"):
            data = gzip.decompress(data)
        try:
            top = _LIST.decode(data)
        except msgspec.ValidationError:  # not a list
            raws = [_SPLIT.decode(data)]
            return Served(kind, data, raws) if memoryview(raws[0])[:1] == b"{" else None
        raws = []
        for item in top:
            if memoryview(item)[:1] == b"[":  # a page of elements
                raws.extend(_LIST.decode(item))
            else:
                raws.append(item)
        return Served(kind, data, raws)
    except (msgspec.DecodeError, OSError, EOFError):
        return None


def _decode(raw) -> object:
    """An element's value. Splitting checks the JSON but not its numbers' range: what msgspec refuses there
    (1e400) is read as `json` reads it, as a document parsed whole is."""
    try:
        return _DECODE.decode(raw)
    except msgspec.DecodeError:
        return json.loads(bytes(raw).decode("utf-8", errors="replace"))


def read_ahead(con: duckdb.DuckDBPyConnection, files: list, read: Callable, flush: Callable[[], None],
               budget: int) -> Iterator[tuple]:
    """(file, `read(file)`, seen) for each file, read up to `budget` bytes ahead: what the tables hold of the
    elements of those read ahead is looked up in one query (`hold`), after `flush` wrote what the files before
    them staged. So only the keys these files build are kept to check (seen, a dict for `documents.stage`, the
    same for the files read together; None when they hold nothing, and every element is built)."""
    chunk, size = [], 0
    for n, f in enumerate(files):
        chunk.append(f)
        size += f.path.stat().st_size
        if size < budget and n + 1 < len(files):
            continue
        docs = [read(g) for g in chunk]
        flush()
        served = [(g.repo, d[0]) for g, d in zip(chunk, docs) if isinstance(d, tuple) and isinstance(d[0], Served)]
        hold(con, served)
        seen = {} if any(doc.held for _, doc in served) else None
        yield from ((g, d, seen) for g, d in zip(chunk, docs))
        chunk, size = [], 0


def hold(con: duckdb.DuckDBPyConnection, docs: list[tuple[str, Served]]) -> None:
    """Find, in one query, the elements of these documents of one kind (each with its repo) whose digest a row
    of their repo carries (`Served.held`). A document read ahead of others of its kind is looked up before they
    load: what they change is in `seen`, which `pick` checks."""
    if not docs:
        return
    held = KINDS[docs[0][1].kind]
    for _, doc in docs:
        doc.held = {}
    sizes = [len(doc.raws) for _, doc in docs]
    con.fetchall()  # finishes a result left unread (BEGIN's): DuckDB refuses register() until then
    con.register("served_digest", pa.table({
        "n": pa.array([n for n, size in enumerate(sizes) for _ in range(size)], pa.int32()),
        "i": pa.array([i for size in sizes for i in range(size)], pa.int32()),
        "d": pa.array([d for _, doc in docs for d in doc.digests], pa.int64())}))
    # joined on the digest alone (hashing every row's repo name cost more than the rest), the repo compared here
    found = con.execute(f"""
        SELECT g.n, g.i, {", ".join(f"t.{k}" for k in held.key)}, count(*)
        FROM served_digest g JOIN {held.table} t ON t.element_digest = g.d GROUP BY ALL
    """).fetchall()
    con.unregister("served_digest")  # not in a `finally`: in an aborted transaction it would hide the error
    for n, i, repo, *key, rows in found:
        if repo == docs[n][0]:  # (a file list names no repo: two repos may serve the same bytes)
            docs[n][1].held[i] = ((repo, *key), rows)
