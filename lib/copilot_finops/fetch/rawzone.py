"""The raw zone as `fetch` writes it: atomic files, an append-only manifest, and what is already complete.

Every file is written to `raw/.fetch-tmp/` first and moved into place with `os.replace`, so a
reader (or a fetch killed with SIGKILL) never sees half a file. A group of files that belong
together (a day's shards, a repo's delivery snapshot) is moved in first and then recorded in
the manifest with one append, so the manifest only ever vouches for complete groups; a torn
last line (power loss) is ignored on read and never glued to the next append.

Only the manifest is fsynced. Data files need not be: every run re-hashes the files it would
skip against the manifest's sha256, so a file a power cut emptied or lost is fetched again
(fsyncing each shard and folder cost a third of a fetch's time on an ext4 disk).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ..errors import UserError

MANIFEST = "manifest.jsonl"
TMP_DIR = ".fetch-tmp"  # not under any <kind>/ folder, so ingest never reads a half-written file
LOCK_FILE = ".fetch.lock"


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class RawZone:
    """One raw-zone folder: write files atomically, append the manifest, answer "is this complete?".

    Parameters
    ----------
    root : the `--raw` folder (created if missing).
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.tmp = self.root / TMP_DIR
        self.manifest_path = self.root / MANIFEST
        self.lines: list[dict] = []
        self._sha_cache: dict[tuple[str, int, int], str] = {}

    @contextmanager
    def locked(self) -> Iterator["RawZone"]:
        """Hold the raw zone for one fetch; the OS drops the lock if the process dies."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_FILE, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserError(f"another fetch is writing to {self.root} (it holds {LOCK_FILE}); "
                                "wait for it to finish, or use another --raw folder") from None
            # Temp files left by a killed run are incomplete by construction: drop them.
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp.mkdir(parents=True, exist_ok=True)
            self.lines = self.read_manifest()
            try:
                yield self
            finally:
                shutil.rmtree(self.tmp, ignore_errors=True)
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- manifest -------------------------------------------------------------------------
    def read_manifest(self) -> list[dict]:
        """Every readable manifest line, in order; a torn or foreign line is skipped."""
        if not self.manifest_path.exists():
            return []
        lines = []
        for raw in self.manifest_path.read_bytes().splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict) and "kind" in line:
                lines.append(line)
        return lines

    def append_manifest(self, lines: list[dict]) -> None:
        """Append whole lines in one write and fsync; start on a fresh line after a torn one."""
        if not lines:
            return
        body = "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines).encode()
        fd = os.open(self.manifest_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size:
                with open(self.manifest_path, "rb") as f:
                    f.seek(size - 1)
                    if f.read(1) != b"\n":
                        body = b"\n" + body
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.lines.extend(lines)

    # -- files ----------------------------------------------------------------------------
    def temp_path(self) -> Path:
        """A fresh temp file name; ".tmp" so ingest skips it even if a killed run left it behind."""
        return self.tmp / f"{uuid.uuid4().hex}.tmp"

    def stage_json(self, document) -> tuple[Path, str]:
        """Write `document` (compact JSON) to a temp file; return (temp path, sha256)."""
        data = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        path = self.temp_path()
        path.write_bytes(data)
        return path, hashlib.sha256(data).hexdigest()

    def commit(self, staged: list[tuple[Path, str, str, int]], line_fields: list[dict], stale: list[str] = ()) -> None:
        """Move staged files into place, then record them with one manifest append.

        Parameters
        ----------
        staged : (temp path, path relative to the raw zone, sha256, rows) per file.
        line_fields : manifest fields per file (kind, source, …); path, sha256, rows and
            one shared fetched_at are added.
        stale : files this group replaces and no longer contains (a day that shrank to fewer
            shards); deleted before the manifest vouches for the new group.
        """
        fetched_at = now_utc()
        for (tmp, rel, sha, _rows) in staged:
            dest = self.root / rel
            if self.file_sha(rel) == sha:  # same bytes already in place: leave the file (and its mtime) alone
                tmp.unlink(missing_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)
        for rel in stale:
            (self.root / rel).unlink(missing_ok=True)
        self.append_manifest([{**fields, "path": rel, "sha256": sha, "rows": rows, "fetched_at": fetched_at}
                              for (_, rel, sha, rows), fields in zip(staged, line_fields)])

    def record(self, line: dict) -> None:
        """A manifest line for something that wrote no file (a 204 day)."""
        self.append_manifest([{**line, "fetched_at": now_utc()}])

    def file_sha(self, rel: str) -> str | None:
        """sha256 of a raw file, cached by (path, size, mtime); None if it does not exist."""
        path = self.root / rel
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        key = (rel, st.st_size, st.st_mtime_ns)
        if key not in self._sha_cache:
            self._sha_cache[key] = sha256_file(path)
        return self._sha_cache[key]

    def intact(self, line: dict) -> bool:
        """The file a manifest line vouches for is there with the same bytes."""
        return "path" in line and self.file_sha(line["path"]) == line.get("sha256")

    # -- what is complete -----------------------------------------------------------------
    def day_state(self, kind: str) -> dict[str, dict]:
        """Per day of a report kind, the latest outcome: {"status": 204} or the latest batch of shards.

        A batch (one fetch of one day: lines sharing `fetched_at`) is complete when all of its
        `parts` are recorded and intact on disk.
        """
        state: dict[str, dict] = {}
        for line in self.lines:
            if line.get("kind") != kind or "day" not in line:
                continue
            day = line["day"]
            if "path" not in line:
                state[day] = {"status": line.get("status"), "parts": 0, "files": {}, "batch": line.get("fetched_at")}
                continue
            cur = state.get(day)
            if cur is None or cur.get("batch") != line.get("fetched_at"):
                cur = state[day] = {"status": 200, "parts": line.get("parts"), "files": {}, "batch": line.get("fetched_at")}
            cur["files"][line.get("part")] = line
        return state

    def complete(self, entry: dict | None) -> bool:
        """A `day_state` entry needs no fetch: a recorded 204 (or links-less 200), or every shard intact."""
        if entry is None:
            return False
        parts = entry.get("parts")
        if not entry["files"]:
            return parts == 0
        return (isinstance(parts, int) and sorted(entry["files"]) == list(range(parts))
                and all(self.intact(line) for line in entry["files"].values()))

    def latest(self, **match) -> list[dict]:
        """The latest batch of manifest lines whose fields equal `match` (e.g. kind, repo)."""
        hits = [line for line in self.lines if all(line.get(k) == v for k, v in match.items())]
        if not hits:
            return []
        batch = hits[-1].get("fetched_at")
        return [line for line in hits if line.get("fetched_at") == batch]
