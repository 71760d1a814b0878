"""The values of one element of a JSON document, checked: each gives the typed value or raises BadElement.

A BadElement names the field and what it held; the loaders in `documents` send that element to quarantine with
its index and the message, and load the rest of the file. Fields that GitHub may leave out come back as None.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone

from .rules import _LOGIN

LOGIN = re.compile(_LOGIN)  # the rule the NDJSON reports' user_login is checked by


class BadElement(Exception):
    """One element of a document cannot be loaded; it goes to quarantine with its index and this message."""


def _shown(value) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)[:60]


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


def as_day(value) -> date | None:
    """The YYYY-MM-DD a value starts with; None when it does not."""
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def as_int(value, what: str, positive: bool = True) -> int:
    """An id or count as int; BadElement, naming the field, for anything else (a bool, a float, text)."""
    if type(value) is int and 0 < value < 2**63:  # as GitHub sends them: the checks below pass
        return value
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or (positive and value <= 0) or abs(value) >= 2**63:
        raise BadElement(f"{what} must be a {'positive ' if positive else ''}integer (found {_shown(value)})")
    return value


def as_number(value, what: str) -> float | None:
    """A quantity or amount as float (None when absent); BadElement for text or a bool."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadElement(f"{what} must be a number (found {_shown(value)})")
    return float(value)


def as_object(value) -> dict:
    """A nested object, or {} when absent or not an object (its fields then read as missing)."""
    return value if isinstance(value, dict) else {}


def as_text(value) -> str | None:
    return value if isinstance(value, str) else None


def as_login(value, what: str) -> str:
    """A GitHub login (as the reports' user_login rule has it); BadElement, naming the field, for anything else."""
    if not isinstance(value, str) or not LOGIN.match(value):
        raise BadElement(f"{what} is not a GitHub login (found {_shown(value)})")
    return value


def as_element(item, what: str) -> dict:
    """The element itself, which must be a JSON object."""
    if not isinstance(item, dict):
        raise BadElement(f"{what} is not a JSON object (found {type(item).__name__})")
    return item


def label_names(value) -> list[str]:
    """Label names of an issue or pull request: GitHub's objects with a `name`, or plain names; [] when absent."""
    if value is None or value == []:
        return []
    if not isinstance(value, list):
        raise BadElement(f"labels must be a list (found {type(value).__name__})")
    names = [lb.get("name") if isinstance(lb, dict) else lb for lb in value]
    if not all(isinstance(n, str) and n for n in names):
        raise BadElement(f"labels[] must be names or objects with a name (found {_shown(value)})")
    return names


def user_logins(users, what: str) -> set[str]:
    """The logins of a list of user objects (an issue's assignees); empty when absent."""
    if users is None:
        return set()
    if not isinstance(users, list) or not all(isinstance(u, dict) for u in users):
        raise BadElement(f"{what} must be a list of user objects (found {_shown(users)})")
    return {u["login"] for u in users if isinstance(u.get("login"), str) and u["login"]}


def pull_people(p: dict) -> list[tuple[str, str]]:
    """(role, login) of whom a pull request was assigned to and whose review it asked for: the coding agent opens
    its pull requests as itself and assigns the person who asked for the work."""
    assignees, reviewers = p.get("assignees"), p.get("requested_reviewers")
    if assignees in (None, []) and reviewers in (None, []) and not isinstance(p.get("assignee"), dict):
        return []  # most pull requests: nobody assigned, no review asked for
    if assignees is None and isinstance(p.get("assignee"), dict):
        assignees = [p["assignee"]]
    return ([("assignee", x) for x in sorted(user_logins(assignees, "assignees"))]
            + [("requested_reviewer", x) for x in sorted(user_logins(reviewers, "requested_reviewers"))])


def patch_text(file: dict) -> str | None:
    """A pull request file's patch; None when GitHub left it out (binary and very large files)."""
    patch = file.get("patch")
    if patch is not None and not isinstance(patch, str):
        raise BadElement(f"files[].patch of {file.get('filename')} must be text (found {type(patch).__name__})")
    return patch
