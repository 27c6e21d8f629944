"""The README's commands, copied as a new user would, run in order against a fresh sandbox."""

from __future__ import annotations

import re
from pathlib import Path

from shell_runs import Shell

README = Path(__file__).resolve().parents[2] / "README.md"

# Steps of a command line that set up the machine or the project rather than use ackaudit; the
# test runs inside an installed checkout already. Each is a prefix of one `&&` step, with why.
NOT_RUN = {
    "python3 -m venv": "creates the virtualenv the tests already run in",
    ". .venv/bin/activate": "the test's interpreter is already active",
    "pip install": "ackaudit is already installed",
    "pytest": "the test suite itself",
    "ruff check": "a developer's lint step",
    "bench/run": "the benchmarks",
    "python -m ackaudit.cli._reference": "regenerates docs/cli.md in the checkout",
}
EXPECTED_EXIT = re.compile(r"\(exit code (\d+)\)")


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def steps(line: str) -> list[str]:
    """The `&&` steps of a line that a new user would run to try ackaudit."""
    command = line.split("  #", 1)[0].strip()
    return [part.strip() for part in command.split("&&")
            if part.strip() and not any(part.strip().startswith(p) for p in NOT_RUN)]


def walkthrough() -> list[tuple[str, int]]:
    """(command line, the exit code the README announces for it: 0 unless it says otherwise)."""
    out = []
    for block in sh_blocks(README.read_text(encoding="utf-8")):
        for line in block.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            expected = EXPECTED_EXIT.search(line.split("  #", 1)[1]) if "  #" in line else None
            out += [(step, int(expected.group(1)) if expected else 0) for step in steps(line)]
    return out


def test_the_walkthrough_has_no_placeholders():
    for block in sh_blocks(README.read_text(encoding="utf-8")):
        code = "\n".join(line.split("  #", 1)[0] for line in block.splitlines())
        assert not re.search(r"<[^>]*>", code), code
        assert "..." not in code, code


def test_the_readme_commands_run_in_order_against_a_fresh_sandbox(tmp_path, _world_template):
    lines = walkthrough()
    assert len(lines) >= 9
    assert all(line.startswith("ackaudit ") for line, _ in lines), lines
    shell = Shell(tmp_path / "user", _world_template, sandbox_env=False)
    for line, expected in lines:
        result = shell.run(line)
        assert result.exit_code == expected, str(result)
        if expected == 0:
            assert "error:" not in result.stderr, str(result)
    assert (shell.cwd / "audit.html").read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
