"""The raw zone as ingest sees it: which files there are, of which kind, and in which order they load."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .schemas import DELIVERY_KINDS, IGNORED_NAMES, KINDS


@dataclass(frozen=True)
class RawFile:
    path: Path
    rel: str  # path relative to the raw zone, with forward slashes
    kind: str
    repo: str | None  # owner/name for delivery files

    def fingerprint(self) -> str:
        st = self.path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}"


def _kind_of(rel_parts: tuple[str, ...]) -> tuple[str | None, str | None]:
    """A file's kind from the nearest folder named after a kind, or, under delivery/<owner>/<repo>/, its name."""
    name = rel_parts[-1]
    if name in IGNORED_NAMES or name.endswith(".tmp") or name.startswith("."):
        return None, None
    if len(rel_parts) >= 4 and rel_parts[-4] == "delivery":
        stem = name.split(".", 1)[0]
        for kind in sorted(DELIVERY_KINDS, key=len, reverse=True):
            if stem == kind or stem.startswith(kind + "-") and not any(
                    stem.startswith(k + "-") or stem == k for k in DELIVERY_KINDS if len(k) > len(kind)):
                return kind, f"{rel_parts[-3]}/{rel_parts[-2]}"
        return None, None
    for folder in reversed(rel_parts[:-1]):
        if folder in KINDS and folder not in DELIVERY_KINDS:
            return folder, None
    return None, None


def discover(raw_dir: Path) -> tuple[list[RawFile], list[str]]:
    """Every ingestible file under the raw zone, in a stable order, and the files of no known kind."""
    files, unknown = [], []
    for root, dirs, names in os.walk(raw_dir):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            rel_parts = path.relative_to(raw_dir).parts
            kind, repo = _kind_of(rel_parts)
            rel = "/".join(rel_parts)
            if kind:
                files.append(RawFile(path, rel, kind, repo))
            elif name not in IGNORED_NAMES and not name.endswith(".tmp") and not name.startswith("."):
                unknown.append(rel)
    return files, unknown


def _load_order(f: RawFile) -> tuple:
    """Later files win on natural keys. A delivery snapshot `pulls-<day>.json` is newer than a plain
    `pulls.json` (which plain name order would put last), and snapshots order by their day."""
    name = f.path.name.split(".", 1)[0]
    if f.repo is not None:
        return (f.repo, name != f.kind, name, f.rel)
    return (f.rel,)
