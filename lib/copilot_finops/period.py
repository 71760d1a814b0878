"""The calendar month every report covers, and the team slug every report is for: parsed and checked once."""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from .errors import UserError

SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# The years a report's month may be in: baselines look back months from it, and every one must be a date.
FIRST_YEAR, LAST_YEAR = 1900, 9998


@dataclass(frozen=True)
class Period:
    """A calendar month, the unit of every report."""

    label: str
    start: date
    end: date  # inclusive

    @property
    def previous(self) -> "Period":
        y, m = (self.start.year, self.start.month - 1) if self.start.month > 1 else (self.start.year - 1, 12)
        return _month(y, m)


def _month(y: int, mo: int) -> Period:
    return Period(f"{y:04d}-{mo:02d}", date(y, mo, 1), date(y, mo, calendar.monthrange(y, mo)[1]))


def parse_period(text: str) -> Period:
    """'2026-10' -> Period(2026-10-01 .. 2026-10-31); anything else is a clear error."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", str(text).strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or not FIRST_YEAR <= int(m.group(1)) <= LAST_YEAR:
        raise UserError(f"period {text!r} is not a month: write it as YYYY-MM with a year from {FIRST_YEAR} "
                        f"to {LAST_YEAR}, e.g. 2026-10")
    return _month(int(m.group(1)), int(m.group(2)))


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
