"""Ingest: the raw zone into the warehouse, replacing rows by natural key, quarantining what it cannot read.

NDJSON reports are split into lines and parsed by DuckDB (`from_json` with the schemas below),
so a 1M-line report never passes through pandas. JSON documents (seats, teams, billing,
delivery) are small and parsed in Python. Each file kind is loaded in one transaction
together with its `ingest_file` bookkeeping, so a crash leaves the warehouse usable and a
rerun picks up where it stopped.
"""
from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from . import ingest_docs, warehouse
from .errors import UserError

NDJSON_KINDS = ("users-28-day", "organization-28-day", "enterprise-28-day", "users-1-day", "user-teams-1-day",
                "organization-1-day", "enterprise-1-day")
DOC_KINDS = ("seats", "teams", "ai-credit-usage", "premium-request-usage")
DELIVERY_KINDS = ingest_docs.DELIVERY_KINDS
KINDS = NDJSON_KINDS + DOC_KINDS + DELIVERY_KINDS
IGNORED_NAMES = {"manifest.jsonl", "ground_truth.json"}
BATCH_BYTES = 128 * 1024 * 1024  # NDJSON bytes parsed per DuckDB statement: bounds memory at any org size
MEMORY_LIMIT = os.environ.get("COPILOT_FINOPS_INGEST_MEMORY", "1500MB")  # DuckDB spills to disk beyond this
# Rows per row group that ingest writes. A batch then fills whole row groups, which DuckDB writes
# once, compressed, as they fill; with the default (122,880 rows, about 1 GB of user-day records)
# every commit re-wrote the table's growing last row group, and ingest slowed as the table grew.
ROW_GROUP_SIZE = 8192

COUNTERS = (
    "user_initiated_interaction_count", "code_generation_activity_count", "code_acceptance_activity_count",
    "loc_suggested_to_add_sum", "loc_suggested_to_delete_sum", "loc_added_sum", "loc_deleted_sum",
)
_C = {c: "BIGINT" for c in COUNTERS}
_C6 = {c: "BIGINT" for c in COUNTERS[1:]}
USER_SCHEMA = {
    "user_id": "BIGINT", "user_login": "VARCHAR", "day": "DATE", "organization_id": "VARCHAR",
    "enterprise_id": "VARCHAR", **_C,
    "used_agent": "BOOLEAN", "used_chat": "BOOLEAN", "used_cli": "BOOLEAN",
    "used_copilot_code_review_active": "BOOLEAN", "used_copilot_code_review_passive": "BOOLEAN",
    "used_copilot_coding_agent": "BOOLEAN", "used_copilot_cloud_agent": "BOOLEAN",
    "ai_credits_used": "DOUBLE", "ai_adoption_phase": {"phase_number": "INTEGER"},
    "totals_by_ide": [{"ide": "VARCHAR", **_C}],
    "totals_by_feature": [{"feature": "VARCHAR", **_C}],
    "totals_by_language_feature": [{"language": "VARCHAR", "feature": "VARCHAR", **_C6}],
    "totals_by_model_feature": [{"model": "VARCHAR", "feature": "VARCHAR", **_C}],
    "totals_by_cli": {"session_count": "BIGINT", "request_count": "BIGINT", "prompt_count": "BIGINT",
                      "token_usage": {"output_tokens_sum": "BIGINT", "prompt_tokens_sum": "BIGINT"},
                      "last_known_cli_version": {"cli_version": "VARCHAR"}},
}
USER_TEAM_SCHEMA = {"user_id": "BIGINT", "user_login": "VARCHAR", "day": "DATE", "organization_id": "VARCHAR",
                    "team_id": "BIGINT", "slug": "VARCHAR"}
