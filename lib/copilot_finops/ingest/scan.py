"""One pass over an NDJSON report file before DuckDB parses it: its sha256, its line count and a sample of lines,
done by a read-ahead thread (`read_ahead`) while DuckDB loads the batch before.

The sha256 names the bytes a row came from (`raw_file`). The line count lets the fast parse number records by
their order: when a file has as many lines as records, record n is line n. The sample, lines spread evenly
through the file and read by their number, serves three checks: that the file holds the kind its folder says
(`signatures`), that the fast parse's numbering is right (each sampled line shows the values parsed for its
number), and which fields no parser knows yet (`unknown_field`).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Iterator

import numpy as np

from . import signatures
from .rawfiles import RawFile

CHUNK = 8 << 20
SAMPLE_LINES = 24  # per file; a field present in a tenth of the records shows in 9 files of 10
READ_AHEAD = 16  # files hashed, counted and sampled ahead of the batch DuckDB is loading
FOLDER_DAY = re.compile(r"\d{4}-\d{2}-\d{2}$")


# Every line of the files in $paths, numbered from 1, without carriage returns and without the byte-order mark
# a file may start with; `ord` is the file's place in the batch (later files win on natural keys).
NUMBERED_LINES = """
    SELECT list_position($paths, filename) - 1 AS ord, line_no,
           CASE WHEN line_no = 1 THEN ltrim(line, chr(65279)) ELSE line END AS line
    FROM (
        SELECT filename, unnest(lines) AS line, generate_subscripts(lines, 1) AS line_no
        FROM (SELECT filename, string_split(CASE WHEN contains(content, chr(13))
                     THEN replace(content, chr(13), '') ELSE content END, chr(10)) AS lines
              FROM read_text($paths))
    )
"""


def line_error(text: str) -> str:
    """Why a line is not a JSON object ('' when it is one)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg} at column {exc.colno}"
    return "" if isinstance(value, dict) else "not a JSON object"


@dataclass
class FileScan:
    sha256: str
    bytes: int  # size of the file as stored (compressed, for .gz)
    lines: int  # lines of the text (inflated): newlines, plus one when the last line has none
    samples: list[tuple[int, bytes]] = field(default_factory=list)  # (1-based line number, line without \r\n)

    def sample_objects(self) -> list[tuple[int, object]]:
        """(line, parsed JSON) of the sampled lines that parse; blank lines are left out."""
        out = []
        for number, text in self.samples:
            text = text.strip()
            if number == 1:
                text = text.removeprefix(b"\xef\xbb\xbf")
            if not text:
                continue
            try:
                out.append((number, json.loads(text)))
            except ValueError:
                continue
        return out


