"""Attribution benchmark: the model-routing what-if, agent costs and the repository view on orgs of growing size.

    python bench/attribution.py --users 1000 --days 40
    python bench/attribution.py --sizes 500,2000,5000 --days 40     # the growth curve

For each size it generates a demo org ending 2026-10-31 (cached under --cache) and ingests it, then in a fresh
child process times `whatif.evaluate` (the default route), `agents.agent_costs` and `repos.repository_credits` for
October with the memo off, and prints seconds and the child's peak memory (ru_maxrss). Run by hand; not part of CI.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

CHILD = """
import json, resource, sys, time
from copilot_finops import agents, repos, warehouse, whatif
from copilot_finops.params import load_params
from copilot_finops.period import parse_period
con = warehouse.connect(sys.argv[1], read_only=True)
params, period = load_params(sys.argv[2]), parse_period("2026-10")
out = {}
for name, call in (("whatif", lambda: whatif.evaluate(con, period, params, params.routing.default_route)),
                   ("agents", lambda: agents.agent_costs(con, period, params)),
                   ("repos", lambda: repos.repository_credits(con, period, params))):
    t = time.perf_counter()
    call()
    out[name] = round(time.perf_counter() - t, 2)
out["peak_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--sizes", help="comma-separated user counts (overrides --users)")
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--cache", default="/tmp/copilot-finops-bench", help="where generated orgs and warehouses are kept")
    parser.add_argument("--params", default="params")
    args = parser.parse_args()
    from copilot_finops.demo import generate_org
    from copilot_finops.ingest import ingest_raw

    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.users]
    print(f"{'users':>7} {'whatif s':>9} {'agents s':>9} {'repos s':>8} {'peak MiB':>9}")
    for users in sizes:
        base = Path(args.cache) / f"attribution-{users}-{args.days}"
        db = base / "warehouse.duckdb"
        if not db.exists():
            generate_org(base / "raw", seed=7, users=users, days=args.days, end=date(2026, 10, 31))
            ingest_raw(base / "raw", db)
        proc = subprocess.run([sys.executable, "-c", CHILD, str(db), args.params], capture_output=True, text=True,
                              env={**os.environ, "COPILOT_FINOPS_CACHE": "0"}, check=True)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{users:>7} {r['whatif']:>9} {r['agents']:>9} {r['repos']:>8} {r['peak_mib']:>9}")


if __name__ == "__main__":
    main()