_ORG_DAY = {
    "day": "DATE", "organization_id": "VARCHAR", "enterprise_id": "VARCHAR",
    "daily_active_users": "BIGINT", "weekly_active_users": "BIGINT", "monthly_active_users": "BIGINT",
    "monthly_active_chat_users": "BIGINT", "monthly_active_agent_users": "BIGINT", "daily_active_cli_users": "BIGINT",
    **_C,
    "totals_by_cli": {"session_count": "BIGINT", "request_count": "BIGINT", "prompt_count": "BIGINT",
                      "token_usage": {"output_tokens_sum": "BIGINT", "prompt_tokens_sum": "BIGINT"}},
    "pull_requests": {"total_created": "BIGINT", "total_reviewed": "BIGINT", "total_merged": "BIGINT",
                      "median_minutes_to_merge": "DOUBLE", "total_created_by_copilot": "BIGINT",
                      "total_reviewed_by_copilot": "BIGINT", "total_merged_created_by_copilot": "BIGINT"},
}
ORG_28_SCHEMA = {"organization_id": "VARCHAR", "enterprise_id": "VARCHAR", "day_totals": [_ORG_DAY]}
# kind -> (parse schema, keys a record must have, with what they should look like)
NDJSON_SCHEMAS = {
    "users-1-day": (USER_SCHEMA, {"user_id": "integer", "day": "YYYY-MM-DD"}),
    "users-28-day": (USER_SCHEMA, {"user_id": "integer", "day": "YYYY-MM-DD"}),
    "user-teams-1-day": (USER_TEAM_SCHEMA, {"user_id": "integer", "day": "YYYY-MM-DD", "team_id": "integer"}),
    "organization-1-day": (_ORG_DAY, {"day": "YYYY-MM-DD"}),
    "organization-28-day": (ORG_28_SCHEMA, {"day": "YYYY-MM-DD"}),
    "enterprise-1-day": (_ORG_DAY, {"day": "YYYY-MM-DD"}),
    "enterprise-28-day": (ORG_28_SCHEMA, {"day": "YYYY-MM-DD"}),
}

# Every line of the files in $paths, numbered from 1, without carriage returns and without the
# byte-order mark a file may start with; $rels maps each file to its raw-zone path, and `ord` is
# the file's place in the batch (later files win on natural keys).
NUMBERED_LINES = """
    SELECT list_extract($rels, list_position($paths, filename)) AS rel, list_position($paths, filename) - 1 AS ord,
           filename, line_no, CASE WHEN line_no = 1 THEN ltrim(line, chr(65279)) ELSE line END AS line
    FROM (
        SELECT filename, unnest(lines) AS line, generate_subscripts(lines, 1) AS line_no
        FROM (SELECT filename, string_split(CASE WHEN contains(content, chr(13))
                     THEN replace(content, chr(13), '') ELSE content END, chr(10)) AS lines
              FROM read_text($paths))
    )
"""

# A check that a typed record was zipped with its own line: the line contains the record's key.
WITNESS = {
    "users-1-day": "contains(l.line, t.user_id::VARCHAR)", "users-28-day": "contains(l.line, t.user_id::VARCHAR)",
    "user-teams-1-day": "contains(l.line, t.user_id::VARCHAR)",
    "organization-1-day": "contains(l.line, t.day::VARCHAR)", "enterprise-1-day": "contains(l.line, t.day::VARCHAR)",
}


def _duckdb_type(spec) -> str:
    """A from_json-style schema (dicts for objects, one-item lists for arrays) as a DuckDB type."""
    if isinstance(spec, dict):
        return "STRUCT(" + ", ".join(f'"{k}" {_duckdb_type(v)}' for k, v in spec.items()) + ")"
    if isinstance(spec, list):
        return _duckdb_type(spec[0]) + "[]"
    return spec


def _columns_literal(schema: dict) -> str:
    """The `columns` argument of read_json for a schema."""
    return "{" + ", ".join(f"'{k}': '{_duckdb_type(v)}'" for k, v in schema.items()) + "}"


@dataclass(frozen=True)
class RawFile:
    path: Path
    rel: str  # path relative to the raw zone, with forward slashes
    kind: str
    repo: str | None  # owner/name for delivery files

    def fingerprint(self) -> str:
        st = self.path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}"


@dataclass
class IngestSummary:
    run_id: str
    raw_dir: str
    files_seen: int = 0
    files_ingested: int = 0
    files_unchanged: int = 0
    rows_loaded: int = 0
    lines_quarantined: int = 0
    by_kind: dict = field(default_factory=dict)
    seconds_by_kind: dict = field(default_factory=dict)  # wall time spent on each kind's files
    batches_typed: int = 0  # NDJSON batches DuckDB's JSON reader parsed whole (the fast path)
    batches_line_by_line: int = 0  # batches with a line it refused, parsed line by line instead
    quarantined_files: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


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


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if there is one."""
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:
        pass


def _line_error(text: str) -> str:
    """Why a line is not a JSON object ('' when it is one)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg} at column {exc.colno}"
    return "" if isinstance(value, dict) else "not a JSON object"


