"""Files an analyst downloaded by hand, checked against their kind's signature, then copied into the raw zone
(raw files are never edited in place)."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

from ..errors import UserError
from . import signatures
from .rawfiles import RawFile
from .schemas import DELIVERY_KINDS, KINDS


def import_files(names: list[str], kind: str, raw_dir: str | os.PathLike) -> list[RawFile]:
    """Copy each file into RAW/imports/<kind>/<checksum>/<name> (once) and return them as raw files to ingest.

    The name is kept: seats and teams files are named by their day. Every file is checked first: one that is
    not JSON or NDJSON, or whose records are not of `kind` (see `signatures`), stops the import with a message
    naming the kind it looks like, and nothing is copied or loaded.
    """
    if kind not in KINDS or kind in DELIVERY_KINDS:
        allowed = ", ".join(k for k in KINDS if k not in DELIVERY_KINDS)
        raise UserError(f"--kind {kind!r} is not a kind import takes; allowed: {allowed} "
                        "(delivery files go under RAW/delivery/<owner>/<repo>/)")
    raw = Path(raw_dir)
    dest = raw / "imports" / kind
    for name in names:
        _check(Path(name), kind)
    files = []
    for name in names:
        src = Path(name)
        digest = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
        target = dest / digest / src.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            tmp = target.with_name(target.name + ".tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, target)
        files.append(RawFile(target, "/".join(target.relative_to(raw).parts), kind, None))
    return files


def _check(src: Path, kind: str) -> None:
    """Refuse a file that is missing, unreadable, or of another kind than `kind`."""
    if not src.is_file():
        raise UserError(f"{src}: no such file")
    try:
        records = signatures.sample_file(src)
    except ValueError as exc:
        raise UserError(f"{src} is not a report file: {exc}; nothing was imported") from None
    if kind in ("seats", "teams") and not re.match(r"\d{4}-\d{2}-\d{2}\.json", src.name):
        raise UserError(f"{src}: a {kind} file is a snapshot named by its day: rename it YYYY-MM-DD.json "
                        "(the day it was taken); nothing was imported")
    wrong = signatures.mismatch(kind, records)
    if wrong:
        others = signatures.looks_like(records)
        fix = f"re-run with --kind {others[0]}" if others else "check that it is the file you meant"
        raise UserError(f"{src}: {wrong}; nothing was imported: {fix}")
