"""What holds identities is its owner's alone by default (files 0600, folders 0700), or also a named group's
(0640, 0750): the warehouse and its memo, the raw zone, incident outputs. Team reports stay readable."""
from __future__ import annotations

import grp
import os
import shutil
import stat
from pathlib import Path

import nbformat
import pytest
import yaml

from copilot_finops.cli import main



def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def tree_modes(root: Path) -> tuple[set[int], set[int]]:
    """(modes of the folders, modes of the files) under root, root included."""
    dirs = {mode(root)} | {mode(p) for p in root.rglob("*") if p.is_dir()}
    files = {mode(p) for p in root.rglob("*") if p.is_file()}
    return dirs, files


def _readers_group() -> str:
    """A group this user may give files to: one of its own."""
    return grp.getgrgid(os.getgroups()[-1] if os.getgroups() else os.getgid()).gr_name


def _probe_books(folder: Path) -> Path:
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('team = "x"\nperiod = "2026-10"\nwarehouse = "w"\nparams = "p"\n'
                                          'detail = False\nincident = ""\nrestricted = ""',
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell('print("probe", team)')]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "01_probe.ipynb")
    return folder


def test_ingest_leaves_the_warehouse_memo_and_raw_zone_to_their_owner(small_demo, project_cwd, capsys):
    shutil.copytree(small_demo.raw, "raw")
    os.chmod("raw", 0o755)  # as a raw zone written before this rule
    assert main(["ingest", "raw", "--warehouse", "data/w.duckdb", "--json"]) == 0
    assert mode(project_cwd / "data/w.duckdb") == 0o600
    assert tree_modes(project_cwd / "raw") == ({0o700}, {0o600})
    assert main(["guardrails", "--period", "2026-10", "--warehouse", "data/w.duckdb", "--json"]) == 0  # memoises
    assert tree_modes(project_cwd / "data/w.duckdb.cache") == ({0o700}, {0o600})
    capsys.readouterr()


def test_a_readers_group_may_read_them_and_nobody_else(small_demo, project_cwd, capsys):
    group = _readers_group()
    org = yaml.safe_load(Path("params/org.yaml").read_text())
    org["privacy"]["readers_group"] = group
    Path("params/org.yaml").write_text(yaml.safe_dump(org))
    assert main(["generate", "--raw", "raw", "--users", "20", "--days", "14", "--json"]) == 0
    assert tree_modes(project_cwd / "raw")[0] == {0o700}  # generate has no params: its owner's
    assert main(["ingest", "raw", "--warehouse", "w.duckdb", "--json"]) == 0
    gid = grp.getgrnam(group).gr_gid
    assert mode(project_cwd / "w.duckdb") == 0o640 and (project_cwd / "w.duckdb").stat().st_gid == gid
    assert tree_modes(project_cwd / "raw") == ({0o750}, {0o640})
    assert {p.stat().st_gid for p in (project_cwd / "raw").rglob("*")} == {gid}
    org["privacy"]["readers_group"] = "no-such-group-here"
    Path("params/org.yaml").write_text(yaml.safe_dump(org))
    capsys.readouterr()
    assert main(["ingest", "raw", "--warehouse", "w.duckdb"]) == 2
    assert "privacy.readers_group 'no-such-group-here' is not a group" in capsys.readouterr().err


@pytest.mark.slow
def test_incident_outputs_are_closed_and_team_reports_stay_readable(small_demo, project_cwd, capsys):
    shutil.copy(small_demo.warehouse, "w.duckdb")
    books = _probe_books(project_cwd / "books")
    base = ["report", "--period", "2026-10", "--teams", "appsec", "--warehouse", "w.duckdb", "--notebooks", str(books),
            "--out", "out", "--workers", "1", "--json"]
    assert main(base) == 0
    assert main(base + ["--detail", "--incident", "INC-7", "--reason", "a seat reclaim dispute to settle"]) == 0
    capsys.readouterr()
    assert tree_modes(project_cwd / "out/restricted") == ({0o700}, {0o600})
    assert len(list((project_cwd / "out/restricted/INC-7/2026-10").rglob("*.html"))) == 2  # the page and the index
    dirs, files = tree_modes(project_cwd / "out/2026-10")
    assert all(m & 0o005 == 0o005 for m in dirs) and all(m & 0o004 for m in files)  # others may read team reports
