"""Ingest of the attribution kinds: team maps (CSV), billing cost centers, GitHub's repository report (repos-1-day)
and the organization's billing usage.

Each is loaded like the JSON documents (`documents`): a file whose records are not of its kind is refused whole
(`signatures`, FileRejected); a record that lacks a field or holds a value of the wrong shape goes to quarantine
with its file and 1-based line (CSV and NDJSON lines; a document's element) and the reason, checked by
`elements`; the rest of the file loads, every row with its provenance (`source_file`, `source_line`).

The repository report's record fields are not documented yet, so its lines are read tolerantly, in Python (a few
hundred lines a day): the repository as `repository` (a name or an object), `repository_name`, `repo` or
`full_name`, and the pull-request counters inside `pull_requests` or at the top level, under the names the
organization report uses.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timezone

from . import signatures
from .documents import FileRejected, _dump, _items, _replace
from .elements import BadElement, as_day, as_element, as_int, as_login, as_number, as_object, as_text

ALWAYS = date(1970, 1, 1)  # the snapshot day of a team map whose file is not named for a day
REPO_COUNTERS = ("total_created", "total_merged", "total_created_by_copilot", "total_merged_created_by_copilot",
                 "total_reviewed_by_copilot", "total_copilot_suggestions", "total_copilot_applied_suggestions")
_FOLDER_DAY = re.compile(r"(?:^|/)repos-1-day/(\d{4}-\d{2}-\d{2})/")
_STRICT_DAY = re.compile(r"\d{4}-\d{2}-\d{2}$")


def slug(name: str) -> str:
    """A team slug for a team or cost-center name: lower case, runs of other characters as one '-'."""
    return re.sub(r"[^a-z0-9_.]+", "-", str(name).strip().lower()).strip("-.") or "team"


def read(f) -> tuple[str, str, int]:
    """(text, sha256, size in bytes) of a raw file; FileRejected when a .gz file does not inflate."""
    data = f.path.read_bytes()
    try:
        text = signatures.file_text(data, f.path.name)
    except ValueError as exc:
        raise FileRejected(str(exc)) from exc
    return text, hashlib.sha256(data).hexdigest(), len(data)


def load(con, f, text: str, file_id: int) -> tuple[int, list]:
    """Load one file of an attribution kind (its text, see `read`) whose raw_file id is `file_id`.

    Returns (rows loaded, quarantine rows). Raises FileRejected when the file as a whole is not of its kind;
    nothing is changed then.
    """
    loader = {"team-map": _team_map, "cost-centers": _cost_centers, "repos-1-day": _repos,
              "billing-usage": _billing_usage}[f.kind]
    return loader(con, f, text, file_id)


def _each(f, numbered: list[tuple[int, object, str | None]], build) -> tuple[list[dict], list]:
    """Rows `build(record, line)` makes of each (line, record, text); BadElement sends the line to quarantine
    (with its text, or the record as JSON when the text is None)."""
    rows, bad = [], []
    for line, record, text in numbered:
        try:
            rows.extend(build(record, line))
        except BadElement as exc:
            bad.append((f.rel, line, f.kind, str(exc), (_dump(record) if text is None else text)[:2000]))
    return rows, bad


def _refuse_other_kinds(f, records: list) -> None:
    wrong = signatures.mismatch(f.kind, records[:50])
    if wrong:
        raise FileRejected(wrong, 0, _dump(records[0])[:2000])


def _json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        lines = text.splitlines()
        excerpt = lines[exc.lineno - 1][:2000] if 0 < exc.lineno <= len(lines) else text[:2000]
        raise FileRejected(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", exc.lineno,
                           excerpt) from exc


def _file_day(f) -> date | None:
    stem = re.sub(r"\.(csv|json)(\.gz)?$", "", f.path.name)
    return as_day(stem) if _STRICT_DAY.match(stem) else None


# -- team maps and cost centers: team_assignment ---------------------------------------------------------------
TEAM_COLUMNS = ["source", "snapshot_day", "user_login", "team_slug", "team_name", "cost_center", "source_file",
                "source_line"]


def _replace_file(con, rows: list[dict], f) -> int:
    """A team map or cost-center snapshot is the whole list: replace what any version of this path loaded."""
    con.execute("DELETE FROM team_assignment WHERE source_file IN (SELECT file_id FROM raw_file WHERE path = ?)",
                [f.rel])
    return _replace(con, "team_assignment", TEAM_COLUMNS, rows, ["source_file", "user_login", "team_slug"])


def _team_map(con, f, text, file_id):
    """CSV `login,team[,cost_center]` (a header line is optional): each login on its team from the file's day."""
    day = _file_day(f) or ALWAYS
    numbered = signatures.csv_records(text)
    if not numbered:
        raise FileRejected("the team map has no rows: expected lines of login,team[,cost_center]")
    _refuse_other_kinds(f, [r for _, r, _ in numbered])

    def build(rec, line):
        if not rec.get("login") or not rec.get("team"):
            raise BadElement("expected login,team[,cost_center]")
        return [{"source": "csv", "snapshot_day": day, "user_login": as_login(rec["login"], "login"),
                 "team_slug": slug(rec["team"]), "team_name": rec["team"], "cost_center": rec.get("cost_center"),
                 "source_file": file_id, "source_line": line}]

    rows, bad = _each(f, numbered, build)
    return _replace_file(con, rows, f), bad