class Ingestor:
    """Loads files into an open warehouse connection; one instance per ingest run."""

    def __init__(self, con: duckdb.DuckDBPyConnection, raw_dir: Path, summary: IngestSummary):
        self.con = con
        self.raw_dir = raw_dir
        self.summary = summary
        self.now = datetime.now(timezone.utc).replace(tzinfo=None)
        self.bar = None  # a tqdm bar counting files, when progress is shown

    # -- bookkeeping ----------------------------------------------------------------------------
    def quarantine(self, rows: list[tuple[str, int, str, str, str]]) -> None:
        """rows: (path, line, kind, error, raw_text). Replaces earlier entries for the same path and line."""
        if not rows:
            return
        self.con.executemany("DELETE FROM quarantine WHERE path = ? AND line = ?", [(r[0], r[1]) for r in rows])
        self.con.executemany("INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?)",
                             [(p, ln, k, e, (t or "")[:20000], self.now) for p, ln, k, e, t in rows])
        self.summary.lines_quarantined += len(rows)
        for p in sorted({r[0] for r in rows}):
            if p not in self.summary.quarantined_files:
                self.summary.quarantined_files.append(p)

    def mark_ingested(self, f: RawFile, rows: int, quarantined: int) -> None:
        self.con.execute("DELETE FROM ingest_file WHERE path = ?", [f.rel])
        self.con.execute("INSERT INTO ingest_file VALUES (?, ?, ?, ?, ?, ?)",
                         [f.rel, f.kind, f.fingerprint(), rows, quarantined, self.now])
        self.summary.files_ingested += 1
        self.summary.rows_loaded += rows
        self.summary.by_kind[f.kind] = self.summary.by_kind.get(f.kind, 0) + rows
        if self.bar is not None:
            self.bar.update(1)

    # -- NDJSON reports -------------------------------------------------------------------------
    def load_ndjson(self, kind: str, files: list[RawFile], tmpdir: Path) -> None:
        readable: list[tuple[RawFile, Path]] = []
        for f in files:
            path, error = _normalise_ndjson(f, tmpdir)
            if error:
                self.con.execute("BEGIN")
                self.quarantine([(f.rel, 0, kind, error, "")])
                self.mark_ingested(f, 0, 1)
                self.con.execute("COMMIT")
            else:
                readable.append((f, path))
        batch: list[tuple[RawFile, Path]] = []
        size = 0
        for item in readable:
            batch.append(item)
            size += item[1].stat().st_size
            if size >= BATCH_BYTES:
                self._load_ndjson_checked(kind, batch, tmpdir)
                batch, size = [], 0
        if batch:
            self._load_ndjson_checked(kind, batch, tmpdir)

    def _load_ndjson_checked(self, kind: str, batch: list[tuple[RawFile, Path]], tmpdir: Path) -> None:
        try:
            self._load_ndjson_batch(kind, batch)
        except duckdb.InvalidInputException as exc:
            if "UTF" not in str(exc).upper():
                raise
            # Bytes that are not UTF-8: keep every line, with the bad bytes replaced, rather than lose the file.
            _rollback(self.con)
            fixed = []
            for f, p in batch:
                out = tmpdir / (uuid.uuid4().hex + ".ndjson")
                out.write_text(p.read_bytes().decode("utf-8", errors="replace"))
                fixed.append((f, out))
            self._load_ndjson_batch(kind, fixed)

    def _load_ndjson_batch(self, kind: str, batch: list[tuple[RawFile, Path]]) -> None:
        """Parse a batch of files once, inside DuckDB, into the temp table `parsed`, then load it.

        `parsed` holds each record's file, line number, text and parsed struct. Lines that are not
        JSON, not objects, or lack their key are taken out to quarantine with their number.
        """
        con = self.con
        required = NDJSON_SCHEMAS[kind][1]
        files = {"paths": [str(p) for _, p in batch], "rels": [f.rel for f, _ in batch]}
        if self._parse_typed(kind, files):
            self.summary.batches_typed += 1
        else:
            self.summary.batches_line_by_line += 1
            self._parse_lines(kind, files)
        con.execute("BEGIN")
        counts = dict(con.execute("SELECT rel, count(*) FROM parsed GROUP BY rel").fetchall())
        quarantined = [(rel, int(ln), kind, _line_error(text) or "could not be read as the expected record", text)
                       for rel, ln, text in
                       con.execute("SELECT rel, line_no, line FROM parsed WHERE r IS NULL").fetchall()]
        con.execute("DELETE FROM parsed WHERE r IS NULL")
        if kind.endswith("-28-day") and kind != "users-28-day":  # one object holding day_totals[]: a row per day
            con.execute("""
                CREATE OR REPLACE TEMP TABLE parsed AS
                SELECT rel, ord, line_no, line, d AS r, r.organization_id AS outer_org
                FROM (SELECT *, unnest(r.day_totals) AS d FROM parsed)
            """)
        cond = " OR ".join(f"r.{c} IS NULL" for c in required)
        for rel, ln, text, *nulls in con.execute(
                f"SELECT rel, line_no, line, {', '.join(f'r.{c} IS NULL' for c in required)} FROM parsed WHERE {cond}").fetchall():
            names = [f"{c} ({required[c]})" for c, is_null in zip(required, nulls) if is_null]
            error = "missing or invalid " + ", ".join(names) if _line_error(text) == "" else _line_error(text)
            quarantined.append((rel, int(ln), kind, error, text))
        con.execute(f"DELETE FROM parsed WHERE {cond}")
        loader = {"users-1-day": self._users, "users-28-day": self._users, "user-teams-1-day": self._user_teams,
                  "organization-1-day": self._org_days, "organization-28-day": self._org_days,
                  "enterprise-1-day": self._org_days, "enterprise-28-day": self._org_days}[kind]
        loader(kind)
        self.quarantine(quarantined)
        per_file_bad: dict[str, int] = {}
        for q in quarantined:
            per_file_bad[q[0]] = per_file_bad.get(q[0], 0) + 1
        for f, _ in batch:
            self.mark_ingested(f, int(counts.get(f.rel, 0)) - per_file_bad.get(f.rel, 0), per_file_bad.get(f.rel, 0))
        con.execute("DROP TABLE parsed")
        con.execute("COMMIT")

    def _parse_typed(self, kind: str, files: dict) -> bool:
        """The fast path: DuckDB's JSON reader parses the records straight into typed columns, and each
        record is zipped with its line (text and number) from a plain read of the same files.

        The reader is several times faster than parsing each line's text, but it stops at the first
        line it cannot read and does not number lines. So this returns False, leaving no `parsed`,
        when the reader rejects the batch or when the two reads do not line up record for record
        (a whitespace-only line, say); the line-by-line path then reads the batch instead.
        `files`: {"paths": files to read, "rels": their raw-zone paths}.
        """
        schema, _required = NDJSON_SCHEMAS[kind]
        witness = WITNESS.get(kind, "true")
        con = self.con
        con.execute("SET preserve_insertion_order = true")  # the zip below relies on both reads keeping file order
        try:
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE parsed AS
                SELECT l.rel, l.ord, l.line_no, l.line, t AS r,
                       t.filename IS NOT DISTINCT FROM l.filename AND ({witness}) AS aligned
                FROM read_json($paths, format = 'newline_delimited', columns = {_columns_literal(schema)}, filename = true) t
                POSITIONAL JOIN (SELECT * FROM ({NUMBERED_LINES}) WHERE line <> '') l
            """, files)
        except duckdb.InvalidInputException:
            return False
        finally:
            con.execute("SET preserve_insertion_order = false")
        if con.execute("SELECT count(*) FROM parsed WHERE aligned IS NOT true").fetchone()[0]:
            con.execute("DROP TABLE parsed")
            return False
        con.execute("ALTER TABLE parsed DROP COLUMN aligned")
        return True

    def _parse_lines(self, kind: str, files: dict) -> None:
        """The careful path: parse each line on its own, so a bad line costs only itself (`r` is NULL
        for it). A byte-order mark is dropped from every line here, not only a file's first."""
        schema, _required = NDJSON_SCHEMAS[kind]
        self.con.execute(f"""
            CREATE OR REPLACE TEMP TABLE parsed AS
            SELECT rel, ord, line_no, line, try(from_json(line, '{json.dumps(schema)}')) AS r
            FROM (SELECT rel, ord, line_no, ltrim(line, chr(65279)) AS line FROM ({NUMBERED_LINES}))
            WHERE trim(line, ' ' || chr(9)) <> ''  -- JSON's whitespace between records (CR is gone)
        """, files)

    def _newest(self, keys: str) -> None:
        """Keep one parsed record per natural key: the last file in sorted order, then the last line, wins."""
        duplicates = self.con.execute(f"SELECT count(*) - count(DISTINCT ({keys})) FROM parsed").fetchone()[0]
        if duplicates:  # rare (a re-pulled day imported twice): only then pay for the window
            self.con.execute(f"""
                CREATE OR REPLACE TEMP TABLE parsed AS SELECT * FROM parsed
                QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY ord DESC, line_no DESC) = 1
            """)

    def _users(self, kind: str) -> None:
        con = self.con
        self._newest("r.day, r.user_id")
        if kind == "users-28-day":  # bootstrap only: never overrides a 1-day row
            con.execute("""DELETE FROM parsed p WHERE EXISTS (SELECT 1 FROM user_day u WHERE u.day = p.r.day
                           AND u.user_id = p.r.user_id AND u.source_kind = 'users-1-day')""")
        con.execute("CREATE OR REPLACE TEMP TABLE new_key AS SELECT DISTINCT r.day AS day, r.user_id AS user_id FROM parsed")
        for table in ("user_day", "user_day_feature", "user_day_model_feature", "user_day_language_feature", "user_day_ide"):
            con.execute(f"DELETE FROM {table} t USING new_key k WHERE t.day = k.day AND t.user_id = k.user_id")
        counters = ", ".join(f"r.{c}" for c in COUNTERS)
        con.execute(f"""
            INSERT INTO user_day SELECT r.day, r.user_id, r.user_login, r.organization_id, r.enterprise_id, {counters},
                r.used_agent, r.used_chat, r.used_cli, r.used_copilot_code_review_active,
                r.used_copilot_code_review_passive, coalesce(r.used_copilot_cloud_agent, r.used_copilot_coding_agent),
                r.ai_credits_used, r.totals_by_cli.session_count, r.totals_by_cli.request_count,
                r.totals_by_cli.prompt_count, r.totals_by_cli.token_usage.prompt_tokens_sum,
                r.totals_by_cli.token_usage.output_tokens_sum, r.totals_by_cli.last_known_cli_version.cli_version,
                r.ai_adoption_phase.phase_number, '{kind}', rel, line
            FROM parsed
        """)
        for table, field_, keys, cols in (
            ("user_day_feature", "totals_by_feature", ("feature",), COUNTERS),
            ("user_day_model_feature", "totals_by_model_feature", ("model", "feature"), COUNTERS),
            ("user_day_language_feature", "totals_by_language_feature", ("language", "feature"), COUNTERS[1:]),
            ("user_day_ide", "totals_by_ide", ("ide",), COUNTERS),
        ):
            sel = ", ".join([f"coalesce(b.{k}, 'unknown')" for k in keys] + [f"sum(b.{c})" for c in cols])
            con.execute(f"""
                INSERT INTO {table}
                SELECT day, user_id, {sel} FROM (
                    SELECT r.day AS day, r.user_id AS user_id, unnest(r.{field_}) AS b FROM parsed
                ) GROUP BY ALL
            """)

    def _user_teams(self, kind: str) -> None:
        con = self.con
        self._newest("r.day, r.user_id, r.team_id")
        con.execute("""DELETE FROM user_team_day t USING parsed p
                       WHERE t.day = p.r.day AND t.user_id = p.r.user_id AND t.team_id = p.r.team_id""")
        con.execute("""INSERT INTO user_team_day SELECT r.day, r.user_id, r.team_id, r.slug, r.user_login,
                       r.organization_id FROM parsed""")

    def _org_days(self, kind: str) -> None:
        con = self.con
        # Enterprise aggregates share org_day, keyed 'enterprise:<id>' so they never mix with an org's rows.
        if kind.startswith("enterprise"):
            key = "'enterprise:' || coalesce(r.enterprise_id, '')"
        else:
            key = f"coalesce(r.organization_id, {'outer_org' if kind.endswith('28-day') else 'NULL'}, '')"
        con.execute(f"CREATE OR REPLACE TEMP TABLE parsed AS SELECT *, {key} AS org_id FROM parsed")
        self._newest("r.day, org_id")
        if kind.endswith("-28-day"):
            con.execute("""DELETE FROM parsed p WHERE EXISTS (SELECT 1 FROM org_day o WHERE o.day = p.r.day
                           AND o.organization_id = p.org_id AND o.source_kind LIKE '%-1-day')""")
        con.execute("""DELETE FROM org_day o USING parsed p
                       WHERE o.day = p.r.day AND o.organization_id = p.org_id""")
        counters = ", ".join(f"r.{c}" for c in COUNTERS)
        con.execute(f"""
            INSERT INTO org_day SELECT r.day, org_id, r.enterprise_id, r.daily_active_users,
                r.weekly_active_users, r.monthly_active_users, r.monthly_active_chat_users,
                r.monthly_active_agent_users, r.daily_active_cli_users, {counters},
                r.totals_by_cli.session_count, r.totals_by_cli.request_count, r.totals_by_cli.prompt_count,
                r.totals_by_cli.token_usage.prompt_tokens_sum, r.totals_by_cli.token_usage.output_tokens_sum,
                r.pull_requests.total_created, r.pull_requests.total_reviewed, r.pull_requests.total_merged,
                r.pull_requests.median_minutes_to_merge, r.pull_requests.total_created_by_copilot,
                r.pull_requests.total_reviewed_by_copilot, r.pull_requests.total_merged_created_by_copilot,
                '{kind}', rel, {'line' if kind.endswith('-1-day') else 'to_json(r)::VARCHAR'}
            FROM parsed
        """)

    # -- JSON documents ---------------------------------------------------------------------------
    def load_document(self, f: RawFile) -> None:
        con = self.con
        con.execute("BEGIN")
        try:
            rows, bad = ingest_docs.load(con, f, self.now)
        except ingest_docs.FileRejected as exc:
            rows, bad = 0, [(f.rel, exc.line, f.kind, exc.message, exc.excerpt)]
        self.quarantine(bad)
        self.mark_ingested(f, rows, len(bad))
        con.execute("COMMIT")


