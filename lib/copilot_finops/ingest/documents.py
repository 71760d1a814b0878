"""Ingest of JSON-document kinds: seats, teams, billing usage and per-repo delivery data.

Each file is one document as GitHub served it (usually a JSON array of pages or items). A file whose
elements are not of its kind is refused whole (`FileRejected`); an element that lacks its key or holds a
value of the wrong shape goes to quarantine with its 1-based index and the reason; the rest of the file loads.
Rows keep their provenance (`source_file`, `source_line`: the element's index) where the table has it.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
from datetime import date, datetime, timezone

import duckdb
import pandas as pd

from . import signatures

ROOT_CAUSE = re.compile(r"root\s*cause:\s*([0-9a-f]{7,40})", re.IGNORECASE)
PULL_URL = re.compile(r"/pulls/(\d+)(?:$|[/?#])")
DEPLOYMENT_URL = re.compile(r"/deployments/(\d+)(?:$|[/?#])")


class FileRejected(Exception):
    """The whole file cannot be loaded; it goes to quarantine (line 0, or the line that broke) with this message."""

    def __init__(self, message: str, line: int = 0, excerpt: str = ""):
        super().__init__(message)
        self.message, self.line, self.excerpt = message, line, excerpt


class BadElement(Exception):
    """One element of a document cannot be loaded; it goes to quarantine with its index and this message."""


def read(f) -> tuple[object, str, int]:
    """(parsed document, sha256, size in bytes) of a raw file; FileRejected when it is not JSON."""
    data = f.path.read_bytes()
    sha, size = hashlib.sha256(data).hexdigest(), len(data)
    if f.path.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise FileRejected(f"cannot decompress gzip: {exc}") from exc
    text = data.decode("utf-8-sig", errors="replace")
    try:
        return json.loads(text), sha, size
    except json.JSONDecodeError as exc:
        lines = text.splitlines()
        excerpt = lines[exc.lineno - 1][:2000] if 0 < exc.lineno <= len(lines) else text[:2000]
        raise FileRejected(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", exc.lineno, excerpt) from exc


def ts(value) -> datetime | None:
    """A GitHub timestamp (Z or offset) as naive UTC; None for missing or unparseable values."""
    if not value or not isinstance(value, str):
        return None
    if value[-1:] == "Z":  # GitHub's usual form is already UTC: skip the time-zone round trip (a third of the time)
        try:
            return datetime.fromisoformat(value[:-1])
        except ValueError:
            return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t


def _day(value) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _int(value, what: str, positive: bool = True) -> int:
    """An id or count as int; BadElement, naming the field, for anything else (a bool, a float, text)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or (positive and value <= 0) or abs(value) >= 2**63:
        raise BadElement(f"{what} must be a {'positive ' if positive else ''}integer (found {json.dumps(value)[:60]})")
    return value


