"""A demo org generated and ingested in a temporary folder, for the evaluate commands that score a method on it."""
from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from .generate import generate_org


@contextmanager
def generated_warehouse(prefix: str, workdir: str | Path | None = None,
                        **generate) -> Iterator[tuple[duckdb.DuckDBPyConnection, dict]]:
    """Generate a demo org (`generate`: the keywords of `generate_org`), ingest it, and yield a read-only
    connection to its warehouse with its ground truth; the folder (`prefix`, under `workdir`) goes afterwards."""
    from .. import warehouse
    from ..ingest import ingest_raw

    with tempfile.TemporaryDirectory(prefix=prefix, dir=workdir) as tmp:
        raw, wh = Path(tmp) / "raw", Path(tmp) / "warehouse.duckdb"
        generate_org(raw, **generate)
        ingest_raw(raw, wh)
        truth = json.loads((raw / "ground_truth.json").read_text())
        con = warehouse.connect(wh, read_only=True)
        try:
            yield con, truth
        finally:
            con.close()