def _cost_centers(con, f, text, file_id):
    """GET /enterprises/{e}/settings/billing/cost-centers as served: each active cost center's users are a team."""
    day = _file_day(f)
    if day is None:
        raise FileRejected(f"the file name must be the snapshot day, YYYY-MM-DD.json (found {f.path.name!r})")
    centers = _items(_json(text), "costCenters")
    _refuse_other_kinds(f, centers)

    def build(center, line):
        center = as_element(center, "cost center")
        name = as_text(center.get("name"))
        if not name:
            raise BadElement("cost center without name")
        if str(center.get("state") or "active").lower() == "deleted":
            return []
        resources = center.get("resources") or []
        if not isinstance(resources, list):
            raise BadElement(f"resources must be a list (found {type(resources).__name__})")
        users = [as_object(r) for r in resources if str(as_object(r).get("type", "")).lower() == "user"]
        return [{"source": "cost_centers", "snapshot_day": day, "user_login": as_login(u.get("name"), "resources[].name"),
                 "team_slug": slug(name), "team_name": name, "cost_center": name, "source_file": file_id,
                 "source_line": line} for u in users]

    rows, bad = _each(f, [(i, c, None) for i, c in enumerate(centers, 1)], build)
    return _replace_file(con, rows, f), bad


# -- the repository report: repo_day --------------------------------------------------------------------------
def _repo_name(rec: dict) -> str | None:
    repo = rec.get("repository")
    if isinstance(repo, dict):
        name = repo.get("full_name") or repo.get("name_with_owner") or repo.get("nameWithOwner")
        if not name and repo.get("name"):
            owner = repo.get("owner")
            owner = owner.get("login") if isinstance(owner, dict) else owner
            name = f"{owner}/{repo['name']}" if owner else repo["name"]
        return as_text(name)
    return as_text(repo or rec.get("repository_name") or rec.get("repo") or rec.get("full_name"))


def _count(value, what: str) -> int | None:
    if value is None:
        return None
    n = as_int(value, what, positive=False)
    if n < 0:
        raise BadElement(f"{what} must be 0 or more (found {n})")
    return n


