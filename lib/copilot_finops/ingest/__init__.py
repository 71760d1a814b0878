"""Ingest: the raw zone into the DuckDB warehouse.

`run` drives a run (`ingest_raw`), `rawfiles` finds the files and their kinds, `schemas` holds the
kinds and the NDJSON parse schemas, `reports` loads NDJSON usage reports inside DuckDB, and
`documents` loads the JSON documents (seats, teams, billing, delivery) element by element, each value
checked by `elements`, leaving out the pull requests, reviews and file lists a fetch serves again as the
tables hold them (`repeats`); `imports` takes files downloaded by hand into the raw zone.
"""
from .imports import import_files
from .rawfiles import RawFile, discover
from .run import IngestSummary, ingest_raw
from .schemas import KINDS, NDJSON_KINDS

__all__ = ["KINDS", "NDJSON_KINDS", "IngestSummary", "RawFile", "discover", "import_files", "ingest_raw"]
