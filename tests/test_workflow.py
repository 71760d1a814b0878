"""`init-workflow`: the generated GitHub Actions workflow has the shape GitHub documents, and its steps run end to
end on this machine against the loopback fake GitHub: fetch, ingest, retention, alerts, reports, carried over."""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from actions_local import EXPRESSION, LocalRunner
from copilot_finops.cli import main
from copilot_finops.workflow import WorkflowSettings, render_workflow
from fake_github import FakeGitHub
from test_alerts import block_kit_problems, loopback_hook  # noqa: F401 (loopback_hook is a fixture)

ROOT = Path(__file__).resolve().parents[1]

# -- the shape GitHub documents ---------------------------------------------------------------------------------
# From "Workflow syntax for GitHub Actions" (docs.github.com, Actions > Reference > Workflow syntax): the keys a
# workflow, a job and a step may have; `on` and `jobs` are required; a job that is not a reusable-workflow call
# needs `runs-on` and `steps`; a step has `uses` or `run`, not both; job and step ids start with a letter or _
# and hold letters, digits, - and _; `uses` is {owner}/{repo}[/{path}]@{ref}; `with` and `env` map names to
# strings, numbers or booleans; `schedule` is a list of POSIX cron strings (five fields); workflow_dispatch
# inputs have a type among string, boolean, choice, number and environment; permissions are read, write or none
# per scope. From "Contexts reference": the contexts an expression may name. From "Security hardening for GitHub
# Actions": untrusted input (here workflow inputs) and secrets go to scripts through env, not into the script.
WORKFLOW_KEYS = {"name", "run-name", "on", "permissions", "env", "defaults", "concurrency", "jobs"}
JOB_KEYS = {"name", "permissions", "needs", "if", "runs-on", "environment", "concurrency", "outputs", "env",
            "defaults", "steps", "timeout-minutes", "strategy", "continue-on-error", "container", "services"}
STEP_KEYS = {"id", "if", "name", "uses", "run", "working-directory", "shell", "with", "env", "continue-on-error",
             "timeout-minutes"}
EVENTS = {"schedule", "workflow_dispatch", "push", "pull_request", "workflow_call", "workflow_run", "repository_dispatch"}
INPUT_TYPES = {"string", "boolean", "choice", "number", "environment"}
PERMISSION_SCOPES = {"actions", "attestations", "checks", "contents", "deployments", "discussions", "id-token",
                     "issues", "models", "packages", "pages", "pull-requests", "repository-projects",
                     "security-events", "statuses"}
CONTEXTS = {"github", "env", "vars", "job", "jobs", "steps", "runner", "secrets", "strategy", "matrix", "needs",
            "inputs"}
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
USES = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?@[A-Za-z0-9_.-]+$")
CRON = re.compile(r"^\S+ \S+ \S+ \S+ \S+$")


def _expressions(value) -> list[str]:
    return EXPRESSION.findall(value) if isinstance(value, str) else []


def _scalar_map(mapping, where: str) -> list[str]:
    if not isinstance(mapping, dict):
        return [f"{where} must be a mapping"]
    return [f"{where}.{k} must be a string, number or boolean" for k, v in mapping.items()
            if not isinstance(v, (str, int, float, bool))]


