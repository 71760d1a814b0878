"""NDJSON usage reports into the warehouse, parsed inside DuckDB (a 1M-line report never passes through pandas).

`ReportLoader` is the NDJSON half of `run.Ingestor`: it reads batches of files of one kind, takes lines it
cannot read out to quarantine with their number, and replaces rows by natural key.
"""
from __future__ import annotations

import gzip
import json
import shutil
import uuid
from pathlib import Path

import duckdb

from .rawfiles import RawFile
from .schemas import COUNTERS, NDJSON_SCHEMAS, WITNESS, _columns_literal

BATCH_BYTES = 128 * 1024 * 1024  # NDJSON bytes parsed per DuckDB statement: bounds memory at any org size

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


class ReportLoader:
    """The NDJSON methods of `run.Ingestor` (which supplies `con`, `summary`, `quarantine` and `mark_ingested`)."""

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
