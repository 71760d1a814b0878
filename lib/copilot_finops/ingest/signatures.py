"""What a record of each kind looks like: the fields it must carry (with their shapes), one of the fields that
mark it, and fields that mark another kind. A file whose records match none of its own kind's signature is
refused by `import` (naming the kind it looks like) and quarantined whole by `ingest`, so a users report filed
as user-teams cannot overwrite a day's rows with empty ones.
"""
from __future__ import annotations

import csv
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .schemas import COUNTERS, KINDS

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}$")
SHAPES = {
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, str) and v.isdigit()),
    "YYYY-MM-DD": lambda v: isinstance(v, str) and bool(_DAY.match(v)),
    "object": lambda v: isinstance(v, dict),
    "list": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str) and v != "",
}


@dataclass(frozen=True)
class Signature:
    required: tuple[tuple[str, str], ...]  # (field, shape)
    any_of: tuple[str, ...] = ()  # at least one of these
    none_of: tuple[str, ...] = ()  # fields of another kind

    def matches(self, element) -> bool:
        return (isinstance(element, dict)
                and all(key in element and SHAPES[shape](element[key]) for key, shape in self.required)
                and (not self.any_of or any(key in element for key in self.any_of))
                and not any(key in element for key in self.none_of))

    def describe(self) -> str:
        parts = [f"{key} ({shape})" for key, shape in self.required]
        if self.any_of:
            parts.append("one of " + ", ".join(self.any_of[:4]) + ("…" if len(self.any_of) > 4 else ""))
        return ", ".join(parts)


_USER_ACTIVITY = (*COUNTERS, "used_chat", "used_agent", "used_cli", "ai_credits_used", "totals_by_feature",
                  "totals_by_ide")
_ORG_ACTIVITY = ("daily_active_users", "weekly_active_users", "monthly_active_users", "pull_requests", *COUNTERS)
_USER = Signature((("user_id", "integer"), ("day", "YYYY-MM-DD")), _USER_ACTIVITY, ("team_id", "slug"))
_REPOSITORY = ("repository", "repository_name", "repository_id")  # fields of the repository report's records
_ORG_DAY = Signature((("day", "YYYY-MM-DD"),), _ORG_ACTIVITY, ("user_id", "team_id", *_REPOSITORY))
_ORG_28 = Signature((("day_totals", "list"),), (), ("user_id",))
_BILLING = Signature((("usageItems", "list"),))
SIGNATURES = {
    "users-1-day": _USER, "users-28-day": _USER,
    "user-teams-1-day": Signature((("user_id", "integer"), ("day", "YYYY-MM-DD"), ("team_id", "integer")), (),
                                  _USER_ACTIVITY),
    "organization-1-day": _ORG_DAY, "enterprise-1-day": _ORG_DAY,
    "organization-28-day": _ORG_28, "enterprise-28-day": _ORG_28,
    "seats": Signature((("assignee", "object"),), (), ("usageItems",)),
    "teams": Signature((("id", "integer"), ("slug", "string")), (), ("assignee", "user_id", "number", "usageItems")),
    "ai-credit-usage": _BILLING, "premium-request-usage": _BILLING,
    "pulls": Signature((("number", "integer"),), ("head", "base", "merged_at", "merge_commit_sha"), ("files",)),
    "reviews": Signature((("id", "integer"),), ("pull_request_url", "pull_number", "submitted_at"), ("number",)),
    "pull-files": Signature((("number", "integer"), ("files", "list"))),
    "deployments": Signature((("id", "integer"),), ("sha", "ref", "environment", "task"), ("deployment_url", "state")),
    "deployment-statuses": Signature((("id", "integer"), ("state", "string")), ("deployment_url", "deployment_id")),
    "issues": Signature((("number", "integer"),), ("title", "body", "labels"), ("head", "files", "merged_at")),
    # attribution kinds (ingest/attribution.py); a team map's CSV lines are read as {login, team, cost_center}
    "team-map": Signature((("login", "string"), ("team", "string"))),
    "cost-centers": Signature((("name", "string"),), ("resources", "state"),
                              ("slug", "assignee", "usageItems", "login", "number")),
    "repos-1-day": Signature((("day", "YYYY-MM-DD"),), ("repository", "repository_name", "repo", "full_name"),
                             ("user_id", "team_id")),
    "billing-usage": Signature((("usageItems", "list"),), (), ("timePeriod",)),  # a Copilot usage report has one
}
assert set(SIGNATURES) == set(KINDS)


