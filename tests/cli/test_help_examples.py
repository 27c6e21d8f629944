"""Every example in every command's --help runs against the sandbox, in order, and succeeds."""

from __future__ import annotations

import pytest
from shell_runs import Shell

from ackaudit.cli._reference import command_paths, help_text

# Examples that cannot run unattended, and why. Each rule is a piece of the example's text.
SKIPPED = {
    "--follow": "runs until Ctrl-C",
    "sandbox start": "serves until Ctrl-C",
    "alerts test": "sends a message to a real chat robot",
    "--kubeconfig ~/.kube/config": "reads your own kubeconfig file",
}


def examples(path: list[str]) -> list[str]:
    """The example lines of `ackaudit PATH --help`, as the user sees them."""
    text = help_text(path)
    if "Examples:" not in text:
        return []
    block = text.split("Examples:", 1)[1]
    return [line.strip() for line in block.splitlines() if line.strip().startswith("ackaudit ")]


# A group's commands run in one world, in the order a user takes them.
ORDER = {"alerts": ["setup", "plan", "status", "test", "history", "remove"], "sandbox": ["start", "reset"]}


def _rank(path: list[str]) -> tuple[str, int]:
    order = ORDER.get(path[0], [])
    return path[0], order.index(path[1]) if len(path) > 1 and path[1] in order else len(order)


LEAVES = sorted((p for p in command_paths() if examples(p)), key=_rank)
TOPS = sorted({p[0] for p in LEAVES})


def skip_reason(line: str) -> str | None:
    return next((why for piece, why in SKIPPED.items() if piece in line), None)


def test_every_command_has_examples_and_few_are_skipped():
    lines = [line for path in LEAVES for line in examples(path)]
    assert len(LEAVES) >= 18
    assert set(sum(ORDER.values(), [])) == {p[1] for p in LEAVES if len(p) > 1}
    skipped = [line for line in lines if skip_reason(line)]
    assert len(skipped) <= len(lines) // 4, skipped


@pytest.mark.parametrize("top", TOPS)
def test_the_examples_of_each_command_run_in_order_against_the_sandbox(top, tmp_path, _world_template):
    shell = Shell(tmp_path / "user", _world_template, sandbox_env=True)
    ran = 0
    for path in (p for p in LEAVES if p[0] == top):
        for line in examples(path):
            if skip_reason(line):
                continue
            result = shell.run(line)
            assert result.exit_code == 0, str(result)
            assert "error:" not in result.stderr, str(result)
            ran += 1
    assert ran, f"every example of {top} is skipped"



def _json_example(path: list[str]) -> str | None:
    """The first example of the command that prints to the terminal (no file, no document format)."""
    for line in examples(path):
        if not skip_reason(line) and not any(word in line for word in (" --out", " --format", " -o ", " --source")):
            return line
    return None


@pytest.mark.parametrize("top", TOPS)
def test_o_json_prints_one_json_document_before_or_after_the_command(top, tmp_path, _world_template):
    """`-o json` is a global option: after the command or before it, stdout is one JSON document.
    A group's commands run in one world, in order (`alerts plan` needs the rules `setup` made)."""
    import json

    shell = Shell(tmp_path / "user", _world_template, sandbox_env=True)
    for path in (p for p in LEAVES if p[0] == top):
        line = _json_example(path)
        if line is None:
            continue
        words = line.split(" ")
        for variant in (f"{line} -o json", " ".join(["ackaudit", "-o", "json", *words[1:]])):
            result = shell.run(variant)
            assert result.exit_code in (0, 5), str(result)
            json.loads(result.stdout)
