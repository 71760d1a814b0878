"""`copilot-finops lab`: JupyterLab on the report notebooks, for exploring; what `make lab` runs.

It runs as a user or as root (a container: JupyterLab refuses root unless told), and on a machine without a
browser it prints the URL to open instead of failing to start one. The notebooks find the project's
`data/warehouse.duckdb` and `params/` from `notebooks/` (see `paths.resolve`).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import UserError
from ..paths import DEFAULT_NOTEBOOKS, DEFAULT_PARAMS, DEFAULT_WAREHOUSE, notebooks_dir
from .common import add_common, add_parser


def register(sub) -> None:
    p = add_parser(
        sub, "lab", "JupyterLab on the report notebooks (needs the `lab` extra)",
        "Start JupyterLab on notebooks/, whose notebooks read the project's warehouse and params by default.\n"
        "Runs as root too (containers), and prints the URL when the machine has no browser to open.\n"
        "`make lab` installs JupyterLab and renders the demo first when there is no warehouse.",
        "copilot-finops lab --port 8888 --no-browser")
    p.add_argument("--notebooks", default=DEFAULT_NOTEBOOKS, metavar="DIR", help="folder to open (default notebooks/)")
    p.add_argument("--port", type=int, default=8888, help="port to listen on (default 8888; the next free one if taken)")
    p.add_argument("--no-browser", action="store_true", help="only print the URL, even if a browser is available")
    add_common(p)
    p.set_defaults(func=run)


def has_browser() -> bool:
    """Whether Python's webbrowser module finds a browser to start (none on a server or in a container)."""
    import webbrowser

    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def lab_command(notebooks: str | Path, port: int, browser: bool, extra: list[str] = ()) -> list[str]:
    """The JupyterLab command line: `--allow-root` when running as root, `--no-browser` without a browser."""
    argv = [sys.executable, "-m", "jupyterlab", str(notebooks), f"--ServerApp.port={port}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    if not browser:
        argv.append("--no-browser")
    return argv + list(extra)


def run(args) -> int:
    try:
        import jupyterlab  # noqa: F401  (only to say what to install when it is missing)
    except ImportError:
        raise UserError("JupyterLab is not installed: run `make lab`, or `pip install -e '.[lab]'`") from None
    folder = notebooks_dir(args.notebooks)
    if not folder.is_dir():
        raise UserError(f"notebook folder {folder} not found: pass --notebooks with the folder of the report notebooks")
    folder = folder.resolve()
    if args.warehouse != DEFAULT_WAREHOUSE or args.params != DEFAULT_PARAMS:
        print(f"note: the notebooks read their own `warehouse` and `params` parameters (default {DEFAULT_WAREHOUSE} "
              f"and {DEFAULT_PARAMS}/); set them in a notebook's parameters cell to read {args.warehouse}", flush=True)
    elif not any((where / DEFAULT_WAREHOUSE).exists() for where in (folder, *folder.parents)):
        raise UserError(f"no {DEFAULT_WAREHOUSE} beside {folder}, which its notebooks read: run `copilot-finops demo` "
                        "(or ingest your own data) in the project folder first")
    browser = has_browser() and not args.no_browser
    print(f"JupyterLab on {folder}: " + ("opening a browser" if browser else
                                           "no browser here, so open the http://…/lab?token=… URL it prints below"),
          flush=True)
    argv = lab_command(folder, args.port, browser)
    os.execv(argv[0], argv)  # JupyterLab takes this process over: signals (Ctrl-C, a supervisor's TERM) reach it