def looks_like(elements: list) -> list[str]:
    """The kinds whose signature the most of `elements` match, most first (kinds sharing a shape come together)."""
    counts = {kind: sum(sig.matches(e) for e in elements) for kind, sig in SIGNATURES.items()}
    return [k for k, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n]


def mismatch(kind: str, elements: list) -> str | None:
    """Why `elements` (a sample of a file's records) are not records of `kind`, or None when some are.

    An empty sample is no evidence either way (None): lines that do not parse are quarantined one by one.
    """
    if not elements or any(SIGNATURES[kind].matches(e) for e in elements):
        return None
    others = looks_like(elements)
    first = elements[0]
    shown = ("keys " + ", ".join(list(first)[:6])) if isinstance(first, dict) else f"a {type(first).__name__}"
    said = (f"they look like {' or '.join(others[:2])}" if others
            else f"they match no kind ingest knows (the first has {shown})")
    return f"its records are not {kind} records (those carry {SIGNATURES[kind].describe()}); {said}"


def flatten(doc) -> list:
    """The records of a served document: a list of pages, one page, or a bare list; seats pages give their seats."""
    pages = doc if isinstance(doc, list) else [doc]
    out = []
    for page in pages:
        if isinstance(page, dict) and isinstance(page.get("seats"), list):
            out.extend(page["seats"])
        elif isinstance(page, dict) and isinstance(page.get("costCenters"), list):
            out.extend(page["costCenters"])
        elif isinstance(page, list):
            out.extend(page)
        else:
            out.append(page)
    return out


def file_text(data: bytes, name: str) -> str:
    """A raw file's bytes as text: gzip inflated when `name` ends in .gz, a BOM dropped, bad bytes replaced.

    Raises ValueError, saying why, when a .gz file does not inflate.
    """
    if name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ValueError(f"cannot decompress gzip: {exc}") from None
    return data.decode("utf-8-sig", errors="replace")


def sample_file(path: Path, limit: int = 50) -> list:
    """Up to `limit` records of a file, read as one JSON document or as NDJSON (gzip inflated).

    Raises ValueError, saying why, when the file is neither.
    """
    text = file_text(path.read_bytes(), path.name)
    if re.search(r"\.csv(\.gz)?$", path.name):
        return [record for _, record, _ in csv_records(text)][:limit]
    try:
        return flatten(json.loads(text))[:limit]
    except json.JSONDecodeError as exc:
        whole = exc
    records = []
    for line in text.splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
            if len(records) >= limit:
                break
    if not records:
        raise ValueError(f"neither JSON nor NDJSON ({whole.msg} at line {whole.lineno} column {whole.colno})")
    return records


_HEADER = ("login", "user_login", "user")


def csv_records(text: str) -> list[tuple[int, dict, str]]:
    """(1-based line, record, line text) of each line of a team map: `login,team[,cost_center]`, read as
    {login, team, cost_center} (absent cells as None); blank lines and a first header line are left out."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        cells = [c.strip() for c in next(csv.reader([line]), [])]
        if not any(cells) or (number == 1 and cells[0].lower() in _HEADER):
            continue
        out.append((number, {k: (cells[i] or None) if i < len(cells) else None
                             for i, k in enumerate(("login", "team", "cost_center"))}, line))
    return out
