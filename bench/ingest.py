"""Ingest benchmark: `ingest` against DuckDB's own read of the same users-1-day files, in one run.

    python bench/ingest.py --users 1000 --days 100
    python bench/ingest.py --sizes 1000,3000,10000 --days 100     # the growth curve

For each size it generates a demo org (cached under --cache), then in fresh child processes
times (a) the floor: `SELECT count(*) FROM read_json([...every users-1-day file...])`, and
(b) `ingest_raw` of the whole raw zone into a new warehouse. It prints records/s, the ratio
ingest / floor, and each child's peak memory (ru_maxrss). Run by hand; not part of CI.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

FLOOR = """
import duckdb, glob, json, sys, time
files = sorted(glob.glob(sys.argv[1] + "/metrics/users-1-day/*/*.ndjson"))
t = time.perf_counter()
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
n = con.execute("SELECT count(*) FROM read_json(?, format='newline_delimited')", [files]).fetchone()[0]
import resource
print(json.dumps({"seconds": time.perf_counter() - t, "records": n,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
INGEST = """
import json, sys, time
from copilot_finops.ingest import ingest_raw
t = time.perf_counter()
s = ingest_raw(sys.argv[1], sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - t, "records": s.by_kind.get("users-1-day", 0),
                  "rows": s.rows_loaded, "quarantined": s.lines_quarantined,
                  "peak_mib": __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(code: str, *args: str) -> dict:
    """Run one measurement in a fresh process; it reports its own time and peak resident memory."""
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--sizes", help="comma-separated user counts, e.g. 1000,3000,10000 (overrides --users)")
    ap.add_argument("--days", type=int, default=100)
    ap.add_argument("--cache", default="/tmp/copilot-finops-bench", help="where generated orgs are kept between runs")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.users]
    cache = Path(args.cache)
    rows = []
    for users in sizes:
        raw = cache / f"org-{users}u-{args.days}d" / "raw"
        if not (raw / "ground_truth.json").exists():
            from copilot_finops.generate import generate_org

            t = time.perf_counter()
            generate_org(raw, users=users, days=args.days, progress=True)
            print(f"generated {users} users x {args.days} days in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        size_gib = sum(p.stat().st_size for p in (raw / "metrics" / "users-1-day").rglob("*.ndjson")) / 2**30
        floor = child(FLOOR, str(raw))
        wh = raw.parent / "bench.duckdb"
        for p in (wh, wh.with_suffix(".duckdb.wal")):
            p.unlink(missing_ok=True)
        ingest = child(INGEST, str(raw), str(wh))
        assert ingest["records"] == floor["records"], (ingest, floor)
        rows.append({"users": users, "records": floor["records"], "gib": size_gib,
                     "floor_s": floor["seconds"], "ingest_s": ingest["seconds"],
                     "ratio": ingest["seconds"] / floor["seconds"], "records_per_s": floor["records"] / ingest["seconds"],
                     "peak_mib": ingest["peak_mib"], "floor_peak_mib": floor["peak_mib"]})
        wh.unlink(missing_ok=True)
    print(f"{'users':>7} {'records':>10} {'GiB':>6} {'floor s':>8} {'ingest s':>9} {'ratio':>6} {'rec/s':>9} {'peak MiB':>9}")
    for r in rows:
        print(f"{r['users']:>7} {r['records']:>10,} {r['gib']:>6.2f} {r['floor_s']:>8.1f} {r['ingest_s']:>9.1f} "
              f"{r['ratio']:>6.2f} {r['records_per_s']:>9,.0f} {r['peak_mib']:>9,.0f}")
    if len(rows) > 1:
        base = rows[0]
        for r in rows[1:]:
            print(f"growth {base['users']} -> {r['users']} users: records x{r['records'] / base['records']:.1f}, "
                  f"ingest time x{r['ingest_s'] / base['ingest_s']:.1f}")


if __name__ == "__main__":
    main()
