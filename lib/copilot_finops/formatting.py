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
import re
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
    return float(exact.quantize(quantum, rounding=ROUND_FLOOR if floor else ROUND_HALF_UP)) + 0.0  # never '-0'


def number(value, digits: int = 0) -> str:
    """1,306 / 36.4 / n/a: thousands separators, `digits` decimals."""
    if missing(value):
        return NOT_AVAILABLE
    return f"{rounded(value, digits):,.{digits}f}"


def signed(value, digits: int = 0, scale: int = 1, suffix: str = "") -> str:
    """+12 / -3.5: a difference, always with its sign (`scale` and `suffix` as `signed_percent` uses them)."""
    if missing(value):
        return NOT_AVAILABLE
    shown = rounded(value, digits, scale=scale)
    return f"{0.0:,.{digits}f}{suffix}" if shown == 0 else f"{shown:+,.{digits}f}{suffix}"  # no change has no sign


def percent(value, digits: int = 0, floor: bool = False) -> str:
    """A fraction as a percentage: 0.036 -> '3.6%' (digits=1), 0.996 -> '100%' (or '99%' with floor)."""
    if missing(value):
        return NOT_AVAILABLE
    return f"{rounded(value, digits, floor=floor, scale=100):,.{digits}f}%"


def signed_percent(value, digits: int = 0) -> str:
    """A relative change: 0.123 -> '+12%'."""
    return signed(value, digits, scale=100, suffix="%")


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


def folded_label() -> str:
    """What a cell reads whose figure is shown only within a folded row (with groups under k, so they add to k)."""
    return "in the folded row"


def auto(value) -> str:
    """A figure of unknown scale: whole from 100 up or when whole (6,375; 19), else one decimal from 10 (19.1),
    two below (3.90)."""
    if missing(value):
        return NOT_AVAILABLE
    v = abs(float(value))
    return number(value, 0 if v >= 100 or float(value).is_integer() else 1 if v >= 10 else 2)


def plural(n, word: str, many: str | None = None) -> str:
    """'1 seat', '3 seats', '1,204 developer-weeks': the count and its word, spelled out (no 'seat(s)')."""
    if missing(n):
        return f"{NOT_AVAILABLE} {many or word + 's'}"
    return f"{number(n)} {word if rounded(n) == 1 else many or word + 's'}"


# -- words for the keys of the data -----------------------------------------------------------------------------------
# Features (GitHub's names), editors, task classes, verdicts and the columns of frames the reports show. Unknown
# keys are shown as they are: team slugs, model and language names are names.
WORDS = {
    "code_completion": "code completion", "chat_inline": "inline chat", "agent_edit": "agent edits",
    "chat_panel_agent_mode": "chat panel, agent mode", "chat_panel_ask_mode": "chat panel, ask mode",
    "chat_panel_custom_mode": "chat panel, custom mode", "chat_panel_edit_mode": "chat panel, edit mode",
    "chat_panel_plan_mode": "chat panel, plan mode", "chat_panel_unknown_mode": "chat panel, other mode",
    "code_changes": "code changes", "insufficient_data": "insufficient data", "unassigned": "unassigned",
    "vscode": "VS Code", "visualstudio": "Visual Studio", "intellij": "JetBrains IDEs", "xcode": "Xcode",
    "neovim": "Neovim", "vim": "Vim", "eclipse": "Eclipse",
    # columns
    "users": "developers", "interactions": "prompts", "generations": "outputs generated",
    "acceptances": "outputs accepted", "loc_added": "lines added", "acceptance_ratio": "acceptance ratio",
    "accepted_output_ratio": "accepted-output ratio", "team_slug": "team", "ide": "editor",
    "active_developers": "active developers", "total_cost": "spend", "ai_credits": "AI credits",
    "ai_credits_used": "AI credits", "flagged_weeks": "flagged weeks", "pct_forecast": "budget forecast",
    "pct_to_date": "budget used", "stage_label": "stage", "share_active": "share active",
    "requests_per_active_developer": "requests per active developer",
}