def _ndjson(text: str) -> list[tuple[int, object, str]]:
    """(line, parsed record or the JSON error, text) of each non-blank line."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append((number, json.loads(line), line))
            except json.JSONDecodeError as exc:
                out.append((number, exc, line))
    return out


def _repos(con, f, text, file_id):
    numbered = _ndjson(text)
    _refuse_other_kinds(f, [r for _, r, _ in numbered if not isinstance(r, json.JSONDecodeError)])
    folder = _FOLDER_DAY.search(f.rel)
    window = as_day(folder.group(1)) if folder else None
    today = datetime.now(timezone.utc).date()

    def build(rec, line):
        if isinstance(rec, json.JSONDecodeError):
            raise BadElement(f"invalid JSON: {rec.msg} at column {rec.colno}")
        rec = as_element(rec, "record")
        raw_day = rec.get("day")
        day = as_day(raw_day) if isinstance(raw_day, str) and _STRICT_DAY.match(raw_day) else None
        if day is None:
            raise BadElement(f"missing or invalid day (YYYY-MM-DD) (found {_dump(raw_day)[:40]})")
        if day > today:
            raise BadElement(f"day {day} is in the future (today is {today} UTC)")
        if window is not None and day != window:
            raise BadElement(f"day {day} is not the day of the report it sits in ({window})")
        name = _repo_name(rec)
        if not name:
            raise BadElement("missing repository (repository, repository_name, repo or full_name)")
        prs = rec["pull_requests"] if isinstance(rec.get("pull_requests"), dict) else rec
        repo = as_object(rec.get("repository"))
        repo_id = repo.get("id", rec.get("repository_id"))
        return [{"day": day, "repo": name, "repository_id": None if repo_id is None else as_int(repo_id, "repository.id"),
                 **{f"pr_{c}": _count(prs.get(c), f"pull_requests.{c}") for c in REPO_COUNTERS},
                 "source_file": file_id, "source_line": line}]

    rows, bad = _each(f, numbered, build)
    cols = ["day", "repo", "repository_id", *(f"pr_{c}" for c in REPO_COUNTERS), "source_file", "source_line"]
    return _replace(con, "repo_day", cols, rows, ["day", "repo"]), bad


# -- billing usage: billing_usage_item ------------------------------------------------------------------------
_USAGE_AMOUNTS = {"quantity": "quantity", "price_per_unit": "pricePerUnit", "gross_amount": "grossAmount",
                  "discount_amount": "discountAmount", "net_amount": "netAmount"}


def _billing_usage(con, f, text, file_id):
    """GET /organizations/{org}/settings/billing/usage?year=&month=, the month's responses as served."""
    stem = f.path.name.split(".", 1)[0]
    responses = _items(_json(text))
    _refuse_other_kinds(f, responses)
    items = []
    for response in responses:
        usage = as_object(response).get("usageItems")
        if not isinstance(usage, list):
            raise FileRejected("usageItems must be a list in every response of a billing-usage file", 0,
                               _dump(response)[:2000])
        items.extend(usage)

    def build(item, line):
        item = as_element(item, "usageItems[]")
        day = as_day(item.get("date"))
        period = day.strftime("%Y-%m") if day else stem if re.fullmatch(r"\d{4}-\d{2}", stem) else None
        if period is None:
            raise BadElement("no month: the item's date is missing and the file name is not YYYY-MM")
        workflow = item.get("workflowPath") or item.get("workflow_path") or item.get("workflow")
        return [{"period": period, "item": line, "day": day, "product": as_text(item.get("product")),
                 "sku": as_text(item.get("sku")), "unit_type": as_text(item.get("unitType")),
                 **{col: as_number(item.get(key), key) for col, key in _USAGE_AMOUNTS.items()},
                 "repository": as_text(item.get("repositoryName")), "workflow": as_text(workflow),
                 "source_file": file_id, "source_line": line}]

    rows, bad = _each(f, [(i, it, None) for i, it in enumerate(items, 1)], build)
    for period in sorted({r["period"] for r in rows}):  # a month's file is the whole month: replace it
        con.execute("DELETE FROM billing_usage_item WHERE period = ?", [period])
    cols = ["period", "item", "day", "product", "sku", "unit_type", *_USAGE_AMOUNTS, "repository", "workflow",
            "source_file", "source_line"]
    return _replace(con, "billing_usage_item", cols, rows, ["period", "item"]), bad