def sha256_of(path: Path) -> tuple[str, int]:
    """(sha256, size) of a file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _newlines(view: memoryview, start: int = 0, end: int | None = None) -> int:
    """Newline bytes in view[start:end] (numpy counts about three times faster than bytes.count)."""
    return int(np.count_nonzero(np.frombuffer(view[start:end], np.uint8) == 10))


def scan_file(stored: Path, text: Path, samples: int = SAMPLE_LINES) -> FileScan:
    """Hash `stored` (the raw file) and count and sample the lines of `text` (the same file, or its inflated copy).

    One pass in chunks read into one reused buffer: the hash, the newline count and the sample offsets."""
    same = stored == text
    digest = hashlib.sha256()
    size = text.stat().st_size
    targets = sorted({i * size // samples for i in range(samples)}) if size else []
    starts: list[tuple[int, int]] = []  # (line number, byte offset where the line starts)
    newlines = pos = 0
    last = 0
    pending = 0  # index into targets of the next sample to place
    buffer = bytearray(CHUNK)
    with open(text, "rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            chunk = memoryview(buffer)[:n]
            if same:
                digest.update(chunk)
            end = pos + n
            counted = 0  # newlines of this chunk before `counted` are in `newlines` already: one pass a chunk
            while pending < len(targets) and targets[pending] < end:
                t = targets[pending]
                if t == 0:
                    starts.append((1, 0))
                    pending += 1
                    continue
                nl = buffer.find(b"\n", max(t, pos) - pos, n)
                if nl < 0:
                    break  # the line after this target starts in a later chunk
                newlines += _newlines(chunk, counted, nl)
                counted = nl
                start = pos + nl + 1
                if start < size and (not starts or starts[-1][1] != start):
                    starts.append((newlines + 2, start))
                pending += 1
            newlines += _newlines(chunk, counted)
            last = buffer[n - 1]
            pos = end
        lines = newlines + (1 if size and last != 10 else 0)
    picked = []
    with open(text, "rb") as fh:  # buffered for readline; the pass above reads unbuffered (a copy less a chunk)
        for number, start in starts:
            fh.seek(start)
            picked.append((number, fh.readline(1 << 24).rstrip(b"\r\n")))
    if same:
        return FileScan(digest.hexdigest(), size, lines, picked)
    sha, stored_size = sha256_of(stored)
    return FileScan(sha, stored_size, lines, picked)


@dataclass
class ReportFile:
    """A raw NDJSON file ready to parse: the plain-NDJSON text DuckDB reads, and its scan."""

    raw: RawFile
    text: Path
    scan: FileScan
    samples: list  # (line, parsed JSON) of the scan's sample

    @property
    def folder_day(self) -> date | None:
        """The day of the report, from the folder it sits in (metrics/<kind>/<day>/part-0.ndjson)."""
        parts = self.raw.rel.split("/")
        for part in reversed(parts[:-1]):
            if FOLDER_DAY.match(part):
                try:
                    return date.fromisoformat(part)
                except ValueError:
                    return None
        return None


def _normalise_ndjson(f: RawFile, tmpdir: Path) -> tuple[Path | None, str | None]:
    """A plain-NDJSON path DuckDB can read for `f`: gzip is inflated, a JSON-array body becomes lines.

    Returns (path, None), or (None, error) when the whole file is unreadable.
    """
    src = f.path
    if src.name.endswith(".gz"):
        out = tmpdir / (uuid.uuid4().hex + ".ndjson")
        try:
            with gzip.open(src, "rb") as zin, open(out, "wb") as zout:
                shutil.copyfileobj(zin, zout, 1 << 20)
        except (OSError, EOFError) as exc:
            return None, f"cannot decompress gzip: {exc}"
        src = out
    with open(src, "rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"["):
        text = src.read_bytes().decode("utf-8-sig", errors="replace")
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            return None, f"JSON array body does not parse: {exc.msg} at line {exc.lineno} column {exc.colno}"
        out = tmpdir / (uuid.uuid4().hex + ".ndjson")
        with open(out, "w") as fh:
            for item in items:
                fh.write(json.dumps(item) + "\n")
        return out, None
    return src, None


def _prepare(f: RawFile, kind: str, tmpdir: Path) -> tuple:
    """(file, plain-NDJSON path, scan, None, "") or, when the whole file cannot be loaded, (file, None, None, why,
    an excerpt)."""
    path, error = _normalise_ndjson(f, tmpdir)
    if error:
        return f, None, None, error, ""
    scan = scan_file(f.path, path)
    wrong = signatures.mismatch(kind, [obj for _, obj in scan.sample_objects()])
    if wrong:
        return f, None, None, wrong, scan.samples[0][1].decode("utf-8", "replace") if scan.samples else ""
    return f, path, scan, None, ""


def read_ahead(files: list[RawFile], kind: str, tmpdir: Path, ahead: int = READ_AHEAD) -> Iterator[tuple]:
    """`_prepare` of each file, in order, computed by one thread up to `ahead` files before the caller."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-scan") as pool:
        todo = iter(files)
        pending = deque(pool.submit(_prepare, f, kind, tmpdir) for f in islice(todo, ahead))
        while pending:
            done = pending.popleft().result()
            for f in islice(todo, 1):
                pending.append(pool.submit(_prepare, f, kind, tmpdir))
            yield done
