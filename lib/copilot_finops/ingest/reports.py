"""NDJSON usage reports into the warehouse, parsed inside DuckDB (a 1M-line report never passes through pandas).

`ReportLoader` is the NDJSON half of `run.Ingestor`: it reads batches of files of one kind, takes the lines it
cannot read or that break a rule (`rules`) out to quarantine with their number, replaces rows by natural key,
and keeps each row's provenance (file id and line) instead of its text: the raw zone is the record.
"""
from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import duckdb

from .columns import BREAKDOWNS, ORG_DAY_COLUMNS, USER_DAY_COLUMNS, repeated_lines, repeats_condition, select_list
from .provenance import read_lines
from .rawfiles import RawFile
from . import rules
from .scan import FOLDER_DAY, NUMBERED_LINES, ReportFile, line_error, read_ahead
from .schemas import NDJSON_SCHEMAS, WITNESS, _columns_literal, unknown_fields

BATCH_BYTES = 256 * 1024 * 1024  # NDJSON bytes parsed per DuckDB statement: bounds memory at any org size
PARSERS = 2  # batches parsed at once, ahead of the one loading: some 3 × BATCH_BYTES of records held in all
SCRATCH = "ingest_scratch"  # an in-memory database the parse threads write to (temp tables are per cursor)
BREAKDOWN_KINDS = ("users-1-day", "users-28-day")  # the kinds whose records carry the BREAKDOWNS lists

def _reshaped(kind: str) -> bool:
    """Whether the kind's records are reshaped before they are checked (a 28-day aggregate: a row per day)."""
    return kind.endswith("-28-day") and kind != "users-28-day"


def _same(sampled, parsed) -> bool:
    """A sampled line's value against the value parsed for the same line number (both as text)."""
    return (None if sampled is None else str(sampled)) == parsed


