"""Reading the params folder's YAML files: one mapping per file, and every error one line naming the file and key."""
from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from .errors import UserError


def format_error(path: Path, exc: ValidationError) -> str:
    """One line: the file, then each bad key with what is wrong and what is allowed."""
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see params/org.yaml in the demo for every key)"
        elif err["type"] == "literal_error":
            msg = f"{msg} (found {err.get('input')!r})"
        problems.append(f"{key}: {msg}" if key else msg)
    return f"{path}: invalid parameters: " + "; ".join(problems)


def load_yaml(path: Path) -> dict:
    """The file's top-level mapping; UserError for a file that is not text, not YAML or not a mapping."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a YAML text file (it is not UTF-8 text): replace it with a YAML mapping "
                        "of keys, or remove it") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc.strerror}): pass --params with a folder holding YAML files") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of keys at the top level, found a {type(data).__name__}")
    return data
