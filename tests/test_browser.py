"""The stitched retro page in headless Chromium: no console errors, no failed or outside requests, charts drawn.

Talks to Chromium over the DevTools protocol with a minimal stdlib websocket client (no extra packages), and
checks the screenshot's chart region with a small PNG decoder (zlib), so nothing beyond the stdlib is needed.
Skipped, with the reason shown, when no Chromium binary is installed (`.ci/run` installs Debian's `chromium`).
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
import zlib

import pytest

from copilot_finops.cli import main

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TEAM = "platform-sre"


def find_chromium() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


# -- a minimal websocket client (RFC 6455), enough for the DevTools protocol ------------------------------------------
class WebSocket:
    def __init__(self, url: str, timeout: float = 30.0):
        m = re.match(r"ws://([^:/]+):(\d+)(/.*)", url)
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {m.group(3)} HTTP/1.1\r\nHost: {m.group(1)}:{m.group(2)}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(4096)
        head, self.buffer = response.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n")[0], head

    def send(self, text: str) -> None:
        payload, mask = text.encode(), os.urandom(4)
        n = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
                                  if n < 65536 else bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("DevTools connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def receive(self) -> str:
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if b0 & 0x0F in (0x1, 0x0):
                message += data
                if b0 & 0x80:
                    return message.decode()
            elif b0 & 0x0F == 0x8:
                raise ConnectionError("DevTools connection closed")

    def close(self) -> None:
        self.sock.close()


class DevTools:
    """Send commands to one page and keep every event that arrives meanwhile."""

    def __init__(self, ws_url: str):
        self.ws, self.next_id, self.events = WebSocket(ws_url), 0, []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(json.loads(self.ws.receive()))
        raise TimeoutError(method)


# -- a small PNG decoder ------------------------------------------------------------------------------------------------
def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, channels, raw 8-bit pixel bytes) of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * channels
    out, previous = bytearray(), bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        out += line
        previous = line
    return width, height, channels, bytes(out)


def ink(png: bytes) -> tuple[float, int]:
    """Share of pixels that are not (near) white, and the number of distinct colours, in a screenshot."""
    width, height, channels, pixels = decode_png(png)
    colours, dark = set(), 0
    for i in range(0, len(pixels), channels):
        r, g, b = pixels[i], pixels[i + 1], pixels[i + 2]
        colours.add((r >> 3, g >> 3, b >> 3))
        dark += r < 235 or g < 235 or b < 235
    return dark / (width * height), len(colours)


def test_png_decoder_and_ink_measure_on_a_known_image():
    width, height = 4, 2  # left half blue, right half white; rows filtered with type 0 (None), then 1 (Sub)
    rows = [bytes([0x1F, 0x6F, 0xEB] * 2 + [255, 255, 255] * 2)] * 2
    raw = b"".join(bytes([0]) + r for r in rows)
    png = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))
    assert decode_png(png)[3] == b"".join(rows)
    assert ink(png) == (0.5, 2)
    sub = b"".join(bytes([1]) + bytes([r[0], r[1], r[2]]) + bytes((r[i] - r[i - 3]) & 0xFF for i in range(3, len(r)))
                   for r in rows)  # filter 1 (Sub) must decode to the same pixels
    png_sub = png.replace(_chunk(b"IDAT", zlib.compress(raw)), _chunk(b"IDAT", zlib.compress(sub)))
    assert decode_png(png_sub)[3] == b"".join(rows)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# -- the test ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chromium():
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium binary on PATH (tried: " + ", ".join(BROWSERS) + "); `.ci/run` installs Debian's "
                    "`chromium`, or run `apt-get install chromium` to include this test")
    return path


@pytest.mark.slow
def test_retro_page_renders_in_chromium_without_errors_and_with_charts(chromium, small_demo, project_cwd, tmp_path):
    rc = main(["report", "--period", small_demo.period, "--teams", TEAM, "--warehouse", str(small_demo.warehouse),
               "--out", "out", "--retro", "--workers", "2", "--json"])
    assert rc == 0
    page = project_cwd / f"out/{small_demo.period}/{TEAM}/retro.html"
    html = page.read_text()
    assert "<script" not in html.lower()
    proc = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--remote-debugging-port=0", "--remote-allow-origins=*",
         "--window-size=1280,2000", "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in proc.stderr:  # "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/…"
            if m := re.search(r"ws://127\.0\.0\.1:(\d+)/", line):
                port = int(m.group(1))
                break
        assert port, "Chromium did not open its DevTools port"
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page_target = next(t for t in targets if t["type"] == "page")
        tools = DevTools(page_target["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.call(f"{domain}.enable")
        tools.call("Emulation.setDeviceMetricsOverride", width=1280, height=2000, deviceScaleFactor=1, mobile=False)
        tools.events.clear()
        url = page.resolve().as_uri()
        tools.call("Page.navigate", url=url)
        tools.wait_for("Page.loadEventFired")
        time.sleep(0.5)  # let late console messages arrive
        state = tools.call("Runtime.evaluate", returnByValue=True, expression="""({
            svgs: Array.from(document.querySelectorAll('svg')).map(s => {
                const r = s.getBoundingClientRect(); return [r.x, r.y + window.scrollY, r.width, r.height,
                s.querySelectorAll('path, rect, line, text').length]; }),
            tocTargetsMissing: Array.from(document.querySelectorAll('nav.toc a'))
                .filter(a => !document.getElementById(a.getAttribute('href').slice(1))).length,
            tocLinks: document.querySelectorAll('nav.toc a').length,
            sections: document.querySelectorAll('section.report').length })""")["result"]["value"]
        charts = [s for s in state["svgs"] if s[2] > 100 and s[3] > 60 and s[4] > 5]
        assert len(charts) >= 4, state["svgs"]
        assert state["sections"] >= 3 and state["tocLinks"] > state["sections"] and state["tocTargetsMissing"] == 0

        x, y, w, h, _ = charts[0]
        shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                          clip={"x": x, "y": y, "width": w, "height": h, "scale": 1})
        png = base64.b64decode(shot["data"])
        (tmp_path / "first-chart.png").write_bytes(png)
        full = base64.b64decode(tools.call("Page.captureScreenshot", format="png")["data"])
        (tmp_path / "retro.png").write_bytes(full)
        share, colours = ink(png)
        assert share > 0.03 and colours >= 3, (share, colours)  # bars, axes and labels are drawn, not a blank box

        errors = [e["params"] for e in tools.events if e.get("method") == "Runtime.exceptionThrown"
                  or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
                  or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
        assert not errors, errors
        failed = [e["params"] for e in tools.events if e.get("method") == "Network.loadingFailed"]
        assert not failed, failed
        requested = {e["params"]["request"]["url"] for e in tools.events if e.get("method") == "Network.requestWillBeSent"}
        assert requested == {url}, requested  # the page fetched nothing but itself
        tools.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
