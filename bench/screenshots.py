"""Screenshots of the rendered demo for the README: the index, the org overview (00) and one team's pages 01–06,
at 1400 px wide, as a reader's browser draws them (live charts included), into docs/screenshots/.

Run from the project folder once the demo is rendered (`make demo`), with headless Chromium on PATH
(`chromium`, `chromium-browser` or `google-chrome`):

    make screenshots        # or: .venv/bin/python bench/screenshots.py --period 2026-10 --team platform-sre

It prints each file it writes with its size. Nothing is fetched: the pages load their scripts from outputs/.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH, HEIGHT = 1400, 1300  # the first screen and a half: headline figures, tabs, the first charts


def shoot(browser: str, page: Path, target: Path, profile: str) -> None:
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", f"--user-data-dir={profile}",
                    f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=8000", f"--screenshot={target}",
                    page.resolve().as_uri()], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outputs", default="outputs", help="the report folder (default outputs/)")
    parser.add_argument("--period", default="2026-10")
    parser.add_argument("--team", default="platform-sre")
    parser.add_argument("--to", default="docs/screenshots", help="where the PNG files go")
    args = parser.parse_args(argv)
    browser = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if browser is None:
        print("no Chromium on PATH (tried " + ", ".join(BROWSERS) + "): install one, e.g. apt-get install chromium",
              file=sys.stderr)
        return 2
    root = Path(args.outputs) / args.period
    team_pages = sorted((root / args.team).glob("0[1-6]_*.html"))
    pages = [(root / "index.html", "index.png")] + [(p, f"{p.stem}.png") for p in sorted((root / "org").glob("00_*.html"))]
    pages += [(p, f"{args.team}-{p.stem}.png") for p in team_pages]
    missing = [str(p) for p, _ in pages if not p.exists()]
    if missing or not team_pages:
        print(f"no rendered demo at {root} for team {args.team} (missing: {', '.join(missing) or 'its pages'}): "
              "run `make demo` first", file=sys.stderr)
        return 2
    target = Path(args.to)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="screenshots-") as profile:
        for page, name in pages:
            shoot(browser, page, target / name, profile)
            print(f"{target / name}  {(target / name).stat().st_size / 1024:,.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
