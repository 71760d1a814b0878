"""Ingest benchmark: `ingest` against DuckDB's own read of the same users-1-day files, in one run, and a daily increment.

    python bench/ingest.py --sizes 1000,3000,10000 --days 100     # the growth curve, and the increment at each size
    python bench/ingest.py --sizes 30000 --days 100 --keep        # keep the 30k warehouse for bench/reports.py

For each size it generates a demo org of days + 1 days (cached under --cache), and lays out two raw zones of
hard links: `base`, the first `days` days, and `next`, the same plus what a daily fetch adds for the last day
(its usage, user-teams and org reports, its seat and team snapshots, the month's billing files fetched again,
and a delivery snapshot per repo of what changed in the window `fetch` asks for (`window_start`) after the base's
fetch, which was the day before the new day: the last three days). The base's delivery documents are
those of the day before (`before_day`): what the new day created, closed, merged or pushed is not in them. The new
day is the last working day generated (`new_day`); later days are left out of both zones.
Then, in fresh child processes, it times (a) the floor: `SELECT count(*) FROM read_json([...base's users-1-day
files...])`, the faster of two runs, DuckDB reading the same files into typed columns in memory, and the zone
floor: `count(*)` over `read_json` of every file of `base` (a read per kind, so each read sees one shape);
(b) `ingest_raw` of `base` into a new warehouse; (c) after a report run's refresh of the materialized views
(untimed), `ingest_raw` of `next` into that warehouse: only the new day's files are read. It prints ingest's
time on the users-1-day files and its ratio to the floor, the whole zone's time and its ratio to the zone floor
(and to the users-1-day floor), records per second, each child's peak memory (its VmHWM), the growth from the
smallest size and the increment's share of the base's ingest. With --pairs N, the users-1-day count, the
base's ingest and the increment (from a copy of the refreshed warehouse) are measured N times, in turn, and
each pair's ratios are printed with their medians. Run by hand; not part of CI.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from copilot_finops.fetch.delivery import window_start

FLOOR = """
import duckdb, glob, json, sys, time, resource
files = sorted(glob.glob(sys.argv[1] + "/metrics/users-1-day/*/*.ndjson"))
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
times = []
for _ in range(2):  # the faster of two runs: the first may still be reading the files from disk
    t = time.perf_counter()
    n = con.execute("SELECT count(*) FROM read_json(?, format='newline_delimited')", [files]).fetchone()[0]
    times.append(time.perf_counter() - t)
if sys.argv[2:] == ["count-only"]:  # a later pair of --pairs: the count alone
    print(json.dumps({"seconds": min(times), "records": n}))
    sys.exit()
from copilot_finops.ingest.schemas import NDJSON_SCHEMAS, _columns_literal
t = time.perf_counter()  # a second reference: DuckDB parsing every field into typed columns, in memory
con.execute("SET memory_limit = '1500MB'")
con.execute(f"CREATE TEMP TABLE typed AS SELECT * FROM read_json(?, format='newline_delimited', "
            f"columns={_columns_literal(NDJSON_SCHEMAS['users-1-day'][0])})", [files])
typed = time.perf_counter() - t
import collections, os, re
groups = collections.defaultdict(list)  # the whole zone's files, a read per kind so each read has one shape
for path in sorted(glob.glob(sys.argv[1] + "/**/*", recursive=True)):
    rel = os.path.relpath(path, sys.argv[1]).split(os.sep)
    if not path.endswith((".json", ".ndjson")):
        continue
    kind = ("/".join(rel[:2]) if rel[0] in ("metrics", "billing") else
            "delivery/" + re.sub(r"(-\\d{4}-\\d{2}-\\d{2})?\\.json$", "", rel[-1]) if rel[0] == "delivery" else rel[0])
    groups[kind].append(path)
con.execute("RESET memory_limit")
zone_times = []
for _ in range(2):
    t = time.perf_counter()
    for kind, paths in sorted(groups.items()):
        fmt = "newline_delimited" if paths[0].endswith(".ndjson") else "auto"
        con.execute(f"SELECT count(*) FROM read_json(?, format='{fmt}', "
                    "maximum_object_size=268435456)", [paths]).fetchone()
    zone_times.append(time.perf_counter() - t)
print(json.dumps({"seconds": min(times), "typed_seconds": typed, "records": n, "zone_seconds": min(zone_times),
                  "peak_mib": peak_mib()}))
