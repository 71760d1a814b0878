"""Run a GitHub Actions job's steps on this machine, as the runner would, for the workflow tests.

What it does as GitHub does (docs: "Workflow syntax for GitHub Actions", "Evaluate expressions in workflows and
actions", "Store information in variables", "Workflow commands"): `${{ }}` expressions over the github, inputs,
secrets, steps, needs, env and vars contexts (a missing value is ''); a step's `if` (default `success()`) with
success(), failure(), always(), cancelled(), hashFiles(), ==, !=, &&, || and !; `run` scripts with
`bash -e {0}` (the default shell on Linux) in the workspace; env merged workflow < job < step; the GITHUB_OUTPUT
and GITHUB_ENV files; GitHub's default variables (GITHUB_API_URL pointed at the loopback fake).

What it stands in for: the actions a scheduled copilot-finops run uses. checkout and setup-python find the
workspace and the interpreter ready; cache/restore and cache/save copy the listed paths from and to a folder
(restore: the exact key, else the newest key starting with a restore key; save refuses a key that exists, as
GitHub does); upload-artifact and upload-pages-artifact record what they would upload. Any other action is an
error, so a workflow cannot pass by using something this runner does not know.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.S)
KNOWN_ACTIONS = ("actions/checkout", "actions/setup-python", "actions/cache/restore", "actions/cache/save",
                 "actions/upload-artifact", "actions/upload-pages-artifact")


@dataclass
class StepResult:
    name: str
    outcome: str  # success | failure | skipped
    command: str = ""
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None
    outputs: dict = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class JobRun:
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict = field(default_factory=dict)
    artifacts: list[dict] = field(default_factory=list)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)


class LocalRunner:
    """One workflow's job run in `workspace`; `cache` is the folder standing in for the Actions cache."""

    def __init__(self, workflow: dict, workspace: Path, cache: Path, *, secrets: dict, inputs: dict, github: dict,
                 api_url: str, skip: tuple[str, ...] = (), timeout: float = 600):
        self.workflow, self.workspace, self.cache = workflow, Path(workspace), Path(cache)
        self.secrets, self.inputs, self.github, self.api_url = secrets, inputs, github, api_url
        self.skip, self.timeout = set(skip), timeout

    # -- expressions -----------------------------------------------------------------------------------------
    def evaluate(self, expression: str, context: dict, status: dict):
        def lookup(path: str):
            value = context
            for part in path.split("."):
                value = value.get(part, "") if isinstance(value, dict) else ""
            return value

        def hash_files(*patterns):
            files = sorted(p for pattern in patterns for p in self.workspace.glob(pattern) if p.is_file())
            return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest() if files else ""

        names = {"success": lambda: not status["failed"], "failure": lambda: status["failed"],
                 "always": lambda: True, "cancelled": lambda: False, "hashFiles": hash_files}
        python, pos = [], 0
        token = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\)|,)|"
                           r"(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_.-]*))")
        while pos < len(expression.rstrip()):
            m = token.match(expression, pos)
            if not m or m.end() == pos:
                raise ValueError(f"cannot read the expression {expression!r} at {expression[pos:]!r}")
            pos = m.end()
            if m["str"]:
                python.append(repr(m["str"][1:-1].replace("''", "'")))
            elif m["op"]:
                python.append({"&&": " and ", "||": " or ", "!": " not "}.get(m["op"], m["op"]))
            elif m["num"]:
                python.append(m["num"])
            elif m["name"] in ("true", "false", "null"):
                python.append({"true": "True", "false": "False", "null": "''"}[m["name"]])
            elif m["name"] in names:
                python.append(f"_f[{m['name']!r}]")
            else:
                python.append(f"_get({m['name']!r})")
        return eval("".join(python), {"__builtins__": {}}, {"_get": lookup, "_f": names})  # noqa: S307 (test helper)

    def substitute(self, text: str, context: dict, status: dict) -> str:
        def value(m):
            v = self.evaluate(m.group(1), context, status)
            return {True: "true", False: "false"}.get(v, str(v)) if isinstance(v, bool) else str(v)
        return EXPRESSION.sub(value, str(text))

    def condition(self, text: str | None, context: dict, status: dict) -> bool:
        if text is None:
            return not status["failed"]
        inner = EXPRESSION.fullmatch(text.strip())
        return bool(self.evaluate(inner.group(1) if inner else text, context, status))

    # -- the job ---------------------------------------------------------------------------------------------
    def run_job(self, job_id: str) -> JobRun:
        job = self.workflow["jobs"][job_id]
        run = JobRun()
        steps_ctx: dict = {}
        status = {"failed": False}
        runner_env = {"GITHUB_ENV": str(self.workspace / ".github_env")}
        Path(runner_env["GITHUB_ENV"]).write_text("")
        base = {**os.environ, "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_API_URL": self.api_url,
                "GITHUB_SERVER_URL": self.github["server_url"], "GITHUB_REPOSITORY": self.github["repository"],
                "GITHUB_RUN_ID": str(self.github["run_id"]), "GITHUB_WORKSPACE": str(self.workspace),
                "RUNNER_TEMP": str(self.workspace / ".runner_temp"), **runner_env}
        Path(base["RUNNER_TEMP"]).mkdir(exist_ok=True)
        for index, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("id") or f"step {index}"
            context = {"github": self.github, "inputs": self.inputs, "secrets": self.secrets, "steps": steps_ctx,
                       "needs": {}, "vars": {}, "runner": {"os": "Linux", "temp": base["RUNNER_TEMP"]}}
            env_layers = [self.workflow.get("env", {}), job.get("env", {}), step.get("env", {})]
            context["env"] = {k: self.substitute(v, context, status) for layer in env_layers for k, v in layer.items()}
            started = time.monotonic()
            if not self.condition(step.get("if"), context, status) or step.get("id") in self.skip:
                result = StepResult(name, "skipped", command=step.get("run", step.get("uses", "")))
            elif "uses" in step:
                result = self._action(name, step, context, status, run)
            else:
                result = self._script(name, step, context, status, base)
            result.seconds = time.monotonic() - started
            run.steps.append(result)
            if step.get("id"):
                steps_ctx[step["id"]] = {"outputs": result.outputs, "outcome": result.outcome,
                                         "conclusion": result.outcome}
            if result.outcome == "failure" and not step.get("continue-on-error"):
                status["failed"] = True
        final = {"github": self.github, "inputs": self.inputs, "steps": steps_ctx, "secrets": self.secrets}
        run.outputs = {k: self.substitute(v, final, status) for k, v in job.get("outputs", {}).items()}
        return run

    def _script(self, name, step, context, status, base) -> StepResult:
        script = self.substitute(step["run"], context, status)
        output_file = self.workspace / ".github_output"
        output_file.write_text("")
        added = dict(line.split("=", 1) for line in Path(base["GITHUB_ENV"]).read_text().splitlines() if "=" in line)
        env = {**base, **added, **context["env"], "GITHUB_OUTPUT": str(output_file)}
        script_file = Path(base["RUNNER_TEMP"]) / "step.sh"
        script_file.write_text(script)
        shell = ["bash", "-e", str(script_file)] if step.get("shell") in (None, "") else \
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)]
        proc = subprocess.run(shell, cwd=self.workspace, env=env, capture_output=True, text=True, timeout=self.timeout)
        outputs = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line)
        return StepResult(name, "success" if proc.returncode == 0 else "failure", script, proc.stdout, proc.stderr,
                          proc.returncode, outputs)

    def _action(self, name, step, context, status, run: JobRun) -> StepResult:
        action, _, ref = step["uses"].partition("@")
        if action not in KNOWN_ACTIONS or not ref:
            raise AssertionError(f"step {name!r} uses {step['uses']!r}, which this runner does not stand in for")
        given = {k: self.substitute(v, context, status) for k, v in step.get("with", {}).items()}
        paths = [p.strip() for p in given.get("path", "").splitlines() if p.strip()]
        result = StepResult(name, "success", command=step["uses"])
        if action == "actions/cache/restore":
            keys = sorted((d for d in self.cache.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime_ns,
                          reverse=True) if self.cache.exists() else []
            prefixes = [p.strip() for p in given.get("restore-keys", "").splitlines() if p.strip()]
            hit = next((d for d in keys if d.name == given["key"]), None) or next(
                (d for prefix in prefixes for d in keys if d.name.startswith(prefix)), None)
            if hit:
                for path in paths:
                    if (hit / path).exists():
                        shutil.copytree(hit / path, self.workspace / path, dirs_exist_ok=True)
            result.outputs = {"cache-hit": str(bool(hit and hit.name == given["key"])).lower(),
                              "cache-matched-key": hit.name if hit else ""}
        elif action == "actions/cache/save":
            target = self.cache / given["key"]
            if target.exists():
                return StepResult(name, "failure", step["uses"], stderr=f"cache key {given['key']} exists")
            for path in paths:
                if (self.workspace / path).exists():
                    shutil.copytree(self.workspace / path, target / path)
            target.mkdir(parents=True, exist_ok=True)
        elif action in ("actions/upload-artifact", "actions/upload-pages-artifact"):
            missing = [p for p in paths if not (self.workspace / p).exists()]
            if missing:
                return StepResult(name, "failure", step["uses"], stderr=f"no files at {missing}")
            run.artifacts.append({"action": action, **given})
        return result
