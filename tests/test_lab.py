"""`make lab`'s server: JupyterLab started the way `copilot-finops lab` starts it, on a project folder with the demo
warehouse. Its REST API lists notebooks/, and a report notebook runs top to bottom in a Lab kernel, over the
kernel's websocket as the Lab front end runs it.

Skipped, with the reason shown, when JupyterLab (the `lab` extra) is not installed: it stays out of the `test`
extra because it slows every process that imports jsonschema (DESIGN.md, known pitfalls). `make lab` installs it;
then `.venv/bin/python -m pytest tests/test_lab.py` runs this test.
"""
from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

from copilot_finops.commands import lab
from copilot_finops.cli import main
from devtools import WebSocket

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_team_usage.ipynb"
needs_lab = pytest.mark.skipif(
    importlib.util.find_spec("jupyterlab") is None,
    reason="JupyterLab (the `lab` extra) is not installed: `make lab` installs it; it stays out of the test extra "
           "because it slows every process that imports jsonschema")


def test_lab_command_runs_as_root_and_without_a_browser(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    argv = lab.lab_command("notebooks", 8888, browser=False)
    assert "--allow-root" in argv and "--no-browser" in argv and argv[1:3] == ["-m", "jupyterlab"]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    argv = lab.lab_command("notebooks", 8888, browser=True)
    assert "--allow-root" not in argv and "--no-browser" not in argv
    monkeypatch.delenv("BROWSER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no browser binary anywhere
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    import webbrowser
    monkeypatch.setattr(webbrowser, "_tryorder", None)
    monkeypatch.setattr(webbrowser, "_browsers", {})
    assert lab.has_browser() is False


@needs_lab
def test_lab_without_a_warehouse_says_how_to_make_one(tmp_path, capsys):
    (tmp_path / "notebooks").mkdir()
    assert main(["lab", "--notebooks", str(tmp_path / "notebooks")]) == 2
    assert "copilot-finops demo" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict | list:
    return json.load(urllib.request.urlopen(url, timeout=10))


def _execute(ws: WebSocket, session: str, code: str) -> tuple[dict, list[dict]]:
    """Run one cell in the kernel; returns (execute_reply content, iopub outputs of this cell)."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": session, "msg_type": "execute_request",
                   "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    outputs, reply, idle = [], None, False
    while reply is None or not idle:
        msg = json.loads(ws.receive())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "execute_reply":
            reply = msg["content"]
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            idle = True
        elif kind in ("display_data", "execute_result", "error", "stream"):
            outputs.append({"output_type": kind, **msg["content"]})
    return reply, outputs


@pytest.mark.slow
@needs_lab
def test_lab_server_lists_the_notebooks_and_runs_one_in_a_lab_kernel(small_demo, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    shutil.copytree(ROOT / "params", project / "params")
    (project / "data").mkdir()
    shutil.copy(small_demo.warehouse, project / "data/warehouse.duckdb")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data"), "BROWSER": ""}
    argv = lab.lab_command(project / "notebooks", port, browser=False,
                           extra=[f"--IdentityProvider.token={token}", "--ServerApp.ip=127.0.0.1",
                                  "--ServerApp.port_retries=0"])
    server = subprocess.Popen(argv, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base, auth = f"http://127.0.0.1:{port}", f"token={token}"
    try:
        for _ in range(240):
            try:
                _get(f"{base}/api/status?{auth}")
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                time.sleep(0.25)
        listing = _get(f"{base}/api/contents/?{auth}")
        names = {item["name"] for item in listing["content"]}
        assert names >= {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}, names
        assert _get(f"{base}/lab/api/settings?{auth}")  # the Lab application answers, not only the Jupyter server

        request = urllib.request.Request(f"{base}/api/sessions?{auth}", method="POST",
                                         data=json.dumps({"path": NOTEBOOK, "type": "notebook", "name": NOTEBOOK,
                                                          "kernel": {"name": "python3"}}).encode(),
                                         headers={"Content-Type": "application/json"})
        kernel = json.load(urllib.request.urlopen(request, timeout=60))["kernel"]["id"]
        ws = WebSocket(f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels?{auth}", timeout=120)
        session, outputs = uuid.uuid4().hex, []
        try:
            for cell in nbformat.read(project / "notebooks" / NOTEBOOK, as_version=4).cells:
                if cell.cell_type != "code":
                    continue
                reply, out = _execute(ws, session, cell.source)
                assert reply["status"] == "ok", (cell.source[:200], reply, out)
                outputs += out
        finally:
            ws.close()
        data = [o.get("data", {}) for o in outputs]
        assert any("platform-sre" in d.get("text/markdown", "") for d in data)  # the default team, from the warehouse
        charts = [d for d in data if "image/svg+xml" in d]
        assert charts and all(any(k.startswith("application/vnd.vegalite.") for k in d) for d in charts)
        assert not [o for o in outputs if o["output_type"] == "error"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