class ReportLoader:
    """The NDJSON methods of `run.Ingestor` (which supplies `con`, `summary`, `quarantine`, `register`,
    `reject_file`, `mark_ingested`, `reapply_retention`, `commit` and `rollback`)."""

    # The batch being loaded: whether `parsed` is a view of the parse-ahead thread's table, that table, and the
    # records that repeat a breakdown key as that thread found them (None: not looked for yet).
    _view: bool = False
    _scratch: str | None = None
    _repeated: list | None = None

    def load_ndjson(self, kind: str, files: list[RawFile], tmpdir: Path) -> None:
        """Load files of one NDJSON kind in batches of about BATCH_BYTES, in overlapping stages.

        A thread reads ahead (inflate, hash, count and sample each file; hashing releases the GIL); PARSERS
        threads parse the next batches inside DuckDB (each its own cursor, into a table of the in-memory
        `SCRATCH` database) and check their records while this thread loads the batch before. With more than
        one batch, each statement runs on one thread (`threads = 1` while the batches load): the stages keep
        both cores busy, and a parse split across threads costs more in all, its pieces put back in order (the
        users-1-day reports of 10,000 users took 0.77-0.93 × as long so, in six alternating runs). A single
        batch (a day's fetch) has no stage to overlap with: its statements keep every thread. DuckDB numbers a
        batch's records by insertion order (`preserve_insertion_order`, a global setting): it is on while the
        batches load.
        """
        con = self.con
        con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {SCRATCH}")
        threads = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
        con.execute("SET preserve_insertion_order = true")
        if sum(f.path.stat().st_size for f in files) > BATCH_BYTES:  # (a gzip file's size as stored: an estimate)
            con.execute("SET threads = 1")
        cursors: list[duckdb.DuckDBPyConnection] = []
        local = threading.local()

        def parse(batch: list[ReportFile], table: str):
            if not hasattr(local, "cursor"):  # a cursor per parsing thread, which runs one statement at a time
                local.cursor = con.cursor()
                cursors.append(local.cursor)
            return self._parse_ahead(kind, batch, local.cursor, table)

        try:
            with ThreadPoolExecutor(max_workers=PARSERS, thread_name_prefix="ingest-parse") as pool:
                ahead: deque = deque()  # (batch, the future of its parse), parsed while the batch before loads
                for n, batch in enumerate(self._batches(kind, files, tmpdir)):
                    ahead.append((batch, pool.submit(parse, batch, f"{SCRATCH}.parsed_{n}")))
                    if len(ahead) > PARSERS:
                        self._load_ndjson_checked(kind, *ahead.popleft(), tmpdir)
                while ahead:
                    self._load_ndjson_checked(kind, *ahead.popleft(), tmpdir)
        finally:
            for cursor in cursors:
                cursor.close()
            con.execute(f"SET threads = {threads}")
            con.execute("SET preserve_insertion_order = false")

    def _batches(self, kind: str, files: list[RawFile], tmpdir: Path) -> Iterator[list[ReportFile]]:
        """The readable files in batches of about BATCH_BYTES; a file that cannot be loaded at all is rejected."""
        batch: list[ReportFile] = []
        size = 0
        for f, path, scan, error, excerpt in read_ahead(files, kind, tmpdir):
            if error:
                self.reject_file(f, error, excerpt)
                continue
            batch.append(ReportFile(f, path, scan, scan.sample_objects()))
            size += path.stat().st_size
            if size >= BATCH_BYTES:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def _load_ndjson_checked(self, kind: str, batch: list[ReportFile], parsed: Future | None, tmpdir: Path) -> None:
        try:
            self._load_ndjson_batch(kind, batch, parsed)
        except duckdb.InvalidInputException as exc:
            if "UTF" not in str(exc).upper():
                raise
            # Bytes that are not UTF-8: keep every line, with the bad bytes replaced, rather than lose the file.
            self.rollback()
            for item in batch:
                out = tmpdir / (uuid.uuid4().hex + ".ndjson")
                out.write_text(item.text.read_bytes().decode("utf-8", errors="replace"))
                item.text = out
            self._load_ndjson_batch(kind, batch)

    def _load_ndjson_batch(self, kind: str, batch: list[ReportFile], parsed: Future | None = None) -> None:
        """Load a batch from `parsed` (ord, line_no, r): the typed parse made ahead (`parsed`, the future of
        `_parse_ahead`, None when that parse gave up), else the typed parse now, else the careful one.

        Lines that are not JSON objects, lack their key or break a rule are taken out to quarantine with their
        number and the reason.
        """
        con = self.con
        self._forget_parsed()
        ahead = parsed.result() if parsed is not None else None
        problems, self._repeated = None, None
        if ahead:
            table, problems, self._repeated = ahead
            # read where the other thread left it: copying it cost a third of the load
            con.execute(f"CREATE TEMP VIEW parsed AS SELECT * FROM {table}")
            self._scratch, self._view = table, True
        if ahead or (parsed is None and self._parse_typed(kind, batch, con, "parsed")):
            self.summary.batches_typed += 1
            careful = False
        else:
            self.summary.batches_line_by_line += 1
            self._parse_lines(kind, [item.text for item in batch])
            careful = True
        con.execute("BEGIN")
        ids = [self.register(item.raw, item.scan.sha256, item.scan.bytes) for item in batch]
        counts = dict(con.execute("SELECT ord, count(*) FROM parsed GROUP BY ord").fetchall())
        bad: dict[tuple[int, int], tuple[str, str | None]] = {}  # (ord, line) -> (error, text when known)
        if careful:
            for o, ln, text in con.execute("SELECT ord, line_no, line FROM parsed WHERE r IS NULL").fetchall():
                bad[(o, ln)] = (line_error(text) or "could not be read as the expected record", text)
            con.execute("DELETE FROM parsed WHERE r IS NULL")
        if _reshaped(kind):  # one object holding day_totals[]: a row per day
            self._own_parsed()
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE parsed AS
                SELECT ord, line_no, {'line, ' if careful else ''}d AS r, r.organization_id AS outer_org,
                       r.report_start_day AS report_start, r.report_end_day AS report_end
                FROM (SELECT *, unnest(r.day_totals) AS d FROM parsed)
            """)
        if problems is None:
            problems = rules.problems(con, "parsed", kind, [item.folder_day for item in batch], careful)
        if problems:
            con.execute("CREATE OR REPLACE TEMP TABLE bad_line AS SELECT unnest($o) AS ord, unnest($l) AS line_no",
                        {"o": [p[0] for p in problems], "l": [p[1] for p in problems]})
            self._own_parsed()
            con.execute("DELETE FROM parsed p USING bad_line b WHERE p.ord = b.ord AND p.line_no = b.line_no")
            con.execute("DROP TABLE bad_line")
            for o, ln, error, text in problems:  # a line that is no JSON object says so, not "missing user_id"
                bad.setdefault((o, ln), ((text is not None and line_error(text)) or error, text))
        loader = {"users-1-day": self._users, "users-28-day": self._users, "user-teams-1-day": self._user_teams,
                  "organization-1-day": self._org_days, "organization-28-day": self._org_days,
                  "enterprise-1-day": self._org_days, "enterprise-28-day": self._org_days}[kind]
        loader(kind, ids)
        self._count_unknown_fields(kind, batch)
        self.quarantine(self._quarantine_rows(kind, batch, bad))
        per_file_bad: dict[int, int] = {}
        for o, _ in bad:
            per_file_bad[o] = per_file_bad.get(o, 0) + 1
        for o, item in enumerate(batch):
            self.mark_ingested(item.raw, int(counts.get(o, 0)) - per_file_bad.get(o, 0), per_file_bad.get(o, 0))
        self.reapply_retention(kind)
        self.commit()
        self._forget_parsed()

    def _parse_ahead(self, kind: str, batch: list[ReportFile], con: duckdb.DuckDBPyConnection,
                     table: str) -> tuple[str, list | None, list] | None:
        """On the parse-ahead thread: the typed parse into `table`, and what needs no other table: the records'
        problems (unless the kind reshapes its records first) and which repeat a breakdown key.
        (table, problems or None, repeated lines), or None when the typed parse gave up."""
        if not self._parse_typed(kind, batch, con, table):
            return None
        days = [i.folder_day for i in batch]
        if _reshaped(kind):  # checked after the reshape, on the loading thread
            return table, None, []
        if kind in BREAKDOWN_KINDS:  # one pass over the nested lists for both questions
            checked, repeated = rules.problems(con, table, kind, days, False, flag=repeats_condition())
            return table, checked, repeated
        return table, rules.problems(con, table, kind, days, False), []

    def _own_parsed(self) -> None:
        """Make `parsed` a temp table of this connection before a statement changes it (it may be a view of the
        scratch table the parse-ahead thread filled, which this connection must not write in its transaction)."""
        if self._view:
            self.con.execute("CREATE OR REPLACE TEMP TABLE parsed_own AS SELECT * FROM parsed")
            self.con.execute("DROP VIEW parsed")
            self.con.execute("ALTER TABLE parsed_own RENAME TO parsed")
            self._view = False

    def _forget_parsed(self) -> None:
        """Drop `parsed`, and the scratch table it read (outside any transaction: it is another database's)."""
        kind = self.con.execute("SELECT any_value(table_type) FROM information_schema.tables "
                                "WHERE table_catalog = 'temp' AND table_name = 'parsed'").fetchone()[0]
        if kind:  # (after a rollback it may be either, whatever this object last did)
            self.con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} parsed")
        self._view = False
        if self._scratch:
            self.con.execute(f"DROP TABLE IF EXISTS {self._scratch}")
            self._scratch = None

    def _quarantine_rows(self, kind: str, batch: list[ReportFile], bad: dict) -> list[tuple]:
        """Quarantine rows for the bad lines; the text of lines the fast parse never kept is read from the file."""
        missing: dict[int, set[int]] = {}
        for (o, ln), (_, text) in bad.items():
            if text is None:
                missing.setdefault(o, set()).add(ln)
        texts = {o: read_lines(batch[o].text, lines) for o, lines in missing.items()}
        rows = []
        for (o, ln), (error, text) in sorted(bad.items()):
            if text is None:
                text = texts[o].get(ln, b"").decode("utf-8", "replace")
                text = text.removeprefix("\ufeff") if ln == 1 else text
            rows.append((batch[o].raw.rel, int(ln), kind, error, text))
        return rows

    def _parse_typed(self, kind: str, batch: list[ReportFile], con: duckdb.DuckDBPyConnection,
                     table: str) -> str | None:
        """The fast path: DuckDB's JSON reader parses the records straight into typed columns, numbered by order,
        into `table` (the temp table `parsed`, or a scratch table when another thread parses ahead on `con`, a
        cursor of its own). Returns the table's name, or None.

        Record n of a file is its line n when the file has as many lines as records (no blank line); each file's
        sampled lines must then show the values parsed for their number (`schemas.WITNESS`). When the reader
        rejects the batch, or a count or a sample does not agree, this returns None, leaving no table, and
        the line-by-line path reads the batch instead. Needs `preserve_insertion_order` on (rowid order is then
        file order, line order).
        """
        schema, _required = NDJSON_SCHEMAS[kind]
        temp = "TEMP " if table == "parsed" else ""
        try:
            con.execute(f"""
                CREATE OR REPLACE {temp}TABLE {table} AS
                SELECT file_index::BIGINT AS ord, NULL::BIGINT AS line_no, t AS r
                FROM read_json($paths, format = 'newline_delimited', columns = {_columns_literal(schema)}) t
            """, {"paths": [str(item.text) for item in batch]})
        except duckdb.InvalidInputException:
            return None
        counts = dict(con.execute(f"SELECT ord, count(*) FROM {table} GROUP BY ord").fetchall())
        offsets, total = [], 0
        for o, item in enumerate(batch):
            offsets.append(total)
            total += item.scan.lines
            if counts.get(o, 0) != item.scan.lines:
                con.execute(f"DROP TABLE {table}")
                return None
        con.execute(f"UPDATE {table} SET line_no = rowid + 1 - list_extract($offsets, ord + 1)", {"offsets": offsets})
        fields = WITNESS[kind]
        sampled = [(o, ln, obj) for o, item in enumerate(batch) for ln, obj in item.samples if isinstance(obj, dict)]
        if sampled:
            found = {(o, ln): vals for o, ln, *vals in con.execute(f"""
                SELECT p.ord, p.line_no, {', '.join(f'p.r.{c}::VARCHAR' for c in fields)}
                FROM {table} p JOIN (SELECT unnest($o) AS ord, unnest($l) AS line_no) s USING (ord, line_no)
            """, {"o": [s[0] for s in sampled], "l": [s[1] for s in sampled]}).fetchall()}
            for o, ln, obj in sampled:
                vals = found.get((o, ln))
                if vals is None or not all(_same(obj.get(c), v) for c, v in zip(fields, vals)):
                    con.execute(f"DROP TABLE {table}")
                    return None
        return table

    def _parse_lines(self, kind: str, paths: list[Path]) -> None:
        """The careful path: parse each line on its own, so a bad line costs only itself (`r` is NULL
        for it). A byte-order mark is dropped from every line here, not only a file's first."""
        schema, _required = NDJSON_SCHEMAS[kind]
        self.con.execute(f"""
            CREATE OR REPLACE TEMP TABLE parsed AS
            SELECT ord, line_no, line, try(from_json(line, '{json.dumps(schema)}')) AS r
            FROM (SELECT ord, line_no, ltrim(line, chr(65279)) AS line FROM ({NUMBERED_LINES}))
            WHERE trim(line, ' ' || chr(9)) <> ''  -- JSON's whitespace between records (CR is gone)
        """, {"paths": [str(p) for p in paths]})

    def _count_unknown_fields(self, kind: str, batch: list[ReportFile]) -> None:
        """Fields no parser knows, counted per day in each file's sampled records (`unknown_field`)."""
        rows = []
        for item in batch:
            sampled: dict[str, int] = {}
            seen: dict[tuple[str, str], int] = {}
            for _, obj in item.samples:
                if not isinstance(obj, dict):
                    continue
                day = obj.get("day") or obj.get("report_end_day") or (str(item.folder_day) if item.folder_day else None)
                if not isinstance(day, str) or not FOLDER_DAY.match(day):
                    continue
                sampled[day] = sampled.get(day, 0) + 1
                for name in unknown_fields(kind, obj):
                    seen[(day, name)] = seen.get((day, name), 0) + 1
            rows += [(item.raw.rel, kind, day, name, n, sampled[day]) for (day, name), n in seen.items()]
        self.con.execute("DELETE FROM unknown_field WHERE path IN (SELECT unnest($p))",
                         {"p": [item.raw.rel for item in batch]})
        if rows:
            self.con.executemany("INSERT INTO unknown_field VALUES (?, ?, ?, ?, ?, ?)", rows)

    def _newest(self, keys: dict[str, str]) -> None:
        """`new_key`: the natural keys in `parsed` (column -> expression); when a key repeats (rare: a re-pulled
        day imported twice), only the newest record of it stays in `parsed`: the last file in sorted order, then
        the last line."""
        con = self.con
        select = ", ".join(f"{expr} AS {col}" for col, expr in keys.items())
        con.execute(f"CREATE OR REPLACE TEMP TABLE new_key AS SELECT DISTINCT {select} FROM parsed")
        if con.execute("SELECT (SELECT count(*) FROM new_key) < (SELECT count(*) FROM parsed)").fetchone()[0]:
            self._own_parsed()
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE parsed AS SELECT * FROM parsed
                QUALIFY row_number() OVER (PARTITION BY {', '.join(keys.values())} ORDER BY ord DESC, line_no DESC) = 1
            """)

    def _replace_days(self, tables: tuple[str, ...], keys: str) -> None:
        """Delete the rows of `tables` whose key is in `new_key`; the day range lets DuckDB skip row groups."""
        lo, hi = self.con.execute("SELECT min(day), max(day) FROM new_key").fetchone()
        if lo is None:
            return
        cond = " AND ".join(f"t.{k} = k.{k}" for k in keys.split(", "))
        for table in tables:
            self.con.execute(f"DELETE FROM {table} t USING new_key k WHERE t.day BETWEEN $lo AND $hi AND {cond}",
                             {"lo": lo, "hi": hi})

    def _users(self, kind: str, ids: list[int]) -> None:
        con = self.con
        keys = {"day": "r.day", "user_id": "r.user_id"}
        self._newest(keys)
        if kind == "users-28-day":  # bootstrap only: never overrides a 1-day row
            self._own_parsed()
            con.execute("""DELETE FROM parsed p WHERE EXISTS (SELECT 1 FROM user_day u WHERE u.day = p.r.day
                           AND u.user_id = p.r.user_id AND u.source_kind = 'users-1-day')""")
            self._newest(keys)
        self._replace_days(("user_day", *BREAKDOWNS), "day, user_id")
        con.execute(f"""
            INSERT INTO user_day BY NAME SELECT {select_list(USER_DAY_COLUMNS, kind)}, '{kind}' AS source_kind,
                list_extract($ids, ord + 1) AS source_file, line_no AS source_line
            FROM parsed
        """, {"ids": ids})
        # A breakdown row per (day, user, key): items of one list that name the same key are summed. Lists
        # rarely repeat a key, so grouping (a hash table over every item) is kept for the records that do.
        repeated = self._repeated if self._repeated is not None else repeated_lines(con, "parsed")
        if repeated:
            con.execute("CREATE OR REPLACE TEMP TABLE repeated_line AS SELECT unnest($o) AS ord, unnest($l) AS line_no",
                        {"o": [o for o, _ in repeated], "l": [ln for _, ln in repeated]})
        for table, (field_, keys, cols) in BREAKDOWNS.items():
            key_cols = [f"coalesce(b.{k}, 'unknown')" for k in keys]
            plain = f"SELECT day, user_id, {', '.join(key_cols + [f'b.{c}' for c in cols])}"
            items = f"SELECT r.day AS day, r.user_id AS user_id, unnest(r.{field_}) AS b FROM parsed"
            if not repeated:
                con.execute(f"INSERT INTO {table} {plain} FROM ({items})")
                continue
            summed = f"SELECT day, user_id, {', '.join(key_cols + [f'sum(b.{c})' for c in cols])}"
            con.execute(f"INSERT INTO {table} {plain} FROM ({items} ANTI JOIN repeated_line USING (ord, line_no))")
            con.execute(f"INSERT INTO {table} {summed} FROM ({items} SEMI JOIN repeated_line USING (ord, line_no)) "
                        "GROUP BY ALL")
        if repeated:
            con.execute("DROP TABLE repeated_line")

    def _user_teams(self, kind: str, ids: list[int]) -> None:
        con = self.con
        self._newest({"day": "r.day", "user_id": "r.user_id", "team_id": "r.team_id"})
        self._replace_days(("user_team_day",), "day, user_id, team_id")
        con.execute("""INSERT INTO user_team_day BY NAME SELECT r.day AS day, r.user_id AS user_id, r.team_id AS team_id,
                       r.slug AS team_slug, r.user_login AS user_login, r.organization_id AS organization_id FROM parsed""")

    def _org_days(self, kind: str, ids: list[int]) -> None:
        con = self.con
        # Enterprise aggregates share org_day, keyed 'enterprise:<id>' so they never mix with an org's rows.
        if kind.startswith("enterprise"):
            key = "'enterprise:' || coalesce(r.enterprise_id, '')"
        else:
            key = f"coalesce(r.organization_id, {'outer_org' if kind.endswith('28-day') else 'NULL'}, '')"
        self._own_parsed()
        con.execute(f"CREATE OR REPLACE TEMP TABLE parsed AS SELECT *, {key} AS org_id FROM parsed")
        self._newest({"day": "r.day", "organization_id": "org_id"})
        if kind.endswith("-28-day"):
            con.execute("""DELETE FROM parsed p WHERE EXISTS (SELECT 1 FROM org_day o WHERE o.day = p.r.day
                           AND o.organization_id = p.org_id AND o.source_kind LIKE '%-1-day')""")
        con.execute("""DELETE FROM org_day o USING parsed p
                       WHERE o.day = p.r.day AND o.organization_id = p.org_id""")
        con.execute(f"""
            INSERT INTO org_day BY NAME SELECT {select_list(ORG_DAY_COLUMNS, kind)}, org_id AS organization_id,
                '{kind}' AS source_kind, list_extract($ids, ord + 1) AS source_file, line_no AS source_line
            FROM parsed
        """, {"ids": ids})
