"""One pass over an NDJSON report file before DuckDB parses it: its sha256, its line count and a sample of lines.

The sha256 names the bytes a row came from (`raw_file`). The line count lets the fast parse number records by
their order: when a file has as many lines as records, record n is line n. The sample, lines spread evenly
through the file and read by their number, serves three checks: that the file holds the kind its folder says
(`signatures`), that the fast parse's numbering is right (each sampled line shows the values parsed for its
number), and which fields no parser knows yet (`unknown_field`).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 8 << 20
SAMPLE_LINES = 24  # per file; a field present in a tenth of the records shows in 9 files of 10


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


def scan_file(stored: Path, text: Path, samples: int = SAMPLE_LINES) -> FileScan:
    """Hash `stored` (the raw file) and count and sample the lines of `text` (the same file, or its inflated copy)."""
    same = stored == text
    digest = hashlib.sha256()
    size = text.stat().st_size
    targets = sorted({i * size // samples for i in range(samples)}) if size else []
    starts: list[tuple[int, int]] = []  # (line number, byte offset where the line starts)
    newlines = pos = 0
    last = b""
    pending = 0  # index into targets of the next sample to place
    with open(text, "rb") as fh:
        while chunk := fh.read(CHUNK):
            if same:
                digest.update(chunk)
            end = pos + len(chunk)
            counted = 0  # newlines of this chunk before `counted` are in `newlines` already: one pass a chunk
            while pending < len(targets) and targets[pending] < end:
                t = targets[pending]
                if t == 0:
                    starts.append((1, 0))
                    pending += 1
                    continue
                nl = chunk.find(b"\n", max(t, pos) - pos)
                if nl < 0:
                    break  # the line after this target starts in a later chunk
                newlines += chunk.count(b"\n", counted, nl)
                counted = nl
                start = pos + nl + 1
                if start < size and (not starts or starts[-1][1] != start):
                    starts.append((newlines + 2, start))
                pending += 1
            newlines += chunk.count(b"\n", counted)
            last = chunk[-1:]
            pos = end
        lines = newlines + (1 if size and last != b"\n" else 0)
        picked = []
        for number, start in starts:
            fh.seek(start)
            picked.append((number, fh.readline(1 << 24).rstrip(b"\r\n")))
    if same:
        return FileScan(digest.hexdigest(), size, lines, picked)
    sha, stored_size = sha256_of(stored)
    return FileScan(sha, stored_size, lines, picked)