def ingest_raw(raw_dir: str | os.PathLike, warehouse_path: str | os.PathLike, full: bool = False,
               progress: bool = False, files: list[RawFile] | None = None) -> IngestSummary:
    """Load a raw zone into the warehouse.

    Parameters
    ----------
    raw_dir : the raw zone (see DESIGN.md, "Raw zone").
    warehouse_path : DuckDB file, created if missing.
    full : re-read every file, not only new or changed ones (the result is the same; slower).
    progress : show a progress bar per kind on stderr.
    files : only these files (used by `import`); default: everything under `raw_dir`.

    Returns
    -------
    IngestSummary: files seen, ingested and unchanged, rows loaded, lines quarantined (with their files).
    """
    raw = Path(raw_dir)
    if not raw.is_dir():
        raise UserError(f"raw zone {raw} is not a folder: pass the folder that `generate` or `fetch` wrote "
                        "(it holds metrics/, seats/, billing/ …)")
    if files is None:
        files, _unknown = discover(raw)
    summary = IngestSummary(run_id=uuid.uuid4().hex[:12], raw_dir=str(raw_dir), files_seen=len(files))
    con = warehouse.connect(warehouse_path, row_group_size=ROW_GROUP_SIZE)
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET preserve_insertion_order = false")  # row order carries no meaning in the warehouse
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    ingestor = Ingestor(con, raw, summary)
    try:
        done = dict(con.execute("SELECT path, sha256 FROM ingest_file").fetchall())
        todo = [f for f in files if full or done.get(f.rel) != f.fingerprint()]
        summary.files_unchanged = len(files) - len(todo)
        bar = None
        if progress:
            from tqdm import tqdm
            bar = ingestor.bar = tqdm(total=len(todo), desc="ingest", unit="file", leave=False)
        with tempfile.TemporaryDirectory(prefix="copilot-finops-ingest-") as tmp:
            for kind in KINDS:  # 28-day before 1-day, so 1-day rows win
                batch = sorted((f for f in todo if f.kind == kind), key=_load_order)
                if not batch:
                    continue
                if bar is not None:
                    bar.set_description(f"ingest {kind}")
                t0 = time.perf_counter()
                if kind in NDJSON_KINDS:
                    ingestor.load_ndjson(kind, batch, Path(tmp))
                else:
                    for f in batch:
                        ingestor.load_document(f)
                summary.seconds_by_kind[kind] = round(time.perf_counter() - t0, 3)
        if bar is not None:
            bar.close()
        con.execute("INSERT INTO ingest_run VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok')", [
            summary.run_id, started, datetime.now(timezone.utc).replace(tzinfo=None), str(raw_dir),
            summary.files_seen, summary.files_ingested, summary.files_unchanged, summary.rows_loaded,
            summary.lines_quarantined])
    except Exception:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        raise
    finally:
        con.close()
    return summary
