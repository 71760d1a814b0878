"""One formatter for what a reader sees: numbers, percentages, money, words for keys, and whole tables.

Every report table goes through `table` (the notebooks' `ctx.table` calls it), so a figure reads the same on
every page: percentages with %, money with its currency, counts with thousands separators, no "-0 %", plurals
spelled out, and human words for the keys the data uses (features, segments, task classes, verdicts) instead
of the keys themselves. A column's kind comes from the words of its name (`KIND_WORDS`) unless the caller says.
"""
from __future__ import annotations

import math
import re

import pandas as pd

MISSING = "n/a"

# Human words for the keys of the data: features (GitHub's names), task classes, verdicts, delivery metrics and
# the columns of frames the reports show. Unknown keys are shown as they are: model and language names are names.
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


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


def number(value, digits: int = 0) -> str:
    """12,345 or 1.58: thousands separators, `digits` decimals, never '-0'."""
    if _missing(value):
        return MISSING
    text = f"{float(value):,.{digits}f}"
    return text[1:] if re.fullmatch(r"-0(\.0*)?", text) else text


def count(value) -> str:
    return number(value, 0)


def auto(value) -> str:
    """A figure of unknown scale: whole under separators from 100 up, two decimals below (1.58, 19.07 -> 19.1)."""
    if _missing(value):
        return MISSING
    v = abs(float(value))
    return number(value, 0 if v >= 100 or float(value).is_integer() else 1 if v >= 10 else 2)


def pct(value, digits: int = 0, signed: bool = False) -> str:
    """A fraction as a percentage: 0.31 -> '31%'; signed: '+4%', and a change that rounds to nothing is '0%'."""
    if _missing(value):
        return MISSING
    text = f"{float(value) * 100:{'+' if signed else ''},.{digits}f}%"
    return re.sub(r"^[+-](0(\.0*)?%)$", r"\1", text)


def money(value, currency: str = "USD", digits: int | None = None) -> str:
    """'2,185 USD'; amounts under 100 keep their cents ('1.58 USD', but '57 USD'), unless `digits` says."""
    if _missing(value):
        return MISSING
    if digits is None:
        digits = 0 if abs(float(value)) >= 100 or float(value).is_integer() else 2
    return f"{number(value, digits)} {currency}"


def plural(n, word: str, many: str | None = None) -> str:
    """'1 seat', '3 seats', '1 developer-week', '2 developer-weeks': the count and its word, spelled out."""
    if _missing(n):
        return f"{MISSING} {many or word + 's'}"
    return f"{count(n)} {word if float(n) == 1 else many or word + 's'}"


def words(key, labels: dict[str, str] | None = None) -> str:
    """The reader's word for a key of the data ('chat_inline' -> 'inline chat'); `labels` (e.g. segment labels
    from params) first. Anything else is returned unchanged: team slugs, models and languages are names."""
    if _missing(key):
        return MISSING
    text = str(key)
    return (labels or {}).get(text) or WORDS.get(text) or text


def heading(column: str) -> str:
    """A column's header for people: known words, else the key with spaces ('loc_added' -> 'lines added')."""
    text = str(column)
    return WORDS.get(text) or (text.replace("_", " ") if re.fullmatch(r"[a-z0-9_]+", text) else text)


def kind_of(column: str) -> str:
    """'money', 'signed_pct', 'pct' or 'count' from the words of a column's name ('cost_per_merged_change' is money)."""
    tokens = set(re.split(r"[^a-z%]+", str(column).lower()))
    return next((kind for kind, names in KIND_WORDS if tokens & names), "pct" if "%" in tokens else "count")


PEOPLE_COLUMNS = ("suppressed", "users", "developers", "members", "active developers", "active_developers")


def _rows_hidden(frame: pd.DataFrame) -> pd.Series:
    """Rows suppressed for privacy: a true `suppressed` column, else a blank count of people (users, developers)."""
    column = next((c for c in PEOPLE_COLUMNS if c in frame), None)
    if column is None:
        return pd.Series(False, index=frame.index)
    if column == "suppressed":
        return frame[column].fillna(False).astype(bool)
    return frame[column].map(_missing)


def table(frame: pd.DataFrame, currency: str = "USD", labels: dict[str, str] | None = None,
          kinds: dict[str, str] | None = None) -> pd.DataFrame:
    """A frame as the text a reader sees: each column's numbers by its kind (`kinds`, else `kind_of` its name:
    'pct', 'signed_pct', 'money', 'count', 'auto'), keys of the data in words, headers in words.

    An empty cell reads 'suppressed' in a row suppressed for privacy (a true `suppressed` column, dropped
    here, or a blank count of developers), and 'n/a' elsewhere (a figure with nothing to measure).
    """
    hidden = _rows_hidden(frame).to_numpy()
    out = frame.drop(columns=["suppressed"], errors="ignore").copy()
    writers = {"pct": pct, "signed_pct": lambda v: pct(v, signed=True), "money": lambda v: money(v, currency),
               "count": count, "auto": auto}
    for column in out.columns:
        values = list(out[column])
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and not _missing(v)]
        kind = (kinds or {}).get(column) or kind_of(column)
        if kind == "count" and not all(float(v).is_integer() for v in numbers):
            kind = "auto"
        cells = []
        for value, hide in zip(values, hidden):
            if _missing(value):
                cells.append("suppressed" if hide else MISSING)
            elif isinstance(value, bool):
                cells.append("yes" if value else "no")
            elif isinstance(value, (int, float)):
                cells.append(writers[kind](value))
            elif isinstance(value, str):
                cells.append(words(value, labels))
            else:
                cells.append(value)
        out[column] = pd.Series(cells, index=out.index, dtype=object)
    return out.rename(columns={c: heading(c) for c in out.columns})


def strip_html(figures: list[tuple[str, str, str]]) -> str:
    """Headline figures as a strip of cards: (label, value, note) each, escaped."""
    from html import escape

    cards = "".join(f'<div class="figure"><div class="label">{escape(label)}</div><div class="value">{escape(value)}</div>'
                    + (f'<div class="label">{escape(note)}</div>' if note else "") + "</div>"
                    for label, value, note in figures)
    return f'<div class="summary">{cards}</div>'
