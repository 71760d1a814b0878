"""Ingest of JSON-document kinds: seats, teams, billing usage and per-repo delivery data.

Each file is one document as GitHub served it (usually a JSON array of pages or items). A file whose
elements are not of its kind is refused whole (`FileRejected`); an element that lacks its key or holds a
value of the wrong shape goes to quarantine with its 1-based index and the reason (the checks of each value are
in `elements`); the rest of the file loads.
Rows keep their provenance (`source_file`, `source_line`: the element's index) where the table has it.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import date

import duckdb

from . import repeats, signatures
from .elements import (BadElement, as_day, as_element, as_int, as_number, as_object, as_text, label_names,
                       patch_text, pull_people, ts, user_logins)
from .replacing import Replacement, apply, replacement
from .sketch import SKETCH_SIZE, patch_sketch

ROOT_CAUSE = re.compile(r"root\s*cause:\s*([0-9a-f]{7,40})", re.IGNORECASE)
PULL_URL = re.compile(r"/pulls/(\d+)(?:$|[/?#])")
DEPLOYMENT_URL = re.compile(r"/deployments/(\d+)(?:$|[/?#])")


class FileRejected(Exception):
    """The whole file cannot be loaded; it goes to quarantine (line 0, or the line that broke) with this message."""

    def __init__(self, message: str, line: int = 0, excerpt: str = ""):
        super().__init__(message)
        self.message, self.line, self.excerpt = message, line, excerpt


def read(f, served: bool = False) -> tuple[object, str, int]:
    """(parsed document, sha256, size in bytes) of a raw file; FileRejected when it is not JSON.

    served : for the kinds of `repeats.KINDS`, the document's elements as served (`repeats.Served`), not yet
        decoded, when msgspec reads it as a list; `stage` then decodes only those the tables do not hold.
    """
    data = f.path.read_bytes()
    sha, size = hashlib.sha256(data).hexdigest(), len(data)
    if served and f.kind in repeats.KINDS:
        doc = repeats.split(f.kind, data, f.path.name)
        if doc is not None:
            return doc, sha, size
    try:
        text = signatures.file_text(data, f.path.name)
    except ValueError as exc:
        raise FileRejected(str(exc)) from exc
    try:
        return json.loads(text), sha, size
    except json.JSONDecodeError as exc:
        lines = text.splitlines()
        excerpt = lines[exc.lineno - 1][:2000] if 0 < exc.lineno <= len(lines) else text[:2000]
        raise FileRejected(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", exc.lineno, excerpt) from exc


def _items(doc, list_key: str | None = None) -> list:
    """Flatten a served document: a list of pages, one page, or a bare list."""
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise FileRejected(f"expected a JSON array or object, found {type(doc).__name__}")
    out = []
    for page in doc:
        if list_key and isinstance(page, dict) and list_key in page:
            inner = page[list_key]
            if inner is not None and not isinstance(inner, list):
                raise FileRejected(f"{list_key} must be a list (found {type(inner).__name__})")
            out.extend(inner or [])
        elif isinstance(page, list):
            out.extend(page)
        else:
            out.append(page)
    return out


def _replace(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list, key: list[str],
             replace_by: list[str] | None = None) -> int:
    """Delete the rows whose `replace_by` key (default: `key`) appears in `rows`, then insert `rows`; returns how many.

    rows : tuples in the order of `columns`, or dicts with every name of `columns`. Duplicates on `key` keep the
    last one. A coarser `replace_by` replaces a whole group, e.g. all the files of one pull request.
    """
    r = replacement(table, columns, rows, key, replace_by)
    apply(con, [r])
    return len(r.rows)


def _dump(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


def _each(f, items: list, build) -> tuple[list[dict], list]:
    """Rows `build(element, index)` makes of each element (a list of rows, possibly empty), and the quarantine
    rows of the elements it refused (BadElement), with their 1-based index."""
    rows, bad = [], []
    for i, item in zip(items.places if isinstance(items, repeats.Picked) else range(1, len(items) + 1), items):
        try:
            rows.extend(build(item, i))
        except BadElement as exc:
            bad.append((f.rel, i, f.kind, str(exc), _dump(item)[:2000]))
    return rows, bad


def _staged(r: Replacement, bad: list) -> tuple[int, list, list[Replacement]]:
    """A loader's answer (see `stage`) of one Replacement."""
    return len(r.rows), bad, [r]


def load(con: duckdb.DuckDBPyConnection, f, doc, file_id: int) -> tuple[int, list]:
    """Load one parsed document (see `read`) whose raw_file id is `file_id`; returns (rows loaded, quarantine rows).

    Raises FileRejected when the file as a whole is not of its kind (its elements match another kind's signature,
    or none); nothing is changed then.
    """
    rows, bad, replacements = stage(con, f, doc, file_id)
    apply(con, replacements)
    return rows, bad