def _num(value, what: str) -> float | None:
    """A quantity or amount as float (None when absent); BadElement for text or a bool."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadElement(f"{what} must be a number (found {json.dumps(value)[:60]})")
    return float(value)


def _obj(value) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


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


def _replace(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[dict], key: list[str],
             replace_by: list[str] | None = None) -> int:
    """Delete the rows whose `replace_by` key (default: `key`) appears in `rows`, then insert `rows`.

    Duplicates on `key` keep the last one. A coarser `replace_by` replaces a whole group, e.g. all the files of
    one pull request. A few rows go to DuckDB as one list per column (a daily fetch brings dozens of small
    documents, and building a frame for each cost more than loading it), many as a DataFrame.
    """
    if not rows:
        return 0
    rows = list({tuple(r[k] for k in key): r for r in rows}.values())
    replace_by = replace_by or key
    cond = " AND ".join(f't."{k}" = i."{k}"' for k in replace_by)
    if len(rows) > 500:  # a frame converts many rows at once; building one costs more than a few rows do
        con.register("incoming", pd.DataFrame(rows, columns=columns))
        con.execute(f"DELETE FROM {table} t USING (SELECT DISTINCT {', '.join(replace_by)} FROM incoming) i "
                    f"WHERE {cond}")
        con.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM incoming")
        con.unregister("incoming")  # not in a `finally`: in a transaction an error aborted it would hide the error
        return len(rows)
    lists = {c: [r[c] for r in rows] for c in columns}
    con.execute(f"DELETE FROM {table} t USING (SELECT DISTINCT {', '.join(f'unnest(${k}) AS {k}' for k in replace_by)})"
                f" i WHERE {cond}", {k: lists[k] for k in replace_by})
    con.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(f'unnest(${c})' for c in columns)}",
                lists)
    return len(rows)


def _dump(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


def _each(f, items: list, build) -> tuple[list[dict], list]:
    """Rows `build(element, index)` makes of each element (a list of rows, possibly empty), and the quarantine
    rows of the elements it refused (BadElement), with their 1-based index."""
    rows, bad = [], []
    for i, item in enumerate(items, 1):
        try:
            rows.extend(build(item, i))
        except BadElement as exc:
            bad.append((f.rel, i, f.kind, str(exc), _dump(item)[:2000]))
    return rows, bad


def load(con: duckdb.DuckDBPyConnection, f, doc, file_id: int) -> tuple[int, list]:
    """Load one parsed document (see `read`) whose raw_file id is `file_id`; returns (rows loaded, quarantine rows).

    Raises FileRejected when the file as a whole is not of its kind (its elements match another kind's signature,
    or none); nothing is changed then.
    """
    loader = {"seats": _seats, "teams": _teams, "ai-credit-usage": _billing, "premium-request-usage": _billing,
              "pulls": _pulls, "reviews": _reviews, "pull-files": _pull_files, "deployments": _deployments,
              "deployment-statuses": _deployment_statuses, "issues": _issues}[f.kind]
    items = _items(doc, "seats" if f.kind == "seats" else None)
    wrong = signatures.mismatch(f.kind, items[:50])
    if wrong:
        raise FileRejected(wrong, 0, _dump(items[0])[:2000])
    return loader(con, f, items, file_id)


def _snapshot_day(f) -> date:
    stem = f.path.name.split(".", 1)[0]
    d = _day(stem)
    if d is None:
        raise FileRejected(f"the file name must be the snapshot day, YYYY-MM-DD.json (found {f.path.name!r})")
    return d


def _element(item, what: str) -> dict:
    if not isinstance(item, dict):
        raise BadElement(f"{what} is not a JSON object (found {type(item).__name__})")
    return item


def _seats(con, f, items, file_id):
    snap = _snapshot_day(f)

    def build(seat, i):
        seat = _element(seat, "seat")
        user = seat.get("assignee")
        if not isinstance(user, dict) or user.get("id") is None:
            raise BadElement("seat without assignee.id")
        return [{"snapshot_day": snap, "user_id": _int(user["id"], "assignee.id"), "user_login": _text(user.get("login")),
                 "plan_type": _text(seat.get("plan_type")), "created_at": ts(seat.get("created_at")),
                 "pending_cancellation_date": _day(seat.get("pending_cancellation_date")),
                 "last_activity_at": ts(seat.get("last_activity_at")),
                 "last_activity_editor": _text(seat.get("last_activity_editor")),
                 "last_authenticated_at": ts(seat.get("last_authenticated_at")),
                 "assigning_team_slug": _text(_obj(seat.get("assigning_team")).get("slug")),
                 "source_file": file_id, "source_line": i}]

    rows, bad = _each(f, items, build)
    # A snapshot is the whole roster: seats absent from it are gone, so replace the day.
    con.execute("DELETE FROM seat WHERE snapshot_day = ?", [snap])
    cols = ["snapshot_day", "user_id", "user_login", "plan_type", "created_at", "pending_cancellation_date",
            "last_activity_at", "last_activity_editor", "last_authenticated_at", "assigning_team_slug",
            "source_file", "source_line"]
    return _replace(con, "seat", cols, rows, ["snapshot_day", "user_id"]), bad


def _teams(con, f, items, file_id):
    snap = _snapshot_day(f)

    def build(t, i):
        t = _element(t, "team")
        if t.get("id") is None:
            raise BadElement("team without id")
        team_id = _int(t["id"], "id")
        members = t.get("members") or []
        if not isinstance(members, list):
            raise BadElement(f"members must be a list (found {type(members).__name__})")
        rows = [("team", {"team_id": team_id, "slug": _text(t.get("slug")), "name": _text(t.get("name")),
                          "parent_slug": _text(_obj(t.get("parent")).get("slug")), "last_seen_day": snap,
                          "source_file": file_id, "source_line": i})]
        for m in members:
            if isinstance(m, dict) and m.get("id") is not None:
                rows.append(("member", {"snapshot_day": snap, "team_id": team_id,
                                        "user_id": _int(m["id"], "members[].id"),
                                        "user_login": _text(m.get("login")), "team_slug": _text(t.get("slug"))}))
        return rows

    rows, bad = _each(f, items, build)
    teams = [r for kind, r in rows if kind == "team"]
    members = [r for kind, r in rows if kind == "member"]
    # Keep a team's newest description; an older snapshot ingested later must not roll it back.
    existing = dict(con.execute("SELECT team_id, last_seen_day FROM team").fetchall())
    teams = [t for t in teams if existing.get(t["team_id"]) is None or existing[t["team_id"]] <= snap]
    n = _replace(con, "team", ["team_id", "slug", "name", "parent_slug", "last_seen_day", "source_file", "source_line"],
                 teams, ["team_id"])
    con.execute("DELETE FROM team_member WHERE snapshot_day = ?", [snap])
    n += _replace(con, "team_member", ["snapshot_day", "team_id", "user_id", "user_login", "team_slug"], members,
                  ["snapshot_day", "team_id", "user_id"])
    return n, bad


def _billing(con, f, items, file_id):
    stem = f.path.name.split(".", 1)[0]

    def build(response, i):
        response = _element(response, "usage response")
        period_info = _obj(response.get("timePeriod"))
        if period_info.get("year") and period_info.get("month"):
            year, month = _int(period_info["year"], "timePeriod.year"), _int(period_info["month"], "timePeriod.month")
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
        for item in usage:
            item = _element(item, "usageItems[]")
            rows.append({"period": period, "user_login": _text(response.get("user")) or "",
                         "model": _text(item.get("model")) or "", "sku": _text(item.get("sku")) or "",
                         "product": _text(item.get("product")) or "", "billing_kind": f.kind,
                         "unit_type": _text(item.get("unitType")),
                         **{col: _num(item.get(key), key) for col, key in _AMOUNTS.items()},
                         "source_file": file_id, "source_line": i})
        return rows

    rows, bad = _each(f, items, build)
    cols = ["period", "user_login", "model", "sku", "product", "billing_kind", "unit_type", *_AMOUNTS,
            "source_file", "source_line"]
    return _replace(con, "credit_usage", cols, rows, ["period", "user_login", "model", "sku", "product"]), bad


_AMOUNTS = {"price_per_unit": "pricePerUnit", "gross_quantity": "grossQuantity", "gross_amount": "grossAmount",
            "discount_quantity": "discountQuantity", "discount_amount": "discountAmount",
            "net_quantity": "netQuantity", "net_amount": "netAmount"}


def _pulls(con, f, items, file_id):
    def build(p, i):
        p = _element(p, "pull request")
        user, head = _obj(p.get("user")), _obj(p.get("head"))
        merged = p.get("merged_at")
        return [{"repo": f.repo, "number": _int(p.get("number"), "number"), "author_login": _text(user.get("login")),
                 "author_id": _int(user["id"], "user.id") if user.get("id") is not None else None,
                 "author_type": _text(user.get("type")), "labels": _labels(p.get("labels")),
                 "title": _text(p.get("title")), "body": _text(p.get("body")), "state": _text(p.get("state")),
                 "draft": bool(p.get("draft")), "created_at": ts(p.get("created_at")),
                 "closed_at": ts(p.get("closed_at")), "merged_at": ts(merged),
                 "merge_commit_sha": _text(p.get("merge_commit_sha")) if merged else None,
                 "head_ref": _text(head.get("ref")), "head_sha": _text(head.get("sha")),
                 "source_file": file_id, "source_line": i}]

    rows, bad = _each(f, items, build)
    cols = ["repo", "number", "author_login", "author_id", "author_type", "labels", "title", "body", "state", "draft",
            "created_at", "closed_at", "merged_at", "merge_commit_sha", "head_ref", "head_sha", "source_file",
            "source_line"]
    return _replace(con, "pull_request", cols, rows, ["repo", "number"]), bad


def _labels(value) -> list[str]:
    """Label names of an issue or pull request: GitHub's objects with a `name`, or plain names."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadElement(f"labels must be a list (found {type(value).__name__})")
    names = [lb.get("name") if isinstance(lb, dict) else lb for lb in value]
    if not all(isinstance(n, str) and n for n in names):
        raise BadElement(f"labels[] must be names or objects with a name (found {_dump(value)[:60]})")
    return names


