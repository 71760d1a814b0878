"""The calendar month every report covers, and the team slug every report is for: parsed and checked once."""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from .errors import UserError

SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Period:
    """A calendar month, the unit of every report."""

    label: str
    start: date
    end: date  # inclusive

    @property
    def previous(self) -> "Period":
        y, m = (self.start.year, self.start.month - 1) if self.start.month > 1 else (self.start.year - 1, 12)
        return parse_period(f"{y:04d}-{m:02d}")


def parse_period(text: str) -> Period:
    """'2026-10' -> Period(2026-10-01 .. 2026-10-31); anything else is a clear error."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", str(text).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise UserError(f"period {text!r} is not a month: write it as YYYY-MM, e.g. 2026-10")
    y, mo = int(m.group(1)), int(m.group(2))
    return Period(f"{y:04d}-{mo:02d}", date(y, mo, 1), date(y, mo, calendar.monthrange(y, mo)[1]))


def check_team_slug(team: str) -> str:
    """Team slugs are validated in the library: papermill turns `-p team 007` into the int 7."""
    if not isinstance(team, str) or not SLUG.match(team) or ".." in team:
        raise UserError(f"team {team!r} is not a team slug (letters, digits, '-', '_' and '.'; e.g. platform-sre)")
    return team


def last_complete_month(last_day: date) -> str:
    """The label of the last calendar month that `last_day` completes (its own month if it is the last day)."""
    if (last_day + timedelta(days=1)).month != last_day.month:
        return last_day.strftime("%Y-%m")
    first = last_day.replace(day=1) - timedelta(days=1)
    return first.strftime("%Y-%m")