def stage(con: duckdb.DuckDBPyConnection, f, doc, file_id: int,
          seen: dict | None = None) -> tuple[int, list, list[Replacement]]:
    """`load` without the writes: (rows loaded, quarantine rows, the Replacements that load them).

    The Replacements of several files of a kind, applied together in file order (`replacing.apply`), leave the
    tables as loading the files one by one does. A kind whose rows depend on what the tables hold (teams) is
    written here, and gives no Replacements.

    seen : kind -> the hashes of the keys built since `repeats.hold` looked up `doc` (`repeats.read_ahead`),
        updated here. Given, the elements of a `repeats.Served` document that the tables hold as served are left
        out (their rows still count in the rows loaded); None builds every element.
    """
    loader = {"seats": _seats, "teams": _teams, "ai-credit-usage": _billing, "premium-request-usage": _billing,
              "pulls": _pulls, "reviews": _reviews, "pull-files": _pull_files, "deployments": _deployments,
              "deployment-statuses": _deployment_statuses, "issues": _issues}[f.kind]
    served = isinstance(doc, repeats.Served)
    items = doc.head(50) if served else _items(doc, "seats" if f.kind == "seats" else None)
    wrong = signatures.mismatch(f.kind, items[:50])
    if wrong:
        raise FileRejected(wrong, 0, _dump(items[0])[:2000])
    return repeats.stage(con, f, doc, file_id, loader, seen, _items) if served else loader(con, f, items, file_id)


def _snapshot_day(f) -> date:
    stem = f.path.name.split(".", 1)[0]
    d = as_day(stem)
    if d is None:
        raise FileRejected(f"the file name must be the snapshot day, YYYY-MM-DD.json (found {f.path.name!r})")
    return d


def _seats(con, f, items, file_id):
    snap = _snapshot_day(f)

    def build(seat, i):
        seat = as_element(seat, "seat")
        user = seat.get("assignee")
        if not isinstance(user, dict) or user.get("id") is None:
            raise BadElement("seat without assignee.id")
        return [(snap, as_int(user["id"], "assignee.id"), as_text(user.get("login")), as_text(seat.get("plan_type")),
                 ts(seat.get("created_at")), as_day(seat.get("pending_cancellation_date")),
                 ts(seat.get("last_activity_at")), as_text(seat.get("last_activity_editor")),
                 ts(seat.get("last_authenticated_at")), as_text(as_object(seat.get("assigning_team")).get("slug")),
                 file_id, i)]

    rows, bad = _each(f, items, build)
    cols = ["snapshot_day", "user_id", "user_login", "plan_type", "created_at", "pending_cancellation_date",
            "last_activity_at", "last_activity_editor", "last_authenticated_at", "assigning_team_slug",
            "source_file", "source_line"]
    # A snapshot is the whole roster: seats absent from it are gone, so replace the day.
    seats = replacement("seat", cols, rows, ["snapshot_day", "user_id"], ["snapshot_day"], groups=[(snap,)])
    return len(seats.rows), bad, [seats]


def _teams(con, f, items, file_id):
    snap = _snapshot_day(f)

    def build(t, i):
        t = as_element(t, "team")
        if t.get("id") is None:
            raise BadElement("team without id")
        team_id = as_int(t["id"], "id")
        members = t.get("members") or []
        if not isinstance(members, list):
            raise BadElement(f"members must be a list (found {type(members).__name__})")
        slug = as_text(t.get("slug"))
        rows = [("team", (team_id, slug, as_text(t.get("name")), as_text(as_object(t.get("parent")).get("slug")),
                          snap, file_id, i))]
        for m in members:
            if isinstance(m, dict) and m.get("id") is not None:
                rows.append(("member", (snap, team_id, as_int(m["id"], "members[].id"), as_text(m.get("login")),
                                        slug)))
        return rows

    rows, bad = _each(f, items, build)
    teams = [r for kind, r in rows if kind == "team"]
    members = [r for kind, r in rows if kind == "member"]
    # Keep a team's newest description; an older snapshot ingested later must not roll it back.
    existing = dict(con.execute("SELECT team_id, last_seen_day FROM team").fetchall())
    teams = [t for t in teams if existing.get(t[0]) is None or existing[t[0]] <= snap]
    n = _replace(con, "team", ["team_id", "slug", "name", "parent_slug", "last_seen_day", "source_file", "source_line"],
                 teams, ["team_id"])
    con.execute("DELETE FROM team_member WHERE snapshot_day = ?", [snap])
    n += _replace(con, "team_member", ["snapshot_day", "team_id", "user_id", "user_login", "team_slug"], members,
                  ["snapshot_day", "team_id", "user_id"])
    return n, bad, []