def _logins(users, what: str) -> set[str]:
    """The logins of a list of user objects (an issue's assignees)."""
    if users is None:
        return set()
    if not isinstance(users, list) or not all(isinstance(u, dict) for u in users):
        raise BadElement(f"{what} must be a list of user objects (found {_dump(users)[:60]})")
    return {u["login"] for u in users if isinstance(u.get("login"), str) and u["login"]}


IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
SKETCH_SIZE = 64


def patch_sketch(patch: str | None) -> list[int] | None:
    """The SKETCH_SIZE smallest 64-bit hashes of the distinct words on a patch's added lines (None: no patch).

    Words are the parts of identifiers (camelCase and snake_case split, lower-cased, three letters or
    more), so `retryWithBackoff` and `retry_with_backoff` write the same words. A bottom-k sketch: two
    patches that write much the same code share most of their smallest hashes.
    """
    if not patch or not isinstance(patch, str):
        return None
    words = {part.lower() for line in patch.splitlines() if line.startswith("+") and not line.startswith("+++")
             for ident in IDENTIFIER.findall(line) for part in CAMEL.sub("_", ident).split("_") if len(part) >= 3}
    hashes = sorted(int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "big", signed=True)
                    for w in words)
    return hashes[:SKETCH_SIZE]


def _reviews(con, f, items, file_id):
    def build(r, i):
        r = _element(r, "review")
        m = PULL_URL.search(str(r.get("pull_request_url") or ""))
        if r.get("id") is None or (m is None and r.get("pull_number") is None):
            raise BadElement("review without id or pull_request_url")
        number = int(m.group(1)) if m else _int(r.get("pull_number"), "pull_number")
        return [{"repo": f.repo, "number": number, "review_id": _int(r["id"], "id"),
                 "reviewer_login": _text(_obj(r.get("user")).get("login")), "state": _text(r.get("state")),
                 "submitted_at": ts(r.get("submitted_at")), "commit_id": _text(r.get("commit_id"))}]

    rows, bad = _each(f, items, build)
    cols = ["repo", "number", "review_id", "reviewer_login", "state", "submitted_at", "commit_id"]
    return _replace(con, "review", cols, rows, ["repo", "number", "review_id"]), bad


