"""Teams from where the org keeps them: a users report alone still gets the org overview and a whole-org report; a CSV
team map and the enterprise's billing cost centers (fetched from the loopback fake) each give per-team reports."""
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import yaml

from copilot_finops import teams_source, warehouse
from copilot_finops.cli import main
from copilot_finops.fetch import FetchConfig, run_fetch
from fake_github import FakeGitHub, VirtualClock, make_client

ROOT = Path(__file__).resolve().parents[1]
DAYS = ["2026-10-05", "2026-10-06", "2026-10-07"]
PEOPLE = 12  # dev0 .. dev11


def _users_report(path: Path) -> Path:
    """A hand-downloaded users report: three days, twelve developers, chat on two models."""
    records = []
    for day in DAYS:
        for i in range(PEOPLE):
            rows = [{"model": m, "feature": "chat_panel_ask_mode", "user_initiated_interaction_count": n,
                     "code_generation_activity_count": 2 * n, "code_acceptance_activity_count": n // 2}
                    for m, n in (("claude-sonnet-4.6", 3 + i % 4), ("gpt-5-mini", 1 + i % 3))]
            records.append({"user_id": 500 + i, "user_login": f"Dev{i}", "day": day, "organization_id": "9",
                            "user_initiated_interaction_count": sum(r["user_initiated_interaction_count"] for r in rows),
                            "code_generation_activity_count": sum(r["code_generation_activity_count"] for r in rows),
                            "code_acceptance_activity_count": sum(r["code_acceptance_activity_count"] for r in rows),
                            "used_chat": True, "ai_credits_used": 12.5 + i,
                            "totals_by_feature": [{"feature": "chat_panel_ask_mode"}], "totals_by_model_feature": rows})
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _params(folder: Path, team_source: str) -> Path:
    shutil.copytree(ROOT / "params", folder)
    data = yaml.safe_load((folder / "org.yaml").read_text())
    data["team_source"] = team_source
    (folder / "org.yaml").write_text(yaml.safe_dump(data))
    return folder


def _notebooks(folder: Path, names=("01_team_usage",)) -> Path:
    folder.mkdir()
    for name in names:
        shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", folder)
    return folder


def _rendered(out: Path) -> dict[str, list[str]]:
    pages = {}
    for page in sorted(out.glob("2026-10/*/*.html")):
        text = page.read_text()
        assert "This report failed" not in text and "Traceback" not in text, page
        pages.setdefault(page.parent.name, []).append(page.stem)
    return pages


def _grains_hold(db: Path) -> None:
    con = warehouse.connect(db, read_only=True)
    try:
        for name in ("team_assignment", "stg_team_assignment", "team_source", "int_user_team_day", "int_team_member_day"):
            cols = ", ".join(warehouse.grains()[name].columns)
            n, distinct = con.execute(f"SELECT count(*), count(DISTINCT row({cols})) FROM {name}").fetchone()
            assert n == distinct, name
    finally:
        con.close()


def test_a_users_report_alone_gets_the_org_overview_and_one_whole_org_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _params(tmp_path / "params", "github")
    assert main(["import", "--kind", "users-1-day", str(_users_report(tmp_path / "report.ndjson"))]) == 0
    books = _notebooks(tmp_path / "nb", ("00_org_overview", "01_team_usage"))
    assert main(["report", "--period", "2026-10", "--notebooks", str(books), "--workers", "2"]) == 0
    assert _rendered(tmp_path / "outputs") == {"org": ["00_org_overview"], teams_source.WHOLE_ORG: ["01_team_usage"]}
    con = warehouse.connect(tmp_path / "data/warehouse.duckdb", read_only=True)
    try:
        summary = teams_source.membership_summary(con, date(2026, 10, 1), date(2026, 10, 31))
    finally:
        con.close()
    assert summary == {"team_source": "github", "teams": 1, "people_on_teams": PEOPLE, "whole_org": True}


def test_a_csv_team_map_gives_per_team_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _params(tmp_path / "params", "csv")
    team_map = tmp_path / "hr-export.csv"
    team_map.write_text("login,team,cost_center\n" + "".join(
        f"dev{i},{'Payments Platform' if i < 6 else 'Mobile'},CC-{100 + (i < 6)}\n" for i in range(PEOPLE))
        + "nobody-here,Mobile,CC-100\n,broken line\n")
    assert main(["import", "--kind", "users-1-day", str(_users_report(tmp_path / "report.ndjson"))]) == 0
    capsys.readouterr()
    assert main(["import", "--kind", "team-map", str(team_map), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["team_source"] == "csv" and doc["lines_quarantined"] == 1  # the broken line, kept with its number
    books = _notebooks(tmp_path / "nb")
    assert main(["report", "--period", "2026-10", "--teams", "mobile,payments-platform", "--notebooks", str(books),
                 "--workers", "2"]) == 0
    assert _rendered(tmp_path / "outputs") == {"mobile": ["01_team_usage"], "payments-platform": ["01_team_usage"]}
    _grains_hold(tmp_path / "data/warehouse.duckdb")
    # back to GitHub teams (there are none here): the views follow params again, everyone on the whole-org team
    _params(tmp_path / "github-params", "github")
    capsys.readouterr()
    assert main(["whatif", "--period", "2026-10", "--params", "github-params", "--json"]) == 0
    assert [t["team_slug"] for t in json.loads(capsys.readouterr().out)["teams"]] == [teams_source.WHOLE_ORG]


def test_billing_cost_centers_fetched_from_github_give_per_team_reports(tmp_path, monkeypatch):
    served = tmp_path / "served"
    for day in DAYS:
        folder = served / "metrics/users-1-day" / day
        folder.mkdir(parents=True)
        _users_report(folder / "all.ndjson")
        lines = [line for line in (folder / "all.ndjson").read_text().splitlines() if f'"day": "{day}"' in line]
        (folder / "all.ndjson").unlink()
        (folder / "part-0.ndjson").write_text("\n".join(lines) + "\n")
    centers = [{"id": f"cc-{n}", "name": name, "state": "active",
                "resources": [{"type": "User", "name": f"dev{i}"} for i in members] + [{"type": "Repo", "name": "x/y"}]}
               for n, (name, members) in enumerate([("Alpha Cost Center", range(0, 7)), ("Beta", range(7, PEOPLE))])]
    centers.append({"id": "cc-old", "name": "Retired", "state": "deleted", "resources": [{"type": "User", "name": "dev0"}]})
    (served / "cost-centers").mkdir()
    (served / "cost-centers/2026-10-07.json").write_text(json.dumps({"costCenters": centers}))
    clock = VirtualClock()
    with FakeGitHub(served, org="tiny-org", enterprise="tiny-ent", clock=clock) as gh:
        doc = run_fetch(FetchConfig(org="tiny-org", enterprise="tiny-ent", raw_dir=tmp_path / "raw", api_url=gh.url,
                                    kinds=["users-1-day", "cost-centers"], since=date(2026, 10, 5),
                                    until=date(2026, 10, 7), today=date(2026, 10, 20), progress=False),
                        client=make_client(gh, clock))
        assert not gh.errors and gh.count("/enterprises/tiny-ent/settings/billing/cost-centers") == 1
    assert doc["status"] == "complete" and doc["kinds"]["cost-centers"]["fetched"] == 1
    assert json.loads((tmp_path / "raw/cost-centers/2026-10-07.json").read_text())["costCenters"][0]["name"] == "Alpha Cost Center"
    monkeypatch.chdir(tmp_path)
    _params(tmp_path / "params", "cost_centers")
    assert main(["ingest", "raw"]) == 0
    books = _notebooks(tmp_path / "nb")
    assert main(["report", "--period", "2026-10", "--teams", "alpha-cost-center,beta", "--notebooks", str(books),
                 "--workers", "2"]) == 0
    assert _rendered(tmp_path / "outputs") == {"alpha-cost-center": ["01_team_usage"], "beta": ["01_team_usage"]}
    _grains_hold(tmp_path / "data/warehouse.duckdb")


def test_cost_centers_need_an_enterprise(tmp_path, capsys):
    assert main(["fetch", "--org", "acme", "--kinds", "cost-centers", "--raw", str(tmp_path), "--dry-run"]) == 2
    assert "needs --enterprise" in capsys.readouterr().err


def test_a_team_map_without_rows_is_refused_with_its_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "map.csv").write_text("only-a-login\n")  # no line is login,team: import refuses it, copies nothing
    assert main(["import", "--kind", "team-map", "map.csv", "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "map.csv" in err and "login (string), team (string)" in err
    assert not (tmp_path / "raw").exists()
    (tmp_path / "map.csv").write_text("login,team\n\n")  # a header alone: imported, then quarantined whole
    assert main(["import", "--kind", "team-map", "map.csv", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["lines_quarantined"] == 1 and doc["quarantined_files"][0].endswith("map.csv")
