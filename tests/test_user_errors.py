"""Bad input gets one line naming the input and the fix, exit 2, and no traceback: every command, a table of cases.

Also: team override files (params/teams/<slug>.yaml) are validated like org.yaml, and what they set is applied.
"""
from __future__ import annotations

import json
import shutil

import duckdb
import pytest
import yaml

from copilot_finops.cli import main
from copilot_finops.params import load_params

from conftest import ROOT


def _params(folder, org_edit=None, files=None):
    """A copy of the demo params, with org.yaml edited and files written (path in the folder -> text or bytes)."""
    shutil.copytree(ROOT / "params", folder)
    if org_edit:
        org = yaml.safe_load((folder / "org.yaml").read_text())
        org_edit(org)
        (folder / "org.yaml").write_text(yaml.safe_dump(org))
    for name, content in (files or {}).items():
        path = folder / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return str(folder)


@pytest.fixture
def bad(small_demo, project_cwd):
    """Paths the cases refer to: a file where a folder is wanted, broken params folders, a stale warehouse."""
    (project_cwd / "a-file").write_text("not a folder\n")
    stale = project_cwd / "stale.duckdb"
    shutil.copy(small_demo.warehouse, stale)
    con = duckdb.connect(str(stale))
    con.execute("UPDATE warehouse_meta SET value = 'an-older-version' WHERE key = 'views_digest'")
    con.close()
    return {
        "W": str(small_demo.warehouse),
        "stale": str(stale),
        "teams-list": _params(project_cwd / "p-teams-list", lambda org: org.update(teams=["appsec", "devex"])),
        "binary-team": _params(project_cwd / "p-binary-team", files={"teams/appsec.yaml": bytes(range(256))}),
        "binary-org": _params(project_cwd / "p-binary-org", files={"org.yaml": b"\x89PNG\r\n\x1a\n\x00\xff"}),
        "negative-budget": _params(project_cwd / "p-negative", files={"teams/appsec.yaml": "budget: {monthly_usd: -5}\n"}),
        "unknown-key": _params(project_cwd / "p-unknown", files={"teams/appsec.yaml": "budgit: {monthly_usd: 5}\n"}),
        "unknown-segment": _params(project_cwd / "p-segment", files={"teams/appsec.yaml": "segment: sales\n"}),
        "bad-team-name": _params(project_cwd / "p-name", files={"teams/app sec!.yaml": "segment: platform_sre\n"}),
        "team-source": _params(project_cwd / "p-source", lambda org: org.update(team_source="ldap")),
        "cli-model": _params(project_cwd / "p-cli-model", lambda org: org["routing"].update(cli_model="gpt-99")),
    }


