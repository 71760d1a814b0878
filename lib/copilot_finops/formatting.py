"""How a number is written in a report: one function per style, the only place figures are turned into text.

Pages, the index, CLI tables and alert messages call `figures.show` (which picks the style a figure is defined
with); the functions here are the styles themselves, for the few sentences that write a number that is not a
registered figure (a count of teams, a threshold). Each is a pure function of the value: the same value reads the
same everywhere, and a value that went through JSON (full precision) reads the same as the one that did not.

Rounding is half away from zero on the decimal value (not Python's round-half-even on the binary float), so
1,305.5 credits read 1,306 on every page and 0.125 reads 13 %. Budget use is floored instead: 79.9 % of a
budget never reads as the 80 % threshold it has not reached.
"""
from __future__ import annotations

import math
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

NOT_AVAILABLE = "n/a"


def missing(value) -> bool:
    """True for None, NaN, pandas NA and infinities: values a report writes as 'n/a' (or suppressed)."""
    if value is None:
        return True
    try:
        number = float(value)
    except (TypeError, ValueError):
        return True
    return math.isnan(number) or math.isinf(number)


def rounded(value: float, digits: int = 0, floor: bool = False, scale: int = 1) -> float:
    """`value` x `scale` rounded to `digits` decimals, half away from zero (or down with `floor`), as shown.

    The value is taken at its shortest decimal form (0.29, not 0.28999...), so 29 % of a budget floors to 29 %.
    """
    quantum = Decimal(1).scaleb(-digits)
    exact = Decimal(repr(float(value))) * scale
    return float(exact.quantize(quantum, rounding=ROUND_FLOOR if floor else ROUND_HALF_UP))


def number(value, digits: int = 0) -> str:
    """1,306 / 36.4 / n/a: thousands separators, `digits` decimals."""
    if missing(value):
        return NOT_AVAILABLE
    return f"{rounded(value, digits):,.{digits}f}"


def signed(value, digits: int = 0) -> str:
    """+12 / -3.5: a difference, always with its sign."""
    if missing(value):
        return NOT_AVAILABLE
    shown = rounded(value, digits)
    return f"{0.0:,.{digits}f}" if shown == 0 else f"{shown:+,.{digits}f}"  # no change has no sign


def percent(value, digits: int = 0, floor: bool = False) -> str:
    """A fraction as a percentage: 0.036 -> '3.6%' (digits=1), 0.996 -> '100%' (or '99%' with floor)."""
    if missing(value):
        return NOT_AVAILABLE
    return f"{rounded(value, digits, floor=floor, scale=100):,.{digits}f}%"


def signed_percent(value, digits: int = 0) -> str:
    """A relative change: 0.123 -> '+12%'."""
    if missing(value):
        return NOT_AVAILABLE
    shown = rounded(value, digits, scale=100)
    return f"{0.0:,.{digits}f}%" if shown == 0 else f"{shown:+,.{digits}f}%"


def points(value, digits: int = 1) -> str:
    """A change of a ratio in percentage points: 0.031 -> '+3.1 pts'."""
    if missing(value):
        return NOT_AVAILABLE
    shown = rounded(value, digits, scale=100)
    return f"{0.0:,.{digits}f} pts" if shown == 0 else f"{shown:+,.{digits}f} pts"


def money(value, currency: str = "USD") -> str:
    """Money: cents under 100 (42.50 USD), whole units from 100 (1,306 USD), the currency after the amount."""
    if missing(value):
        return NOT_AVAILABLE
    digits = 2 if abs(rounded(value, 2)) < 100 else 0
    return f"{rounded(value, digits):,.{digits}f} {currency}"


def hours(value, digits: int = 1) -> str:
    """A duration in hours: 12.3 h."""
    if missing(value):
        return NOT_AVAILABLE
    return f"{rounded(value, digits):,.{digits}f} h"


def suppressed_label(k: int) -> str:
    """What a suppressed cell reads: the rule with its value, never a bare placeholder."""
    return f"suppressed (< {int(k)})"
