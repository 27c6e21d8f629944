"""`docs/cli.md`, generated from the commands' own `--help` (a test fails when it is stale).

Regenerate with: python -m ackaudit.cli._reference > docs/cli.md
"""

from collections.abc import Iterator

import typer
from typer.testing import CliRunner

WIDTH = "100"


def command_paths() -> Iterator[list[str]]:
    """Every command path of the tree, groups included, depth first: [], ["alerts"], ["alerts", "setup"]..."""
    from ackaudit.cli import app

    def walk(node: object, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name, child in sorted(getattr(node, "commands", {}).items()):
            if not getattr(child, "hidden", False):
                yield from walk(child, [*path, name])

    yield from walk(typer.main.get_command(app), [])


def help_text(path: list[str]) -> str:
    from ackaudit.cli import app

    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": WIDTH, "NO_COLOR": "1"},
                                prog_name="ackaudit")
    if result.exit_code != 0:
        raise RuntimeError(f"`ackaudit {' '.join(path)} --help` failed: {result.output}")
    return result.output.rstrip() + "\n"


def render() -> str:
    parts = ["# ackaudit command reference\n",
             "Generated from `--help`; do not edit by hand "
             "(`python -m ackaudit.cli._reference > docs/cli.md`).\n"]
    for path in command_paths():
        title = " ".join(["ackaudit", *path])
        parts.append(f"\n## `{title}`\n\n```text\n{help_text(path)}```\n")
    return "".join(parts)


if __name__ == "__main__":
    print(render(), end="")