def _billing(con, f, items, file_id):
    stem = f.path.name.split(".", 1)[0]

    def build(response, i):
        response = as_element(response, "usage response")
        period_info = as_object(response.get("timePeriod"))
        if period_info.get("year") and period_info.get("month"):
            year = as_int(period_info["year"], "timePeriod.year")
            month = as_int(period_info["month"], "timePeriod.month")
            if not 1 <= month <= 12:
                raise BadElement(f"timePeriod.month must be 1 to 12 (found {month})")
            period = f"{year:04d}-{month:02d}"
        elif re.fullmatch(r"\d{4}-\d{2}", stem):
            period = stem
        else:
            raise BadElement("no month: timePeriod.month missing and file name is not YYYY-MM")
        usage = response.get("usageItems") or []
        if not isinstance(usage, list):
            raise BadElement("usageItems must be a list")
        rows = []
        user = as_text(response.get("user")) or ""
        for item in usage:
            item = as_element(item, "usageItems[]")
            # a month holds a hundred thousand amounts: plain numbers skip the call
            amounts = [float(value) if type(value) in _PLAIN_NUMBERS else as_number(value, key)
                       for value, key in zip(map(item.get, _AMOUNT_KEYS), _AMOUNT_KEYS)]
            rows.append((period, user, as_text(item.get("model")) or "", as_text(item.get("sku")) or "",
                         as_text(item.get("product")) or "", f.kind, as_text(item.get("unitType")), *amounts,
                         file_id, i))
        return rows

    rows, bad = _each(f, items, build)
    cols = ["period", "user_login", "model", "sku", "product", "billing_kind", "unit_type", *_AMOUNTS,
            "source_file", "source_line"]
    return _staged(replacement("credit_usage", cols, rows, ["period", "user_login", "model", "sku", "product"]), bad)


_PLAIN_NUMBERS = (int, float)  # as read by json (a bool is neither type); anything else goes through as_number
_AMOUNTS = {"price_per_unit": "pricePerUnit", "gross_quantity": "grossQuantity", "gross_amount": "grossAmount",
            "discount_quantity": "discountQuantity", "discount_amount": "discountAmount",
            "net_quantity": "netQuantity", "net_amount": "netAmount"}
_AMOUNT_KEYS = list(_AMOUNTS.values())
PULL_COLUMNS = ["repo", "number", "author_login", "author_id", "author_type", "labels", "title", "body", "state",
                "draft", "created_at", "closed_at", "merged_at", "merge_commit_sha", "head_ref", "head_sha",
                "source_file", "source_line", "element_digest"]


def _pulls(con, f, items, file_id):
    repo = f.repo
    digests = repeats.digests(items)

    def build(p, i):
        p = as_element(p, "pull request")
        user, head = as_object(p.get("user")), as_object(p.get("head"))
        merged = p.get("merged_at")
        return [((repo, as_int(p.get("number"), "number"), as_text(user.get("login")),
                  as_int(user["id"], "user.id") if user.get("id") is not None else None, as_text(user.get("type")),
                  label_names(p.get("labels")), as_text(p.get("title")), as_text(p.get("body")),
                  as_text(p.get("state")), bool(p.get("draft")), ts(p.get("created_at")), ts(p.get("closed_at")),
                  ts(merged), as_text(p.get("merge_commit_sha")) if merged else None, as_text(head.get("ref")),
                  as_text(head.get("sha")), file_id, i, digests[i - 1]), pull_people(p))]

    built, bad = _each(f, items, build)
    rows = [row for row, _ in built]
    people = [(row[0], row[1], login, role, file_id, row[17]) for row, persons in built for role, login in persons]
    # a pull request's people are replaced whole: someone unassigned since is gone
    persons = replacement("pull_request_person", ["repo", "number", "login", "role", "source_file", "source_line"],
                          people, ["repo", "number", "login", "role"], ["repo", "number"],
                          groups=list(dict.fromkeys(row[:2] for row in rows)))
    pulls = replacement("pull_request", PULL_COLUMNS, rows, ["repo", "number"])
    return len(pulls.rows), bad, [persons, pulls]


def _reviews(con, f, items, file_id):
    repo = f.repo
    digests = repeats.digests(items)

    def build(r, i):
        r = as_element(r, "review")
        m = PULL_URL.search(str(r.get("pull_request_url") or ""))
        if r.get("id") is None or (m is None and r.get("pull_number") is None):
            raise BadElement("review without id or pull_request_url")
        number = int(m.group(1)) if m else as_int(r.get("pull_number"), "pull_number")
        return [(repo, number, as_int(r["id"], "id"), as_text(as_object(r.get("user")).get("login")),
                 as_text(r.get("state")), ts(r.get("submitted_at")), as_text(r.get("commit_id")), digests[i - 1])]

    rows, bad = _each(f, items, build)
    cols = ["repo", "number", "review_id", "reviewer_login", "state", "submitted_at", "commit_id", "element_digest"]
    return _staged(replacement("review", cols, rows, ["repo", "number", "review_id"]), bad)


