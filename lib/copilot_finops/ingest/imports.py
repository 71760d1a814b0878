"""Files an analyst downloaded by hand, copied into the raw zone (raw files are never edited in place)."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from ..errors import UserError
from .rawfiles import RawFile
from .schemas import DELIVERY_KINDS, KINDS


def import_files(names: list[str], kind: str, raw_dir: str | os.PathLike) -> list[RawFile]:
    """Copy each file into RAW/imports/<kind>/<checksum>/<name> (once) and return them as raw files to ingest.

    The name is kept: seats and teams files are named by their day.
    """
    if kind not in KINDS or kind in DELIVERY_KINDS:
        allowed = ", ".join(k for k in KINDS if k not in DELIVERY_KINDS)
        raise UserError(f"--kind {kind!r} is not a kind import takes; allowed: {allowed} "
                        "(delivery files go under RAW/delivery/<owner>/<repo>/)")
    raw = Path(raw_dir)
    dest = raw / "imports" / kind
    files = []
    for name in names:
        src = Path(name)
        if not src.is_file():
            raise UserError(f"{src}: no such file")
        digest = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
        target = dest / digest / src.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            tmp = target.with_name(target.name + ".tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, target)
        files.append(RawFile(target, "/".join(target.relative_to(raw).parts), kind, None))
    return files