def _pull_files(con, f, items, file_id):
    def build(p, i):
        p = _element(p, "pull request")
        number = _int(p.get("number"), "number")
        files = p.get("files") or []
        if not isinstance(files, list):
            raise BadElement("files must be a list")
        return [{"repo": f.repo, "number": number, "filename": x["filename"], "status": _text(x.get("status")),
                 "additions": _int(x["additions"], "additions", False) if x.get("additions") is not None else None,
                 "deletions": _int(x["deletions"], "deletions", False) if x.get("deletions") is not None else None,
                 "patch_sketch": patch_sketch(_patch(x))}
                for x in files if isinstance(x, dict) and isinstance(x.get("filename"), str) and x["filename"]]

    rows, bad = _each(f, items, build)
    cols = ["repo", "number", "filename", "status", "additions", "deletions", "patch_sketch"]
    # a PR's file list is replaced whole
    return _replace(con, "pull_request_file", cols, rows, ["repo", "number", "filename"], replace_by=["repo", "number"]), bad


def _patch(file: dict) -> str | None:
    """A file's patch text; GitHub leaves it out for binary and very large files."""
    patch = file.get("patch")
    if patch is not None and not isinstance(patch, str):
        raise BadElement(f"files[].patch of {file['filename']} must be text (found {type(patch).__name__})")
    return patch


