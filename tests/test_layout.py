"""The package's shape: layers without cycles, modules a reader can hold, and notebooks that name real functions.

Read statically (ast), so a renamed library function fails here, in the suite, rather than in a rendered report.
"""
from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lib" / "copilot_finops"
MAX_MODULE_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The copilot_finops modules a file imports, wherever in the file (function-level imports count too)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("copilot_finops")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("copilot_finops"):
                continue
            for alias in node.names:  # `from . import usage` imports the module copilot_finops.usage
                sub = f"{target}.{alias.name}"
                found.add(sub if (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").exists()
                          or (PACKAGE.parent / sub.replace(".", "/")).is_dir() else target)
    return found - {module}


def _graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (a package's __init__ is a node of its own)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules} for name, path in modules.items()}


def test_no_import_cycles():
    edges = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_modules_stay_small():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these modules (over {MAX_MODULE_LINES} lines): {long}"


def test_commands_are_thin_and_import_no_other_command():
    for path in (PACKAGE / "commands").glob("*.py"):
        others = {m for m in _imports(path) if m.startswith("copilot_finops.commands.") and not m.endswith(".common")}
        assert not others, f"{path.name} imports another command: {others} (shared code belongs in the library)"


def test_analyses_never_import_the_report_runner_or_commands():
    """Layers point down: the analyses are imported by reports and commands, never the other way round."""
    upper = ("copilot_finops.reports", "copilot_finops.commands", "copilot_finops.cli")
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        if name.startswith(upper):
            continue
        bad = {m for m in _imports(path) if m.startswith(upper)}
        assert not bad, f"{name} imports {bad}"


def _notebook_code(path: Path) -> str:
    nb = json.loads(path.read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_name_functions_the_library_has(notebook):
    """Every `from copilot_finops... import name` and every `module.attribute` a notebook uses exists."""
    tree = ast.parse(_notebook_code(notebook))
    aliases: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("copilot_finops"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                try:  # `from copilot_finops import usage` names a module
                    value = importlib.import_module(f"{node.module}.{alias.name}")
                except ModuleNotFoundError:
                    assert hasattr(module, alias.name), f"{notebook.name}: {node.module} has no {alias.name}"
                    value = getattr(module, alias.name)
                aliases[alias.asname or alias.name] = value
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("copilot_finops"):
                    aliases[alias.asname or alias.name] = importlib.import_module(alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            target = aliases[node.value.id]
            if isinstance(target, type(ast)):  # a module: its attribute must exist
                assert hasattr(target, node.attr), f"{notebook.name}: {node.value.id}.{node.attr} does not exist"
    assert aliases, f"{notebook.name} imports nothing from copilot_finops"