# A column's kind from the words of its name, first match wins: how its numbers are written.
KIND_WORDS = [
    ("money", {"cost", "spend", "usd", "price"}),
    ("signed_pct", {"change"}),
    ("pct", {"ratio", "share", "rate", "pct", "percent"}),
]


def words(key, labels: dict[str, str] | None = None) -> str:
    """The reader's word for a key of the data ('chat_inline' -> 'inline chat'); `labels` (e.g. segment labels
    from params) first. Anything else is returned unchanged: team slugs, models and languages are names."""
    if key is None or (isinstance(key, float) and math.isnan(key)):
        return NOT_AVAILABLE
    text = str(key)
    return (labels or {}).get(text) or WORDS.get(text) or text


def heading(column) -> str:
    """A column's header for people: known words, else a snake_case key with spaces ('loc_added' -> 'lines added')."""
    text = str(column)
    return WORDS.get(text) or (text.replace("_", " ") if re.fullmatch(r"[a-z0-9_]+", text) else text)


def kind_of(column) -> str:
    """'money', 'signed_pct', 'pct' or 'count' from the words of a column's name ('cost_per_merged_change' is money)."""
    tokens = set(re.split(r"[^a-z%]+", str(column).lower()))
    return next((kind for kind, names in KIND_WORDS if tokens & names), "pct" if "%" in tokens else "count")


# -- whole tables ----------------------------------------------------------------------------------------------------------
PEOPLE_COLUMNS = ("suppressed", "users", "developers", "members", "active developers", "active_developers")


def _rows_hidden(frame) -> list[bool]:
    """Rows suppressed for privacy: a true `suppressed` column, else a blank count of people (users, developers)."""
    column = next((c for c in PEOPLE_COLUMNS if c in frame), None)
    if column is None:
        return [False] * len(frame)
    if column == "suppressed":
        return [bool(v) and not missing(v) if not isinstance(v, bool) else v for v in frame[column]]
    return [missing(v) for v in frame[column]]


def table(frame, currency: str = "USD", labels: dict[str, str] | None = None, kinds: dict[str, str] | None = None,
          k: int | None = None):
    """A frame as the text a reader sees: each numeric column by its kind (`kinds`, else `kind_of` its name:
    'pct', 'signed_pct', 'money', 'count', 'auto'), keys of the data in words (`labels` first), headers in words.

    Cells already written as text (by `figures.show`) are kept as they are. An empty cell reads
    `suppressed_label(k)` in a row suppressed for privacy (a true `suppressed` column, dropped here, or a blank
    count of developers) and 'n/a' elsewhere (a figure with nothing to measure).
    """
    import pandas as pd

    hidden = _rows_hidden(frame)
    out = frame.drop(columns=["suppressed"], errors="ignore").copy()
    writers = {"pct": percent, "signed_pct": signed_percent, "money": lambda v: money(v, currency),
               "count": number, "auto": auto}
    for column in out.columns:
        values = list(out[column])
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and not missing(v)]
        kind = (kinds or {}).get(column) or kind_of(column)
        if kind == "count" and not all(float(v).is_integer() for v in numbers):
            kind = "auto"
        cells = []
        for value, hide in zip(values, hidden):
            if isinstance(value, bool):
                cells.append("yes" if value else "no")
            elif isinstance(value, str):
                cells.append(words(value, labels))
            elif value is None or (isinstance(value, (int, float)) and missing(value)) or value is pd.NA:
                cells.append((suppressed_label(k) if k is not None else "suppressed") if hide else NOT_AVAILABLE)
            elif isinstance(value, (int, float)):
                cells.append(writers[kind](value))
            else:
                cells.append(value)
        out[column] = pd.Series(cells, index=out.index, dtype=object)
    return out.rename(columns={c: heading(c) for c in out.columns})