def _deployments(con, f, items, file_id):
    def build(d, i):
        d = _element(d, "deployment")
        return [{"repo": f.repo, "deployment_id": _int(d.get("id"), "id"), "sha": _text(d.get("sha")),
                 "ref": _text(d.get("ref")), "environment": _text(d.get("environment")),
                 "created_at": ts(d.get("created_at")), "creator_login": _text(_obj(d.get("creator")).get("login")),
                 "source_file": file_id, "source_line": i}]

    rows, bad = _each(f, items, build)
    cols = ["repo", "deployment_id", "sha", "ref", "environment", "created_at", "creator_login", "source_file",
            "source_line"]
    return _replace(con, "deployment", cols, rows, ["repo", "deployment_id"]), bad


def _deployment_statuses(con, f, items, file_id):
    def build(s, i):
        s = _element(s, "deployment status")
        m = DEPLOYMENT_URL.search(str(s.get("deployment_url") or ""))
        dep = m.group(1) if m else s.get("deployment_id")
        if s.get("id") is None or dep is None:
            raise BadElement("status without id or deployment_url")
        return [{"repo": f.repo, "deployment_id": _int(dep, "deployment_id"), "status_id": _int(s["id"], "id"),
                 "state": _text(s.get("state")), "environment": _text(s.get("environment")),
                 "created_at": ts(s.get("created_at"))}]

    rows, bad = _each(f, items, build)
    cols = ["repo", "deployment_id", "status_id", "state", "environment", "created_at"]
    return _replace(con, "deployment_status", cols, rows, ["repo", "deployment_id", "status_id"]), bad


def _issues(con, f, items, file_id):
    def build(it, i):
        it = _element(it, "issue")
        number = _int(it.get("number"), "number")
        if it.get("pull_request"):
            return []  # the issues endpoint also lists pull requests
        body = _text(it.get("body"))
        m = ROOT_CAUSE.search(body or "")
        assignee = it.get("assignee")  # the first assignee; older payloads carry only this one
        assignees = _logins(it.get("assignees"), "assignees") | _logins(None if assignee is None else [assignee],
                                                                        "assignee")
        return [{"repo": f.repo, "number": number, "title": _text(it.get("title")), "state": _text(it.get("state")),
                 "created_at": ts(it.get("created_at")), "closed_at": ts(it.get("closed_at")),
                 "root_cause_sha": m.group(1).lower() if m else None, "labels": _labels(it.get("labels")),
                 "body": body, "author_login": _text(_obj(it.get("user")).get("login")),
                 "assignees": sorted(assignees)}]

    rows, bad = _each(f, items, build)
    cols = ["repo", "number", "title", "state", "created_at", "closed_at", "root_cause_sha", "labels", "body",
            "author_login", "assignees"]
    return _replace(con, "incident", cols, rows, ["repo", "number"]), bad
