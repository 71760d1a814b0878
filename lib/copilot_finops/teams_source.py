"""Where teams come from: params choose (team_source), the warehouse records the choice, the views follow it.

The views cannot read params, so the chosen source is written to the warehouse's `team_source` table by the
commands that are given params and may write (`ingest`, `import`, `report`, `whatif`); `int_user_team_day` then
takes its membership from GitHub teams, the imported team map or the billing cost centers. With no membership in
the chosen source at all, everyone is on one team, `whole-org`, so a users report imported alone still gets its
reports.
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from . import privacy, warehouse as warehouse_mod
from .params import OrgParams

WHOLE_ORG = "whole-org"  # the one team of an org without team data (int_user_team_day)


def recorded(con: duckdb.DuckDBPyConnection) -> str:
    """The team source the warehouse follows now ('github' when none was recorded)."""
    row = con.execute("SELECT max(team_source) FROM team_source").fetchone()
    return row[0] or "github"


def record(con: duckdb.DuckDBPyConnection, params: OrgParams) -> bool:
    """Record params' team source on a writable connection; True when it changed."""
    chosen = params.team_source.kind
    if recorded(con) == chosen and con.execute("SELECT count(*) FROM team_source").fetchone()[0] == 1:
        return False
    con.execute("BEGIN")
    try:
        con.execute("DELETE FROM team_source")
        con.execute("INSERT INTO team_source VALUES (?)", [chosen])
        warehouse_mod.mark_stale(con)  # membership follows the team source (the next report refreshes)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return True


def sync(warehouse: str | Path, params: OrgParams) -> bool:
    """Make the warehouse follow params' team source before a read-only run (a brief writable open, only when it
    differs). True when it changed. A missing warehouse is left to the read-only open to report."""
    path = Path(warehouse)
    if not path.exists():
        return False
    con = warehouse_mod.connect(path, read_only=True)
    try:
        same = recorded(con) == params.team_source.kind
    finally:
        con.close()
    if same:
        return False
    with privacy.owner_only_files():  # the warehouse holds identities: what a writable open makes is the owner's
        con = warehouse_mod.connect(path)
        try:
            return record(con, params)
        finally:
            con.close()


def membership_summary(con: duckdb.DuckDBPyConnection, start, end) -> dict:
    """What the membership of a period rests on: the source followed, teams, and people on none of them."""
    source = recorded(con)
    teams, people = con.execute("""SELECT count(DISTINCT team_slug), count(DISTINCT user_id) FROM int_team_member_day
                                   WHERE day BETWEEN ? AND ?""", [start, end]).fetchone()
    whole = con.execute("SELECT count(*) > 0 FROM int_team_member_day WHERE team_slug = ? AND day BETWEEN ? AND ?",
                        [WHOLE_ORG, start, end]).fetchone()[0]
    return {"team_source": source, "teams": int(teams), "people_on_teams": int(people), "whole_org": bool(whole)}