"""
INGEST = """
import json, sys, time, resource
from copilot_finops.ingest import ingest_raw
t = time.perf_counter()
s = ingest_raw(sys.argv[1], sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - t, "records": s.by_kind.get("users-1-day", 0),
                  "users_1_day_seconds": s.seconds_by_kind.get("users-1-day", 0), "files": s.files_ingested,
                  "rows": s.rows_loaded, "quarantined": s.lines_quarantined, "by_kind": s.seconds_by_kind,
                  "peak_mib": peak_mib()}))
"""
REFRESH = """
import json, sys
from copilot_finops import warehouse
print(json.dumps({"seconds": warehouse.refresh_if_stale(sys.argv[1]), "peak_mib": peak_mib()}))
"""
# A child's own peak resident memory. Not ru_maxrss: Linux keeps it across exec, so a child started by a large
# parent (one that has just generated the org) would report the parent's size. VmHWM is the new program's own.
PEAK = """
def peak_mib():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""


def child(code: str, *args: str) -> dict:
    """Run one measurement in a fresh process; it reports its own time and peak resident memory."""
    proc = subprocess.run([sys.executable, "-c", PEAK + code, *args], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"benchmark child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _since(item: dict, keys: tuple[str, ...], since: str) -> bool:
    return any(isinstance(item.get(k), str) and item[k][:10] >= since for k in keys)


def delivery_snapshot(repo_dir: Path, since: str, until: str = "9999-12-31") -> dict[str, list]:
    """What a daily fetch of one repo writes: the items of each delivery kind that changed from `since` to `until`."""

    def changed(item: dict, keys: tuple[str, ...]) -> bool:
        return any(isinstance(item.get(k), str) and since <= item[k][:10] <= until for k in keys)

    def load(kind: str) -> list:
        path = repo_dir / f"{kind}.json"
        return json.loads(path.read_text()) if path.exists() else []

    pulls = [p for p in load("pulls") if changed(p, ("updated_at", "created_at", "closed_at", "merged_at"))]
    numbers = {p["number"] for p in pulls}
    reviews = [r for r in load("reviews") if changed(r, ("submitted_at",))
               or int(r.get("pull_request_url", "/0").rsplit("/", 1)[-1]) in numbers]
    deployments = [d for d in load("deployments") if changed(d, ("created_at", "updated_at"))]
    return {"pulls": pulls, "reviews": reviews, "pull-files": [f for f in load("pull-files") if f["number"] in numbers],
            "deployments": deployments,
            "deployment-statuses": [s for s in load("deployment-statuses") if changed(s, ("created_at",))],
            "issues": [i for i in load("issues") if changed(i, ("updated_at", "created_at", "closed_at"))]}


def _before(item: dict, keys: tuple[str, ...], day: str) -> dict:
    """`item` as it stood before `day`: the timestamps of `keys` from that day on not yet set (a state then open)."""
    if not _since(item, keys, day):
        return item
    item = {**item, **{k: None for k in keys if isinstance(item.get(k), str) and item[k][:10] >= day}}
    if "state" in item and item.get("closed_at") is None:
        item["state"] = "open"
        if "merge_commit_sha" in item:
            item["merge_commit_sha"] = None
    return item


def before_day(kind: str, items: list, day: str, created: set[int], pushed: set[int]) -> list:
    """A delivery document as a fetch the day before `day` would have written it, as far as the final state tells:
    what was created from `day` on is absent, what closed or merged then is open, and a pull request updated then
    lacks its last file (a push), or has one addition less. `created`, `pushed`: the numbers of the pull requests
    created from `day` on, and of those created before it and updated from it on (`pull_numbers`)."""
    def created_before(x, key="created_at"):
        return not (isinstance(x.get(key), str) and x[key][:10] >= day)

    if kind == "pull-files":
        out = []
        for p in items:
            if p["number"] in created:
                continue
            if p["number"] in pushed and p.get("files"):
                files = p["files"][:-1] if len(p["files"]) > 1 else [
                    {**p["files"][0], "additions": (p["files"][0].get("additions") or 1) - 1}]
                p = {**p, "files": files}
            out.append(p)
        return out
    if kind == "reviews":
        return [r for r in items if created_before(r, "submitted_at")]
    return [_before(x, ("closed_at", "merged_at"), day) for x in items if created_before(x)]


def repo_pulls(repo_dir: Path) -> list[dict]:
    """A repo's pull requests as the generator wrote them (people's and the agent's)."""
    return [p for name in ("pulls.json", "pulls-agent.json") if (repo_dir / name).exists()
            for p in json.loads((repo_dir / name).read_text())]


def pull_numbers(pulls: list[dict], day: str) -> tuple[set[int], set[int]]:
    """The numbers of the pull requests created from `day` on, and of those created before it and updated from it
    on."""
    return ({p["number"] for p in pulls if (p.get("created_at") or "")[:10] >= day},
            {p["number"] for p in pulls if (p.get("created_at") or "")[:10] < day
             and _since(p, ("updated_at", "closed_at", "merged_at"), day)})


def new_day(raw: Path) -> date:
    """The day whose fetch the increment ingests: the last working day (Monday to Friday) of the generated days. A
    weekend day's usage and delivery are light, and would flatter the increment."""
    last = max(date.fromisoformat(p.name) for p in (raw / "metrics" / "users-1-day").iterdir())
    while last.weekday() >= 5:
        last -= timedelta(days=1)
    return last


DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def lay_out(raw: Path, work: Path, last: date) -> tuple[Path, Path]:
    """Raw zones `base` (every file of the days before `last`, the delivery documents as they stood the day before)
    and `next` (base plus `last`'s files and its delivery fetch), hard-linked where a file is the same. Files of
    days after `last` are in neither.

    The generator writes each repo's delivery documents in their final state. A base holding that state would make
    every pull request the daily fetch brings again unchanged, which flatters an ingest that skips unchanged ones;
    so the base holds each document as `before_day` makes it, and the fetch each item as it stood at `last`'s end.
    """
    base, nxt = work / "base", work / "next"
    since = window_start(last - timedelta(days=1), last).isoformat()  # the base was fetched the day before `last`
    done = work / f"laid-out-{last}-since-{since}"  # (a cache laid out for another window is laid out again)
    if done.exists():
        return base, nxt
    shutil.rmtree(work, ignore_errors=True)
    day, month = last.isoformat(), last.strftime("%Y-%m")
    pulls: dict[Path, list[dict]] = {}  # each repo's pull requests, read once
    numbers: dict[Path, tuple[set[int], set[int]]] = {}  # and their pull_numbers for `day`
    for path in sorted(raw.rglob("*")):
        if not path.is_file() or path.name in ("manifest.jsonl", "ground_truth.json"):
            continue
        rel = path.relative_to(raw)
        days = DAY.findall(rel.as_posix())
        if any(d > day for d in days):
            continue
        targets = [nxt] if day in days else [base, nxt]
        for target in targets:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            if rel.parts[0] == "billing" and month in rel.name and target is nxt:
                shutil.copyfile(path, target / rel)  # the month's billing, fetched again: a new file
            elif rel.parts[0] == "delivery" and target is nxt and (base / rel).exists():
                os.link(base / rel, target / rel)  # the same file: the next ingest does not read it again
            elif rel.parts[0] == "delivery" and target is base and path.suffix == ".json":
                kind = path.stem.removesuffix("-agent")
                if path.parent not in numbers:
                    pulls[path.parent] = repo_pulls(path.parent)
                    numbers[path.parent] = pull_numbers(pulls[path.parent], day)
                items = before_day(kind, json.loads(path.read_text()), day, *numbers[path.parent])
                (target / rel).write_text(json.dumps(items, separators=(",", ":")))
            else:
                os.link(path, target / rel)
    after = (last + timedelta(days=1)).isoformat()  # the fetch sees each item as it stood at the day's end
    for repo_dir in sorted((raw / "delivery").glob("*/*")):
        later = pull_numbers(pulls.get(repo_dir) or repo_pulls(repo_dir), after)
        for kind, items in delivery_snapshot(repo_dir, since, day).items():
            out = nxt / "delivery" / repo_dir.parent.name / repo_dir.name / f"{kind}-{day}.json"
            out.write_text(json.dumps(before_day(kind, items, after, *later), separators=(",", ":")))
    done.write_text("")
    return base, nxt


def remove_warehouse(path: Path) -> None:
    """A bench warehouse gone, with its WAL and memo folder (a stale WAL would be replayed into the next one)."""
    for p in (path, path.with_suffix(".duckdb.wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(str(path) + ".cache", ignore_errors=True)


def measure(users: int, days: int, cache: Path, keep: bool, pairs_wanted: int = 1) -> dict:
    org = cache / f"org-{users}u-{days + 1}d"
    raw = org / "raw"
    if not (raw / "ground_truth.json").exists():
        from copilot_finops.demo import generate_org

        t = time.perf_counter()
        generate_org(raw, users=users, days=days + 1, progress=True)
        print(f"generated {users} users x {days + 1} days in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    last = new_day(raw)
    base, nxt = lay_out(raw, org / "zones", last)
    size_gib = sum(p.stat().st_size for p in (base / "metrics" / "users-1-day").rglob("*.ndjson")) / 2**30
    zone_gib = sum(p.stat().st_size for p in base.rglob("*") if p.is_file()) / 2**30
    load = os.getloadavg()[0]
    floor = child(FLOOR, str(base))
    wh = org / "bench.duckdb"
    remove_warehouse(wh)
    ingest = child(INGEST, str(base), str(wh))
    assert ingest["records"] == floor["records"] and not ingest["quarantined"], (ingest, floor)
    # a report run between the two, as on a day that publishes: the increment drops the filled tables again
    refreshed = child(REFRESH, str(wh))
    before = org / "bench-before-increment.duckdb"
    if pairs_wanted > 1:  # the refreshed warehouse, which each later pair's increment starts from again
        shutil.copyfile(wh, before)
    increment = child(INGEST, str(nxt), str(wh))
    pairs = [(floor["seconds"], ingest["users_1_day_seconds"], ingest["seconds"], increment["seconds"])]
    for _ in range(1, pairs_wanted):  # the count, the whole base's ingest into a new warehouse, the increment, again
        again = org / "bench-pair.duckdb"
        counted = child(FLOOR, str(base), "count-only")
        remove_warehouse(again)
        ingested = child(INGEST, str(base), str(again))
        remove_warehouse(again)
        shutil.copyfile(before, again)
        incremented = child(INGEST, str(nxt), str(again))
        remove_warehouse(again)
        pairs.append((counted["seconds"], ingested["users_1_day_seconds"], ingested["seconds"],
                      incremented["seconds"]))
    before.unlink(missing_ok=True)
    result = {"users": users, "records": floor["records"], "gib": size_gib, "zone_gib": zone_gib, "new_day": last,
              "base_days": sum(1 for _ in (base / "metrics" / "users-1-day").iterdir()),
              "floor_s": floor["seconds"], "typed_s": floor["typed_seconds"], "u1d_s": ingest["users_1_day_seconds"],
              "ingest_s": ingest["seconds"], "u1d_ratio": ingest["users_1_day_seconds"] / floor["seconds"],
              "ratio": ingest["seconds"] / floor["seconds"], "zone_floor_s": floor["zone_seconds"],
              "zone_ratio": ingest["seconds"] / floor["zone_seconds"],
              "records_per_s": floor["records"] / ingest["users_1_day_seconds"],
              "peak_mib": ingest["peak_mib"], "by_kind": ingest["by_kind"], "inc_s": increment["seconds"],
              "inc_files": increment["files"], "inc_rows": increment["rows"], "inc_peak_mib": increment["peak_mib"],
              "inc_by_kind": increment["by_kind"], "refresh_s": refreshed["seconds"] or 0.0,
              "warehouse_gib": wh.stat().st_size / 2**30,
              "load_before": load, "load_after": os.getloadavg()[0], "pairs": pairs}
    if keep:
        wh.rename(org / "warehouse.duckdb")
        print(f"kept {org / 'warehouse.duckdb'} ({result['base_days'] + 1} days)", file=sys.stderr)
    else:
        remove_warehouse(wh)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--sizes", help="comma-separated user counts, e.g. 1000,3000,10000 (overrides --users)")
    ap.add_argument("--days", type=int, default=100,
                    help="days generated beyond the new one; the base zone holds the days before the new day, the last "
                         "working day generated (so fewer when the generated days end on a weekend)")
    ap.add_argument("--cache", default="/tmp/copilot-finops-bench", help="where generated orgs are kept between runs")
    ap.add_argument("--keep", action="store_true", help="keep each warehouse (after the increment) in the org folder")
    ap.add_argument("--pairs", type=int, default=1,
                    help="times the users-1-day count, the base's ingest and the increment are measured, in turn; with "
                         "more than one, each pair's ratios and their medians are printed too (this machine's "
                         "speed drifts between minutes: a ratio of adjacent runs is steadier than one run's)")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.users]
    print(f"{os.cpu_count()} cores; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = [measure(users, args.days, Path(args.cache), args.keep, args.pairs) for users in sizes]
    spans = ", ".join(sorted({f"{r['base_days']} days" for r in rows}))
    print(f"\nbase zone: {spans}. floor: count(*) over read_json of the users-1-day files (faster of two runs); typed: "
          "DuckDB reading every field of them into a table in memory; zone floor: count(*) over read_json of every "
          "file of the raw zone, a read per kind (faster of two runs).")
    print("users-1-day: ingest's time on those files and its ratio to the floor; all: ingest of the whole raw zone, "
          "its ratio to the zone floor and (stricter) to the users-1-day floor; rec/s: users-1-day records per second "
          "of ingest; peak: the ingest process's peak memory.")
    print(f"{'users':>7} {'records':>10} {'GiB':>6} {'zone GiB':>8} {'floor s':>8} {'typed s':>8} {'u-1-d s':>8} "
          f"{'ratio':>6} {'zone fl s':>9} {'all s':>7} {'ratio':>6} {'/floor':>6} {'rec/s':>9} {'peak MiB':>9} {'load':>9}")
    for r in rows:
        print(f"{r['users']:>7} {r['records']:>10,} {r['gib']:>6.2f} {r['zone_gib']:>8.2f} {r['floor_s']:>8.1f} "
              f"{r['typed_s']:>8.1f} {r['u1d_s']:>8.1f} {r['u1d_ratio']:>6.2f} {r['zone_floor_s']:>9.1f} "
              f"{r['ingest_s']:>7.1f} {r['zone_ratio']:>6.2f} {r['ratio']:>6.2f} "
              f"{r['records_per_s']:>9,.0f} {r['peak_mib']:>9,.0f} {r['load_before']:>4.1f}-{r['load_after']:<4.1f}")
    for r in rows:
        kinds = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["by_kind"].items(), key=lambda kv: -kv[1])[:6])
        print(f"  {r['users']} users, seconds by kind: {kinds}; warehouse {r['warehouse_gib']:.2f} GiB")
    for r in rows:
        if len(r["pairs"]) > 1:
            ratios = [u / f for f, u, _, _ in r["pairs"]]
            each = ", ".join(f"{u:.1f} / {f:.1f} = {u / f:.2f}" for f, u, _, _ in r["pairs"])
            print(f"  {r['users']} users, users-1-day ingest / floor in {len(ratios)} pairs, one after the other: "
                  f"{each}; median ratio {statistics.median(ratios):.2f}")
            shares = [100 * i / b for _, _, b, i in r["pairs"]]
            each = ", ".join(f"{i:.2f} / {b:.1f} = {100 * i / b:.1f} %" for _, _, b, i in r["pairs"])
            print(f"  {r['users']} users, the new day's ingest / the base's in each pair: {each}; "
                  f"median {statistics.median(shares):.1f} %")
    print("\nDaily increment: ingest of the zone plus one working day's fetch into the base's warehouse (only new "
          "files read), after a report run refreshed its materialized views")
    for r in rows:
        kinds = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["inc_by_kind"].items(), key=lambda kv: -kv[1])[:5])
        print(f"  {r['users']:>7} users: {r['inc_files']} files, {r['inc_rows']:,} rows in {r['inc_s']:.2f} s = "
              f"{100 * r['inc_s'] / r['ingest_s']:.1f} % of the {r['base_days']}-day ingest ({r['ingest_s']:.1f} s), "
              f"new day {r['new_day']:%a %Y-%m-%d}; "
              f"peak {r['inc_peak_mib']:,.0f} MiB; {kinds} (refresh before it, untimed: {r['refresh_s']:.1f} s)")
    if len(rows) > 1:
        base = rows[0]
        for r in rows[1:]:
            per_record = (r['u1d_s'] / r['records']) / (base['u1d_s'] / base['records'])
            print(f"growth {base['users']} -> {r['users']} users: records x{r['records'] / base['records']:.1f}, "
                  f"users-1-day ingest time x{r['u1d_s'] / base['u1d_s']:.1f} (time per record x{per_record:.2f}), "
                  f"whole zone x{r['ingest_s'] / base['ingest_s']:.1f}")


if __name__ == "__main__":
    main()
