"""Promises about the project itself: dependencies in step, clean notebooks, the README's commands."""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's
CONDA_TO_PYPI = {"python-duckdb": "duckdb"}


def _split(requirement: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)$", requirement)
    return m.group(1).lower().replace("_", "-"), m.group(3).replace(" ", "")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {}
    for req in project["dependencies"] + sum(project["optional-dependencies"].values(), []):
        name, spec = _split(req)
        if name == "dask":  # dask[distributed] is two packages on conda-forge
            wanted["distributed"] = spec
        wanted[name] = spec
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str) and not dep.startswith("python="):
            name, spec = _split(dep)
            conda[CONDA_TO_PYPI.get(name, name)] = spec
    assert conda == wanted


def test_required_dependencies_are_declared_with_ranges():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_split(r)[0]: _split(r)[1] for r in project["dependencies"]}
    for needed in ("papermill", "pandas", "altair", "scikit-learn", "ghapi", "duckdb", "pyarrow",
                   "vl-convert-python", "pydantic", "pyyaml", "tqdm", "mistune", "nbformat"):
        assert needed in names and names[needed], needed
    extras = project["optional-dependencies"]
    for test_only in ("nbval", "pytest", "dask"):  # runtime needs only what runtime imports
        assert test_only not in names, test_only
    assert any(r.startswith("dask[distributed]") for r in extras["dask"])
    assert names["ghapi"].startswith(">=2")
    assert "jupyterlab" in " ".join(project["optional-dependencies"]["lab"])
    assert "jupyterlab" not in names  # the runner and CI stay free of JupyterLab's slow imports


def test_notebooks_are_committed_without_outputs():
    books = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert books
    for path in books:
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{path.name} has outputs"
                assert cell.get("execution_count") is None, f"{path.name} has execution counts"
        params = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(params) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"


def test_readme_shows_the_two_commands_and_ci_runs_make_test():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci/run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo:", "test:", "lab:"):
        assert target in makefile