P = "2026-10"
CASES = [  # (arguments, what the one line must name)
    (["report", "--period", "0000-01", "--warehouse", "{W}"], "0000-01"),
    (["guardrails", "--period", "0000-01", "--warehouse", "{W}"], "0000-01"),
    (["patterns", "--period", "0000-01", "--warehouse", "{W}"], "0000-01"),
    (["delivery", "--period", "0000-01", "--warehouse", "{W}"], "0000-01"),
    (["export", "focus", "--period", "0000-01", "--out", "f.csv", "--warehouse", "{W}"], "0000-01"),
    (["report", "--period", P, "--warehouse", "{W}", "--params", "{teams-list}"], "teams: expected a mapping"),
    (["report", "--period", P, "--warehouse", "{W}", "--params", "{binary-team}"], "appsec.yaml: not a YAML text file"),
    (["guardrails", "--period", P, "--warehouse", "{W}", "--params", "{binary-org}"], "org.yaml: not a YAML text file"),
    (["guardrails", "--period", P, "--warehouse", "{W}", "--params", "{negative-budget}"],
     "appsec.yaml: invalid parameters: budget.monthly_usd"),
    (["report", "--period", P, "--warehouse", "{W}", "--params", "{unknown-key}"], "budgit: unknown key"),
    (["patterns", "--period", P, "--warehouse", "{W}", "--params", "{unknown-segment}"], "unknown segment 'sales'"),
    (["delivery", "--period", P, "--warehouse", "{W}", "--params", "{bad-team-name}"], "must be a team slug"),
    (["generate", "--raw", "a-file"], "--raw a-file"),
    (["demo", "--raw", "a-file"], "--raw a-file"),
    (["report", "--period", P, "--warehouse", "{W}", "--out", "a-file"], "--out a-file"),
    (["report", "--period", P, "--warehouse", "{W}", "--out", "a-file/deeper", "--teams", "appsec"], "is a file"),
    (["guardrails", "--period", P, "--warehouse", "{W}", "--out", "a-file"], "--out a-file"),
    (["export", "focus", "--period", P, "--warehouse", "{W}", "--out", "a-file/focus.csv"], "--out a-file"),
    (["import", "--kind", "users-1-day", "a-file", "--raw", "a-file"], "--raw a-file"),
    (["ingest", "a-file", "--warehouse", "a-file/w.duckdb"], "a-file"),
    (["ingest", ".", "--warehouse", "a-file/w.duckdb"], "--warehouse a-file/w.duckdb"),
    (["report", "--period", P, "--teams", ",,,", "--warehouse", "{W}"], "--teams ',,,'"),
    (["delivery", "--period", P, "--teams", "", "--warehouse", "{W}"], "--teams ''"),
    (["report", "--period", P, "--warehouse", "{stale}"], "views of another copilot-finops version"),
    (["report", "--period", P, "--warehouse", "missing.duckdb"], "missing.duckdb does not exist"),
    (["whatif", "--period", "0000-01", "--warehouse", "{W}"], "0000-01"),
    (["agents", "--period", "0000-01", "--warehouse", "{W}"], "0000-01"),
    (["repos", "--period", "0000-01", "--warehouse", "{W}"], "0000-01"),
    (["whatif", "--period", P, "--warehouse", "{W}", "--route", "chat:gpt-9=50%"], "model 'gpt-9' has no price"),
    (["whatif", "--period", P, "--warehouse", "{W}", "--route", "cli@nope:gpt-5-mini=80%"], "nope is no segment id"),
    (["repos", "--period", P, "--warehouse", "{W}", "--team", "nope"], "--team nope"),
    (["agents", "--period", P, "--warehouse", "missing.duckdb"], "missing.duckdb does not exist"),
    (["whatif", "--period", P, "--warehouse", "{W}", "--params", "{team-source}"], "team_source.kind"),
    (["whatif", "--period", P, "--warehouse", "{W}", "--params", "{cli-model}"], "routing.cli_model 'gpt-99'"),
    (["import", "--kind", "team-map", "no-such-map.csv"], "no-such-map.csv"),
    (["demo", "--users", "5"], "--users 5"),
    (["demo", "--days", "2"], "--days 2"),
    (["demo", "--seed", "-1"], "--seed -1"),
    (["show-record", "--kind", "nonsense", "--day", "2026-10-05", "--user", "x", "--warehouse", "{W}"], "--kind 'nonsense'"),
    (["show-record", "--kind", "users-1-day", "--user", "x", "--warehouse", "{W}"], "--day is needed"),
    (["show-record", "--kind", "users-1-day", "--day", "2026-10-05", "--user", "nobody-here", "--warehouse", "{W}"],
     "user nobody-here"),
]


@pytest.mark.parametrize("args, named", CASES, ids=[" ".join(a[:3]) + " | " + n for a, n in CASES])
def test_bad_input_is_one_line_naming_it_with_exit_2(bad, capsys, args, named):
    rc = main([bad[a[1:-1]] if a.startswith("{") else a for a in args])
    err = capsys.readouterr().err
    assert rc == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert named in lines[0]


@pytest.mark.parametrize("args, named", [
    (["report", "--period", P, "--workers", "0"], "--workers"),
    (["demo", "--workers", "-2"], "--workers"),
    (["report"], "--period"),
])
def test_bad_flags_are_refused_by_the_parser_with_exit_2(capsys, args, named):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert named in err.strip().splitlines()[-1]


def test_team_files_set_the_teams_budget_and_segment_everywhere(small_demo, project_cwd, capsys):
    params = _params(project_cwd / "p", files={
        "teams/appsec.yaml": "# appsec moves to platform/SRE with its own budget\nsegment: platform_sre\n"
                             "budget: {monthly_credits: 1234}\n",
        "teams/devex.yaml": "budget: {monthly_usd: 321}\n"})
    prm = load_params(params)
    assert prm.segment_of("appsec") == "platform_sre" and "appsec" not in prm.segments["security_engineering"].teams
    assert (prm.budgets.for_team("appsec").unit, prm.budgets.for_team("appsec").amount) == ("credits", 1234)
    assert (prm.budgets.for_team("devex").unit, prm.budgets.for_team("devex").amount) == ("usd", 321)
    assert prm.segment_of("devex") == load_params(ROOT / "params").segment_of("devex")  # only what a file sets
    assert main(["guardrails", "--period", P, "--warehouse", str(small_demo.warehouse), "--params", params,
                 "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["budgets"] if r["scope"] == "team"}
    assert (rows["appsec"]["segment"], rows["appsec"]["budget"], rows["appsec"]["unit"]) == ("platform_sre", 1234, "credits")
    assert (rows["devex"]["budget"], rows["devex"]["unit"]) == (321, "usd")
