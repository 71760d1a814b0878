"""Ingest of JSON-document kinds: seats, teams, billing usage and per-repo delivery data.

Each file is one document as GitHub served it (usually a JSON array of pages or items). An
element that lacks its key goes to quarantine with its index; the rest of the file loads.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
from datetime import date, datetime, timezone

import duckdb
import pandas as pd

ROOT_CAUSE = re.compile(r"root\s*cause:\s*([0-9a-f]{7,40})", re.IGNORECASE)
PULL_URL = re.compile(r"/pulls/(\d+)(?:$|[/?#])")
DEPLOYMENT_URL = re.compile(r"/deployments/(\d+)(?:$|[/?#])")


class FileRejected(Exception):
    def __init__(self, message: str, line: int = 0, excerpt: str = ""):
        super().__init__(message)
        self.message, self.line, self.excerpt = message, line, excerpt


def _read(f) -> object:
    data = f.path.read_bytes()
    if f.path.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise FileRejected(f"cannot decompress gzip: {exc}") from exc
    text = data.decode("utf-8-sig", errors="replace")
    try:
        return json.loads(text)
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


def _items(doc, list_key: str | None = None) -> list:
    """Flatten a served document: a list of pages, one page, or a bare list."""
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise FileRejected(f"expected a JSON array or object, found {type(doc).__name__}")
    out = []
    for page in doc:
        if list_key and isinstance(page, dict) and list_key in page:
            out.extend(page[list_key] or [])
        elif isinstance(page, list):
            out.extend(page)
        else:
            out.append(page)
    return out


def _replace(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[dict], key: list[str],
             replace_by: list[str] | None = None) -> int:
    """Delete the rows whose `replace_by` key (default: `key`) appears in `rows`, then insert `rows`.

    Duplicates on `key` keep the last one. A coarser `replace_by` replaces a whole group, e.g. all
    the files of one pull request.
    """
    if not rows:
        return 0
    frame = pd.DataFrame(rows, columns=columns).drop_duplicates(subset=key, keep="last")
    replace_by = replace_by or key
    con.register("incoming", frame)
    try:
        cond = " AND ".join(f't."{k}" = i."{k}"' for k in replace_by)
        con.execute(f"DELETE FROM {table} t USING (SELECT DISTINCT {', '.join(replace_by)} FROM incoming) i WHERE {cond}")
        con.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM incoming")
    finally:
        con.unregister("incoming")
    return len(frame)


def _dump(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


def load(con: duckdb.DuckDBPyConnection, f, now: datetime) -> tuple[int, list]:
    """Load one document file; returns (rows loaded, quarantine rows)."""
    loader = {"seats": _seats, "teams": _teams, "ai-credit-usage": _billing, "premium-request-usage": _billing,
              "pulls": _pulls, "reviews": _reviews, "pull-files": _pull_files, "deployments": _deployments,
              "deployment-statuses": _deployment_statuses, "issues": _issues}[f.kind]
    return loader(con, f, _read(f))


def _snapshot_day(f) -> date:
    stem = f.path.name.split(".", 1)[0]
    d = _day(stem)
    if d is None:
        raise FileRejected(f"the file name must be the snapshot day, YYYY-MM-DD.json (found {f.path.name!r})")
    return d


def _seats(con, f, doc):
    snap = _snapshot_day(f)
    rows, bad = [], []
    for i, seat in enumerate(_items(doc, "seats")):
        user = (seat or {}).get("assignee") or {}
        if not isinstance(user, dict) or user.get("id") is None:
            bad.append((f.rel, i, f.kind, "seat without assignee.id", _dump(seat)[:2000]))
            continue
        team = seat.get("assigning_team") or {}
        rows.append({"snapshot_day": snap, "user_id": int(user["id"]), "user_login": user.get("login"),
                     "plan_type": seat.get("plan_type"), "created_at": ts(seat.get("created_at")),
                     "pending_cancellation_date": _day(seat.get("pending_cancellation_date")),
                     "last_activity_at": ts(seat.get("last_activity_at")),
                     "last_activity_editor": seat.get("last_activity_editor"),
                     "last_authenticated_at": ts(seat.get("last_authenticated_at")),
                     "assigning_team_slug": team.get("slug") if isinstance(team, dict) else None,
                     "source_path": f.rel, "record": _dump(seat)})
    # A snapshot is the whole roster: seats absent from it are gone, so replace the day.
    con.execute("DELETE FROM seat WHERE snapshot_day = ?", [snap])
    cols = ["snapshot_day", "user_id", "user_login", "plan_type", "created_at", "pending_cancellation_date",
            "last_activity_at", "last_activity_editor", "last_authenticated_at", "assigning_team_slug", "source_path", "record"]
    return _replace(con, "seat", cols, rows, ["snapshot_day", "user_id"]), bad


def _teams(con, f, doc):
    snap = _snapshot_day(f)
    teams, members, bad = [], [], []
    for i, t in enumerate(_items(doc)):
        if not isinstance(t, dict) or t.get("id") is None:
            bad.append((f.rel, i, f.kind, "team without id", _dump(t)[:2000]))
            continue
        parent = t.get("parent") or {}
        record = {k: v for k, v in t.items() if k != "members"}
        teams.append({"team_id": int(t["id"]), "slug": t.get("slug"), "name": t.get("name"),
                      "parent_slug": parent.get("slug") if isinstance(parent, dict) else None,
                      "last_seen_day": snap, "record": _dump(record)})
        for m in t.get("members") or []:
            if isinstance(m, dict) and m.get("id") is not None:
                members.append({"snapshot_day": snap, "team_id": int(t["id"]), "user_id": int(m["id"]),
                                "user_login": m.get("login"), "team_slug": t.get("slug")})
    # Keep a team's newest description; an older snapshot ingested later must not roll it back.
    existing = dict(con.execute("SELECT team_id, last_seen_day FROM team").fetchall())
    teams = [t for t in teams if existing.get(t["team_id"]) is None or existing[t["team_id"]] <= snap]
    n = _replace(con, "team", ["team_id", "slug", "name", "parent_slug", "last_seen_day", "record"], teams, ["team_id"])
    con.execute("DELETE FROM team_member WHERE snapshot_day = ?", [snap])
    n += _replace(con, "team_member", ["snapshot_day", "team_id", "user_id", "user_login", "team_slug"], members,
                  ["snapshot_day", "team_id", "user_id"])
    return n, bad


def _billing(con, f, doc):
    rows, bad = [], []
    stem = f.path.name.split(".", 1)[0]
    for i, response in enumerate(_items(doc)):
        if not isinstance(response, dict):
            bad.append((f.rel, i, f.kind, "expected a usage response object", _dump(response)[:2000]))
            continue
        period_info = response.get("timePeriod") or {}
        if period_info.get("year") and period_info.get("month"):
            period = f"{int(period_info['year']):04d}-{int(period_info['month']):02d}"
        elif re.fullmatch(r"\d{4}-\d{2}", stem):
            period = stem
        else:
            bad.append((f.rel, i, f.kind, "no month: timePeriod.month missing and file name is not YYYY-MM", _dump(response)[:2000]))
            continue
        for item in response.get("usageItems") or []:
            rows.append({"period": period, "user_login": response.get("user") or "", "model": item.get("model") or "",
                         "sku": item.get("sku") or "", "product": item.get("product") or "", "billing_kind": f.kind,
                         "unit_type": item.get("unitType"), "price_per_unit": item.get("pricePerUnit"),
                         "gross_quantity": item.get("grossQuantity"), "gross_amount": item.get("grossAmount"),
                         "discount_quantity": item.get("discountQuantity"), "discount_amount": item.get("discountAmount"),
                         "net_quantity": item.get("netQuantity"), "net_amount": item.get("netAmount"), "source_path": f.rel})
    cols = ["period", "user_login", "model", "sku", "product", "billing_kind", "unit_type", "price_per_unit",
            "gross_quantity", "gross_amount", "discount_quantity", "discount_amount", "net_quantity", "net_amount", "source_path"]
    return _replace(con, "credit_usage", cols, rows, ["period", "user_login", "model", "sku", "product"]), bad


def _keyed(f, items, key: str):
    good, bad = [], []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or item.get(key) is None:
            bad.append((f.rel, i, f.kind, f"element without {key}", _dump(item)[:2000]))
        else:
            good.append(item)
    return good, bad


def _pulls(con, f, doc):
    items, bad = _keyed(f, _items(doc), "number")
    rows = [{"repo": f.repo, "number": int(p["number"]), "author_login": (p.get("user") or {}).get("login"),
             "author_id": (p.get("user") or {}).get("id"), "author_type": (p.get("user") or {}).get("type"),
             "labels": _label_names(p), "title": p.get("title"), "state": p.get("state"),
             "draft": bool(p.get("draft")), "created_at": ts(p.get("created_at")), "closed_at": ts(p.get("closed_at")),
             "merged_at": ts(p.get("merged_at")), "merge_commit_sha": p.get("merge_commit_sha") if p.get("merged_at") else None,
             "head_ref": (p.get("head") or {}).get("ref"), "head_sha": (p.get("head") or {}).get("sha"),
             "record": _dump(p)} for p in items]
    cols = list(rows[0]) if rows else ["repo"]
    return _replace(con, "pull_request", cols, rows, ["repo", "number"]), bad


def _label_names(item: dict) -> list[str]:
    return [lb.get("name") if isinstance(lb, dict) else str(lb) for lb in item.get("labels") or []]


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


def _reviews(con, f, doc):
    rows, bad = [], []
    for i, r in enumerate(_items(doc)):
        m = PULL_URL.search(str((r or {}).get("pull_request_url") or "")) if isinstance(r, dict) else None
        number = (r or {}).get("pull_number") if isinstance(r, dict) else None
        if not isinstance(r, dict) or r.get("id") is None or (m is None and number is None):
            bad.append((f.rel, i, f.kind, "review without id or pull_request_url", _dump(r)[:2000]))
            continue
        rows.append({"repo": f.repo, "number": int(m.group(1)) if m else int(number), "review_id": int(r["id"]),
                     "reviewer_login": (r.get("user") or {}).get("login"), "state": r.get("state"),
                     "submitted_at": ts(r.get("submitted_at")), "commit_id": r.get("commit_id")})
    cols = ["repo", "number", "review_id", "reviewer_login", "state", "submitted_at", "commit_id"]
    return _replace(con, "review", cols, rows, ["repo", "number", "review_id"]), bad


def _pull_files(con, f, doc):
    items, bad = _keyed(f, _items(doc), "number")
    rows = [{"repo": f.repo, "number": int(p["number"]), "filename": x.get("filename"), "status": x.get("status"),
             "additions": x.get("additions"), "deletions": x.get("deletions"), "patch_sketch": patch_sketch(x.get("patch"))}
            for p in items for x in p.get("files") or [] if isinstance(x, dict) and x.get("filename")]
    cols = ["repo", "number", "filename", "status", "additions", "deletions", "patch_sketch"]
    # a PR's file list is replaced whole
    return _replace(con, "pull_request_file", cols, rows, ["repo", "number", "filename"], replace_by=["repo", "number"]), bad


def _deployments(con, f, doc):
    items, bad = _keyed(f, _items(doc), "id")
    rows = [{"repo": f.repo, "deployment_id": int(d["id"]), "sha": d.get("sha"), "ref": d.get("ref"),
             "environment": d.get("environment"), "created_at": ts(d.get("created_at")),
             "creator_login": (d.get("creator") or {}).get("login"), "record": _dump(d)} for d in items]
    cols = ["repo", "deployment_id", "sha", "ref", "environment", "created_at", "creator_login", "record"]
    return _replace(con, "deployment", cols, rows, ["repo", "deployment_id"]), bad


def _deployment_statuses(con, f, doc):
    rows, bad = [], []
    for i, s in enumerate(_items(doc)):
        m = DEPLOYMENT_URL.search(str((s or {}).get("deployment_url") or "")) if isinstance(s, dict) else None
        dep = m.group(1) if m else (s or {}).get("deployment_id") if isinstance(s, dict) else None
        if not isinstance(s, dict) or s.get("id") is None or dep is None:
            bad.append((f.rel, i, f.kind, "status without id or deployment_url", _dump(s)[:2000]))
            continue
        rows.append({"repo": f.repo, "deployment_id": int(dep), "status_id": int(s["id"]), "state": s.get("state"),
                     "environment": s.get("environment"), "created_at": ts(s.get("created_at"))})
    cols = ["repo", "deployment_id", "status_id", "state", "environment", "created_at"]
    return _replace(con, "deployment_status", cols, rows, ["repo", "deployment_id", "status_id"]), bad


def _issues(con, f, doc):
    items, bad = _keyed(f, _items(doc), "number")
    rows = []
    for it in items:
        if it.get("pull_request"):
            continue  # the issues endpoint also lists pull requests
        m = ROOT_CAUSE.search(it.get("body") or "")
        rows.append({"repo": f.repo, "number": int(it["number"]), "title": it.get("title"), "state": it.get("state"),
                     "created_at": ts(it.get("created_at")), "closed_at": ts(it.get("closed_at")),
                     "root_cause_sha": m.group(1).lower() if m else None,
                     "labels": _label_names(it), "body": it.get("body"),
                     "author_login": (it.get("user") or {}).get("login"),
                     "assignees": sorted({a.get("login") for a in (it.get("assignees") or []) + [it.get("assignee") or {}]
                                          if isinstance(a, dict) and a.get("login")})})
    cols = ["repo", "number", "title", "state", "created_at", "closed_at", "root_cause_sha", "labels", "body",
            "author_login", "assignees"]
    return _replace(con, "incident", cols, rows, ["repo", "number"]), bad