def workflow_shape_problems(doc: dict) -> list[str]:
    problems = [f"unknown top-level key {k!r}" for k in set(doc) - WORKFLOW_KEYS]
    problems += [f"missing {k!r}" for k in ("on", "jobs") if k not in doc]
    on = doc.get("on", {})
    problems += [f"unknown event {e!r}" for e in set(on) - EVENTS]
    for entry in on.get("schedule", []) or [None]:
        if not (isinstance(entry, dict) and CRON.match(str(entry.get("cron", "")))):
            problems.append(f"schedule entry {entry!r} needs a five-field cron")
    for name, spec in ((on.get("workflow_dispatch") or {}).get("inputs") or {}).items():
        if spec.get("type", "string") not in INPUT_TYPES or not isinstance(spec.get("description", ""), str):
            problems.append(f"workflow_dispatch input {name!r}: {spec!r}")
    for scope, level in (doc.get("permissions") or {}).items():
        if scope not in PERMISSION_SCOPES or level not in ("read", "write", "none"):
            problems.append(f"permission {scope}: {level}")
    problems += _scalar_map(doc.get("env", {}), "env")
    jobs = doc.get("jobs") or {}
    if not jobs:
        problems.append("no jobs")
    for job_id, job in jobs.items():
        where = f"jobs.{job_id}"
        if not IDENTIFIER.match(job_id):
            problems.append(f"{where}: not a valid job id")
        problems += [f"{where}: unknown key {k!r}" for k in set(job) - JOB_KEYS]
        if not isinstance(job.get("runs-on"), (str, list)) or not isinstance(job.get("steps"), list) or not job["steps"]:
            problems.append(f"{where} needs runs-on and a list of steps")
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        problems += [f"{where}: needs unknown job {n!r}" for n in needs if n not in jobs]
        for scope, level in (job.get("permissions") or {}).items():
            if scope not in PERMISSION_SCOPES or level not in ("read", "write", "none"):
                problems.append(f"{where}: permission {scope}: {level}")
        problems += _scalar_map(job.get("env", {}), f"{where}.env")
        seen_ids: list[str] = []
        for i, step in enumerate(job.get("steps") or []):
            at = f"{where}.steps[{i}] ({step.get('name', step.get('id', '?'))})"
            problems += [f"{at}: unknown key {k!r}" for k in set(step) - STEP_KEYS]
            if ("uses" in step) == ("run" in step):
                problems.append(f"{at}: a step has uses or run, not both")
            if "uses" in step and not USES.match(step["uses"]):
                problems.append(f"{at}: uses {step['uses']!r} is not owner/repo[/path]@ref")
            if "with" in step:
                problems += _scalar_map(step["with"], f"{at}.with")
            problems += _scalar_map(step.get("env", {}), f"{at}.env")
            earlier = list(seen_ids)
            if "id" in step:
                if not IDENTIFIER.match(step["id"]) or step["id"] in seen_ids:
                    problems.append(f"{at}: id {step['id']!r} is invalid or repeated")
                seen_ids.append(step["id"])
            texts = [step.get("run", ""), step.get("if", ""), *step.get("with", {}).values(), *step.get("env", {}).values()]
            expressions = [e for t in texts for e in _expressions(t)]
            if "if" in step and "${{" not in step["if"]:  # `if` may leave out the ${{ }}
                expressions.append(step["if"])
            for expr in expressions:
                for context, name in re.findall(r"(?<![\w.'-])([A-Za-z_][\w-]*)\.([\w-]+)", re.sub(r"'[^']*'", "", expr)):
                    if context not in CONTEXTS:
                        problems.append(f"{at}: expression names unknown context {context!r}: {expr}")
                    if context == "steps" and name not in earlier:
                        problems.append(f"{at}: refers to step {name!r} before it runs")
                    if context == "needs" and name not in needs:
                        problems.append(f"{at}: refers to job {name!r} it does not need")
            if any(c in e for e in _expressions(step.get("run", "")) for c in ("secrets.", "inputs.")):
                problems.append(f"{at}: secrets and inputs reach run scripts through env, not pasted into them")
        for name, value in (job.get("outputs") or {}).items():
            if not _expressions(value):
                problems.append(f"{where}.outputs.{name} is not an expression")
    return problems


def load(text: str) -> dict:
    return yaml.safe_load(text)


SETTINGS = {
    "artifact": WorkflowSettings(org="acme"),
    "pages-teams": WorkflowSettings(org="acme", enterprise="acme-ent", webhook_format="teams", publish="pages",
                                    repos=["acme/api", "acme/web"], cron="0 6 * * 1-5", render_day=5),
}


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_the_generated_workflow_has_the_documented_shape(name):
    settings = SETTINGS[name]
    doc = load(render_workflow(settings))
    assert workflow_shape_problems(doc) == []
    steps = {s.get("name"): s for s in doc["jobs"]["daily"]["steps"]}
    fetch = steps["Fetch from GitHub"]
    # the token is a repository secret, handed to the fetch step alone
    holders = [s["name"] for j in doc["jobs"].values() for s in j["steps"]
               if settings.token_secret in json.dumps(s)]
    assert holders == ["Fetch from GitHub"] and fetch["env"]["GITHUB_TOKEN"] == f"${{{{ secrets.{settings.token_secret} }}}}"
    assert doc["on"]["schedule"] == [{"cron": settings.cron}] and "workflow_dispatch" in doc["on"]
    # the warehouse is carried from run to run, and saved even when a step failed
    restore, save = steps["Restore the raw zone, warehouse and reports of the last run"], \
        steps["Save the raw zone, warehouse and reports for the next run"]
    assert restore["uses"].startswith("actions/cache/restore@") and save["uses"].startswith("actions/cache/save@")
    assert "data" in restore["with"]["path"].split() and restore["with"]["path"] == save["with"]["path"]
    assert save["if"].startswith("${{ always()")
    assert f"--webhook-format {settings.webhook_format}" in steps["Guardrails and alerts"]["run"]
    assert doc["concurrency"]["cancel-in-progress"] is False
    if settings.publish == "pages":
        assert doc["jobs"]["pages"]["needs"] == "daily" and doc["jobs"]["pages"]["permissions"] == {
            "pages": "write", "id-token": "write"}
        assert "--repos acme/api,acme/web" in fetch["run"] and "--enterprise acme-ent" in fetch["run"]
        assert ".github.io" in steps["Guardrails and alerts"]["env"]["REPORT_URL"]
    else:
        assert set(doc["jobs"]) == {"daily"} and "upload-pages-artifact" not in json.dumps(doc)