def _pull_files(con, f, items, file_id):
    repo = f.repo
    digests = repeats.digests(items)

    def build(p, i):
        p = as_element(p, "pull request")
        number = as_int(p.get("number"), "number")
        files = p.get("files") or []
        if not isinstance(files, list):
            raise BadElement("files must be a list")
        rows = [(repo, number, x["filename"], as_text(x.get("status")),
                 as_int(x["additions"], "additions", False) if x.get("additions") is not None else None,
                 as_int(x["deletions"], "deletions", False) if x.get("deletions") is not None else None,
                 patch_text(x))
                for x in files if isinstance(x, dict) and isinstance(x.get("filename"), str) and x["filename"]]
        digest = _files_digest(rows)
        return [(*row, digest, digests[i - 1]) for row in rows]

    rows, bad = _each(f, items, build)
    # a PR's file list is replaced whole, where it changed: the patch text becomes its sketch only then
    files = replacement("pull_request_file", PULL_FILE_COLUMNS, rows, ["repo", "number", "filename"],
                        ["repo", "number"], digest="files_digest", finish=_sketched)
    return _staged(files, bad)


PULL_FILE_COLUMNS = ["repo", "number", "filename", "status", "additions", "deletions", "patch_sketch", "files_digest",
                     "element_digest"]
# Bump when the rows built of a file list change for the same list (a new column, another sketch): the
# digests then differ from every stored one, and the next fetch of each pull request writes it again.
PULL_FILES_VERSION = f"1:{SKETCH_SIZE}"


def _files_digest(rows: list[tuple]) -> int:
    """A signed 64-bit digest of a pull request's file rows as built (patch text in place of the sketch)."""
    return int.from_bytes(hashlib.blake2b(repr((PULL_FILES_VERSION, rows)).encode(), digest_size=8).digest(), "big",
                          signed=True)


def _sketched(row: tuple) -> tuple:
    """A pull request file's row to write: its patch text (staged in the sketch's place) becomes the sketch."""
    return (*row[:6], patch_sketch(row[6]), *row[7:])


def _deployments(con, f, items, file_id):
    def build(d, i):
        d = as_element(d, "deployment")
        return [(f.repo, as_int(d.get("id"), "id"), as_text(d.get("sha")), as_text(d.get("ref")),
                 as_text(d.get("environment")), ts(d.get("created_at")),
                 as_text(as_object(d.get("creator")).get("login")), file_id, i)]

    rows, bad = _each(f, items, build)
    cols = ["repo", "deployment_id", "sha", "ref", "environment", "created_at", "creator_login", "source_file",
            "source_line"]
    return _staged(replacement("deployment", cols, rows, ["repo", "deployment_id"]), bad)


def _deployment_statuses(con, f, items, file_id):
    def build(s, i):
        s = as_element(s, "deployment status")
        m = DEPLOYMENT_URL.search(str(s.get("deployment_url") or ""))
        dep = m.group(1) if m else s.get("deployment_id")
        if s.get("id") is None or dep is None:
            raise BadElement("status without id or deployment_url")
        return [(f.repo, as_int(dep, "deployment_id"), as_int(s["id"], "id"), as_text(s.get("state")),
                 as_text(s.get("environment")), ts(s.get("created_at")))]

    rows, bad = _each(f, items, build)
    cols = ["repo", "deployment_id", "status_id", "state", "environment", "created_at"]
    return _staged(replacement("deployment_status", cols, rows, ["repo", "deployment_id", "status_id"]), bad)


def _issues(con, f, items, file_id):
    def build(it, i):
        it = as_element(it, "issue")
        number = as_int(it.get("number"), "number")
        if it.get("pull_request"):
            return []  # the issues endpoint also lists pull requests
        body = as_text(it.get("body"))
        m = ROOT_CAUSE.search(body or "")
        assignee = it.get("assignee")  # the first assignee; older payloads carry only this one
        assignees = (user_logins(it.get("assignees"), "assignees")
                     | user_logins(None if assignee is None else [assignee], "assignee"))
        return [(f.repo, number, as_text(it.get("title")), as_text(it.get("state")), ts(it.get("created_at")),
                 ts(it.get("closed_at")), m.group(1).lower() if m else None, label_names(it.get("labels")), body,
                 as_text(as_object(it.get("user")).get("login")), sorted(assignees))]

    rows, bad = _each(f, items, build)
    cols = ["repo", "number", "title", "state", "created_at", "closed_at", "root_cause_sha", "labels", "body",
            "author_login", "assignees"]
    return _staged(replacement("incident", cols, rows, ["repo", "number"]), bad)
