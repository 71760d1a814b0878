"""Where things are: the defaults every command and notebook shares, set once (as cookiecutter-data-science's config).

Relative defaults are relative to the working folder, as the README's commands run from the project
checkout. `PROJECT_ROOT` is the checkout this package was installed from (editable install), which
holds the report notebooks; an installed wheel has no checkout, and `bundled_notebooks` says so.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parents[1]  # lib/copilot_finops -> the checkout

DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
DEFAULT_PARAMS = "params"
DEFAULT_OUTPUTS = "outputs"
DEFAULT_RAW = "raw"
DEFAULT_NOTEBOOKS = "notebooks"
DEMO_RAW = "data/demo/raw"


def bundled_notebooks() -> Path | None:
    """The checkout's notebooks/ folder, or None when the package was not installed from a checkout."""
    folder = PROJECT_ROOT / DEFAULT_NOTEBOOKS
    return folder if folder.is_dir() else None


def notebooks_dir(given: str | Path) -> Path:
    """The report notebooks: `given` if it is a folder or was set explicitly, else the checkout's notebooks/."""
    path = Path(given)
    if path.is_dir() or str(given) != DEFAULT_NOTEBOOKS:
        return path
    return bundled_notebooks() or path


def resolve(path: str | Path) -> Path:
    """A relative path as given if it exists here, else the nearest parent folder's (a notebook opened from
    notebooks/ in JupyterLab finds the project's data/ and params/)."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    for parent in Path.cwd().parents:
        if (parent / p).exists():
            return parent / p
    return p
