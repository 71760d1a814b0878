"""Ingest benchmark: `ingest` against DuckDB's own read of the same users-1-day files, in one run.

    python bench/ingest.py --users 1000 --days 100
    python bench/ingest.py --sizes 1000,3000,10000 --days 100     # the growth curve

For each size it generates a demo org (cached under --cache), then in fresh child processes
times (a) the floor: `SELECT count(*) FROM read_json([...every users-1-day file...])`, and
(b) `ingest_raw` of the whole raw zone into a new warehouse. It prints records/s, the ratio of
ingest's time on the users-1-day files (the floor's files) to the floor, the ratio for the whole
raw zone (seats, teams, billing, delivery and the other reports too), and each child's peak memory
(ru_maxrss). Run by hand; not part of CI.
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
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
times = []
for _ in range(2):  # the faster of two runs: the first may still be reading the files from disk
    t = time.perf_counter()
    n = con.execute("SELECT count(*) FROM read_json(?, format='newline_delimited')", [files]).fetchone()[0]
    times.append(time.perf_counter() - t)
from copilot_finops.ingest.schemas import NDJSON_SCHEMAS, _columns_literal
t = time.perf_counter()  # a second reference: DuckDB parsing every field into typed columns, in memory
con.execute("SET memory_limit = '1500MB'")
con.execute(f"CREATE TEMP TABLE typed AS SELECT * FROM read_json(?, format='newline_delimited', "
            f"columns={_columns_literal(NDJSON_SCHEMAS['users-1-day'][0])})", [files])
typed = time.perf_counter() - t
con.execute("DROP TABLE typed")
# A third: DuckDB storing just the lines, as the warehouse keeps each record's text (zstd VARCHAR).
import os
path = sys.argv[2]
for p in (path, path + ".wal"):
    if os.path.exists(p):
        os.unlink(p)
out = duckdb.connect(path)
out.execute("SET enable_progress_bar = false")
out.execute("CREATE TABLE lines (record VARCHAR USING COMPRESSION zstd)")
t = time.perf_counter()
out.execute("INSERT INTO lines SELECT unnest(string_split(content, chr(10))) FROM read_text(?)", [files])
out.close()
lines = time.perf_counter() - t
os.unlink(path)
import resource
print(json.dumps({"seconds": min(times), "typed_seconds": typed, "lines_seconds": lines, "records": n,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
INGEST = """
import json, sys, time
from copilot_finops.ingest import ingest_raw
t = time.perf_counter()
s = ingest_raw(sys.argv[1], sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - t, "records": s.by_kind.get("users-1-day", 0),
                  "users_1_day_seconds": s.seconds_by_kind.get("users-1-day", 0),
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
            from copilot_finops.demo import generate_org

            t = time.perf_counter()
            generate_org(raw, users=users, days=args.days, progress=True)
            print(f"generated {users} users x {args.days} days in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        size_gib = sum(p.stat().st_size for p in (raw / "metrics" / "users-1-day").rglob("*.ndjson")) / 2**30
        floor = child(FLOOR, str(raw), str(raw.parent / "bench-lines.duckdb"))
        wh = raw.parent / "bench.duckdb"
        for p in (wh, wh.with_suffix(".duckdb.wal")):
            p.unlink(missing_ok=True)
        ingest = child(INGEST, str(raw), str(wh))
        assert ingest["records"] == floor["records"], (ingest, floor)
        rows.append({"users": users, "records": floor["records"], "gib": size_gib,
                     "floor_s": floor["seconds"], "typed_s": floor["typed_seconds"], "lines_s": floor["lines_seconds"], "u1d_s": ingest["users_1_day_seconds"], "ingest_s": ingest["seconds"],
                     "u1d_ratio": ingest["users_1_day_seconds"] / floor["seconds"],
                     "ratio": ingest["seconds"] / floor["seconds"],
                     "records_per_s": floor["records"] / ingest["users_1_day_seconds"],
                     "peak_mib": ingest["peak_mib"], "floor_peak_mib": floor["peak_mib"]})
        wh.unlink(missing_ok=True)
    print("floor: count(*) over read_json of the users-1-day files (faster of two runs). Two more references:")
    print("typed: DuckDB reading every field of them into a table in memory; lines: DuckDB storing only their lines")
    print("in a zstd VARCHAR column of a database file (what keeping each record's text costs by itself).")
    print("users-1-day: ingest's time on those files, and its ratio to the floor; all: ingest of the whole raw")
    print("zone, and its ratio. rec/s: users-1-day records per second of ingest.")
    print(f"{'users':>7} {'records':>10} {'GiB':>6} {'floor s':>8} {'typed s':>8} {'lines s':>8} {'u-1-d s':>8} "
          f"{'ratio':>6} {'all s':>7} {'ratio':>6} {'rec/s':>9} {'peak MiB':>9}")
    for r in rows:
        print(f"{r['users']:>7} {r['records']:>10,} {r['gib']:>6.2f} {r['floor_s']:>8.1f} {r['typed_s']:>8.1f} "
              f"{r['lines_s']:>8.1f} {r['u1d_s']:>8.1f} "
              f"{r['u1d_ratio']:>6.2f} {r['ingest_s']:>7.1f} {r['ratio']:>6.2f} {r['records_per_s']:>9,.0f} "
              f"{r['peak_mib']:>9,.0f}")
    if len(rows) > 1:
        base = rows[0]
        for r in rows[1:]:
            print(f"growth {base['users']} -> {r['users']} users: records x{r['records'] / base['records']:.1f}, "
                  f"users-1-day ingest time x{r['u1d_s'] / base['u1d_s']:.1f}, whole zone x{r['ingest_s'] / base['ingest_s']:.1f}")


if __name__ == "__main__":
    main()