def test_the_shape_check_catches_what_github_refuses():
    doc = load(render_workflow(SETTINGS["artifact"]))
    broken = json.loads(json.dumps(doc))
    step = broken["jobs"]["daily"]["steps"][2]
    step["uses"] = "actions/checkout"  # no ref
    broken["jobs"]["daily"]["steps"][5]["run"] += "\necho ${{ secrets.COPILOT_FINOPS_TOKEN }}"
    broken["jobs"]["daily"]["runs_on"] = "ubuntu-latest"
    broken["on"]["schedule"] = [{"cron": "daily"}]
    problems = "\n".join(workflow_shape_problems(broken))
    for expected in ("a step has uses or run, not both", "unknown key 'runs_on'", "needs a five-field cron",
                     "secrets and inputs reach run scripts through env"):
        assert expected in problems


@pytest.mark.parametrize("args, message", [
    (["--org", "acme corp"], "is not an organization login"),
    (["--org", "acme\n  evil: true"], "is not an organization login"),
    (["--org", "acme", "--cron", "every day"], "five cron fields"),
    (["--org", "acme", "--render-day", "31"], "from 1 to 28"),
    (["--org", "acme", "--publish", "s3"], "choose one of artifact, pages"),
    (["--org", "acme", "--webhook-format", "discord"], "choose one of slack, teams, json"),
    (["--org", "acme", "--repos", "api"], "owner/name"),
    (["--org", "acme", "--repos", "acme/api", "--all-repos"], "exclude each other"),
    (["--org", "acme", "--token-secret", "my-token"], "secret name"),
    (["--org", "acme", "--token-secret", "GITHUB_TOKEN"], "secret name"),
    (["--org", "acme", "--report-url", "http://intranet/reports"], "https:// address"),
])
def test_init_workflow_refuses_bad_settings_with_one_line(tmp_path, capsys, args, message):
    assert main(["init-workflow", *args, "--out", str(tmp_path / "wf.yml")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "wf.yml").exists()


def test_init_workflow_writes_once_and_replaces_with_force(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["init-workflow", "--org", "acme", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    path = tmp_path / ".github" / "workflows" / "copilot-finops.yml"
    assert doc["workflow"] == ".github/workflows/copilot-finops.yml" and path.exists()
    assert workflow_shape_problems(load(path.read_text())) == []
    assert main(["init-workflow", "--org", "other"]) == 2
    assert "exists: pass --force" in capsys.readouterr().err and "acme" in path.read_text()
    assert main(["init-workflow", "--org", "other", "--force"]) == 0
    assert "COPILOT_FINOPS_ORG: other" in path.read_text()


# -- the steps, run here against the loopback GitHub ------------------------------------------------------------
@pytest.fixture(scope="module")
def served_org(tmp_path_factory):
    """A demo org whose data ends two days ago (UTC), as GitHub would serve it on the day the workflow runs."""
    from copilot_finops.demo import generate_org

    today = datetime.now(timezone.utc).date()
    raw = tmp_path_factory.mktemp("served") / "raw"
    generate_org(raw, seed=11, users=50, days=70, end=today - timedelta(days=2))
    return raw, today


STAND_IN_NOTEBOOK = {"cells": [
    {"cell_type": "code", "execution_count": None, "metadata": {"tags": ["parameters"]}, "outputs": [],
     "source": ["team = ''  # the team\n", "period = ''  # YYYY-MM\n", "warehouse = ''\n", "params = ''\n"]},
    {"cell_type": "markdown", "metadata": {}, "source": ["A stand-in report page."]}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5}


def checkout(base: Path, name: str, notebook: str = "real") -> Path:
    """A fresh checkout of the project as the runner sees it: params with budgets for two teams, low enough for
    both to be at a stage, and one report notebook to keep the test quick: the guardrail page the alerts link
    to, or a stand-in page (for the closed month's render, whose notebooks test_reports.py covers)."""
    work = base / name
    shutil.copytree(ROOT / "params", work / "params")
    org = yaml.safe_load((work / "params" / "org.yaml").read_text())
    org["budgets"] = {"teams": {"platform-sre": {"monthly_credits": 500}, "devex": {"monthly_credits": 500}}}
    (work / "params" / "org.yaml").write_text(yaml.safe_dump(org, sort_keys=False))
    (work / "notebooks").mkdir()
    if notebook == "real":
        shutil.copy(ROOT / "notebooks" / "03_guardrails.ipynb", work / "notebooks")
    else:
        (work / "notebooks" / "01_stand_in.ipynb").write_text(json.dumps(STAND_IN_NOTEBOOK))
    return work


def run_daily(workflow, work, cache, gh, token, hook_url, run_id, inputs):
    github = {"run_id": run_id, "run_attempt": 1, "repository": "acme/finops", "repository_owner": "acme",
              "server_url": "https://github.com", "event_name": "workflow_dispatch",
              "event": {"repository": {"name": "finops"}}}
    runner = LocalRunner(workflow, work, cache, github=github, inputs=inputs, api_url=gh.url, skip=("install",),
                         secrets={"COPILOT_FINOPS_TOKEN": token, "COPILOT_FINOPS_WEBHOOK": hook_url,
                                  "COPILOT_FINOPS_PSEUDONYM_KEY": "workflow-test-pseudonym-key"})
    job = runner.run_job("daily")
    failed = [s for s in job.steps if s.outcome == "failure"]
    assert not failed, "\n".join([f"{s.seconds:6.1f}s {s.outcome:8} {s.name}" for s in job.steps]
                                  + [f"{s.name}:\n{s.stdout[-1500:]}\n{s.stderr[-3000:]}" for s in failed])
    return job


@pytest.mark.slow
def test_the_workflow_steps_run_end_to_end_against_the_loopback_github(served_org, tmp_path, loopback_hook,  # noqa: F811 (the fixture)
                                                                      monkeypatch):
    raw, today = served_org
    hook_url, received = loopback_hook
    token = "ghp_test" + secrets.token_hex(16)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # copilot-finops
    monkeypatch.delenv("COPILOT_FINOPS_PSEUDONYM_KEY", raising=False)
    workflow = load(render_workflow(WorkflowSettings(org="demo-corp")))
    day = today - timedelta(days=2)
    period, closed = day.strftime("%Y-%m"), (day.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    cache = tmp_path / "cache"
    with FakeGitHub(raw, token=token) as gh:
        # first run: empty cache, so the fetch backfills; both budgets are at a stage: two messages, two pages
        first = run_daily(workflow, checkout(tmp_path, "run1"), cache, gh, token, hook_url, 101,
                          {"day": "", "render": "no"})
        requests_first = len(gh.log)
        work = tmp_path / "run1"
        alerts = json.loads((work / "outputs" / period / "alerts.json").read_text())
        staged = sorted(b["name"] for b in alerts["budgets"] if b["stage"] is not None)
        assert staged == ["devex", "platform-sre"] and alerts["as_of"] == day.isoformat()
        assert sorted(p["text"].split(" ")[0] for _, p in received) == staged  # one message per team at a stage
        assert all(block_kit_problems(p) == [] for _, p in received)
        assert all("https://github.com/acme/finops/actions/runs/101" in json.dumps(p) for _, p in received)
        assert first.step("Guardrails and alerts").outputs == {"teams": "devex,platform-sre"}
        for team in staged:  # the month to date was rendered for them, so each message's report exists
            assert (work / "outputs" / period / team / "03_guardrails.html").exists(), team
        assert first.outputs == {"published": "true"} and [a["path"] for a in first.artifacts] == ["outputs"]
        assert first.step("Render the closed month").outcome == "skipped"
        assert first.step("Install copilot-finops").outcome == "skipped"  # this test's interpreter has it installed
        assert first.step("Install copilot-finops").command == "python -m pip install ."

        # next day's run, on the render day: a fresh checkout, the warehouse from the cache; the same stages send
        # nothing, and the closed month is rendered
        second = run_daily(workflow, checkout(tmp_path, "run2", notebook="stand-in"), cache, gh, token, hook_url,
                           102, {"day": "", "render": closed})
        requests_second = len(gh.log) - requests_first
        assert not gh.errors
    work = tmp_path / "run2"
    assert len(received) == len(staged)  # nothing posted twice
    assert "already sent this month: devex" in second.step("Guardrails and alerts").stderr
    assert second.step("Render the month to date for the alerted teams' links").outcome == "skipped"
    assert (work / "outputs" / closed / "index.html").exists()
    assert (work / "outputs" / period / "platform-sre" / "03_guardrails.html").exists()  # carried over in the cache
    assert f'href="{closed}/index.html"' in (work / "outputs" / "index.html").read_text()
    assert second.outputs == {"published": "true"}
    assert 0 < requests_second < requests_first / 3  # only the days GitHub may still revise
    assert sorted(d.name for d in cache.iterdir()) == ["copilot-finops-101-1", "copilot-finops-102-1"]
    assert not (tmp_path / "run1" / ".pseudonym.key").exists()  # the key came from the secret
    # the token reached the fetch step only, and nothing printed or written holds it
    logs = [s.stdout + s.stderr + s.command for job in (first, second) for s in job.steps]
    files = [p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".duckdb"]
    assert not any(token in text or token[8:] in text for text in logs + files)
