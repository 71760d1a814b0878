"""The report command owns its children: however it ends (SIGTERM, Ctrl-C, SIGKILL), its pool workers, their
kernels and multiprocessing's resource tracker end with it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import nbformat
import psutil
import pytest

TEAMS = "appsec,devex"


def _sleeping_notebook(path, started) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('team = "x"\nperiod = "2026-10"\nwarehouse = "w"\nparams = "p"',
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(f"import pathlib, time\npathlib.Path({str(started)!r}, team).touch()\ntime.sleep(300)"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _interruptible() -> None:
    """In the child, before exec: Ctrl-C as in a terminal. A test run started in the background (nohup, `&` in a
    script: CI) hands its children SIGINT ignored, and Python then keeps ignoring it, as it should."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _alive(pids: set[int]) -> list[str]:
    alive = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            if p.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{pid}: {' '.join(p.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.slow
@pytest.mark.parametrize("how,workers", [(signal.SIGKILL, 2), (signal.SIGTERM, 2), (signal.SIGINT, 1)],
                         ids=["SIGKILL", "SIGTERM", "SIGINT-one-worker"])
def test_no_process_outlives_a_killed_report(small_demo, project_cwd, how, workers):
    books, started = project_cwd / "books", project_cwd / "started"
    books.mkdir()
    started.mkdir()
    _sleeping_notebook(books / "01_sleep.ipynb", started)
    command = subprocess.Popen(
        [sys.executable, "-m", "copilot_finops.cli", "report", "--period", "2026-10", "--teams", TEAMS,
         "--warehouse", str(small_demo.warehouse), "--notebooks", str(books), "--out", "out", "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,  # not in pytest's group
        preexec_fn=_interruptible)
    try:
        deadline = time.monotonic() + 120
        while len(list(started.iterdir())) < workers:  # each worker is running a notebook in a kernel
            assert command.poll() is None, command.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the notebooks never started"
            time.sleep(0.2)
        children = {p.pid for p in psutil.Process(command.pid).children(recursive=True)}
        kernels = [p for p in children if "ipykernel" in " ".join(psutil.Process(p).cmdline())]
        assert len(kernels) >= workers  # and for 2: the 2 workers, the resource tracker
        os.kill(command.pid, how)
        command.wait(timeout=90)  # generous: the test is about survivors, not speed
        if how != signal.SIGKILL:
            assert command.returncode != 0
            assert b"Traceback" not in command.stderr.read()
        deadline = time.monotonic() + 20
        while (alive := _alive(children)) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert not alive, f"still running after the report was killed with {how.name}: {alive}"
    finally:
        if command.poll() is None:
            command.kill()
        for pid in children if "children" in locals() else ():
            try:
                psutil.Process(pid).kill()  # leave nothing behind if the test failed
            except psutil.NoSuchProcess:
                pass
