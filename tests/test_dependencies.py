"""Every third-party module ackaudit imports is a declared dependency, with a floor where an older
version is known to misbehave."""

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def declared() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0].lower(): d for d in deps}


def imported_top_levels() -> set[str]:
    names = set()
    for path in (ROOT / "ackaudit").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"ackaudit", "__future__"}


def test_every_imported_package_is_declared():
    deps, owners = declared(), packages_distributions()
    missing = []
    for module in sorted(imported_top_levels()):
        dists = {d.lower() for d in owners.get(module, [])}
        if not dists & set(deps):
            missing.append(f"{module} (from {sorted(dists) or 'no installed distribution'})")
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_sqlglot_is_new_enough_to_keep_ctes():
    floor = re.search(r">=\s*(\d+)", declared()["sqlglot"])
    assert floor and int(floor.group(1)) >= 28
