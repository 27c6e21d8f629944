"""Conventions every command must keep: help with examples, -o json, the design's tree, fresh docs."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ackaudit import __version__
from ackaudit.cli import app
from ackaudit.cli._reference import command_paths, help_text, render

DESIGN_TREE = {
    ("clusters",), ("doctor",), ("enable",), ("status",), ("disable",), ("retention",), ("query",),
    ("session",), ("event",), ("report",), ("export",), ("alerts", "setup"), ("alerts", "plan"),
    ("alerts", "status"), ("alerts", "test"), ("alerts", "remove"), ("alerts", "history"), ("sandbox", "start"), ("sandbox", "reset"),
}
GROUPS = {(), ("alerts",), ("sandbox",)}
LEAVES = sorted(tuple(p) for p in command_paths() if tuple(p) not in GROUPS)


def test_tree_matches_the_design():
    assert set(LEAVES) == DESIGN_TREE


def test_root_help_lists_every_command():
    text = help_text([])
    for top in {p[0] for p in DESIGN_TREE}:
        assert f"  {top} " in text or f"  {top}\n" in text, top


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_command_has_help_with_an_example_and_the_global_options(path):
    text = help_text(list(path))
    lines = [line for line in text.splitlines() if line.strip()]
    summary = lines[1].strip()
    assert summary and not summary.startswith("-"), f"no help text for {path}"
    assert "Examples:" in text
    assert f"ackaudit {' '.join(path)}" in text.split("Examples:", 1)[1]
    for option in ("-o, --output", "--profile", "--region", "--no-color", "-v, --verbose", "--sandbox"):
        assert option in text, (path, option)


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_command_accepts_output_json_before_and_after(path):
    # A usage error would be exit 2; a command that needs more input fails later, never on -o json.
    runner = CliRunner()
    after = runner.invoke(app, [*path, "-o", "json", "--help"])
    before = runner.invoke(app, ["-o", "json", *path, "--help"])
    assert after.exit_code == 0, after.output
    assert before.exit_code == 0, before.output


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"ackaudit {__version__}"


def test_unknown_option_is_a_usage_error():
    result = CliRunner().invoke(app, ["clusters", "--no-such-option"])
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_malformed_cluster_id_is_a_usage_error():
    result = CliRunner().invoke(app, ["status", "--cluster", "../etc"])
    assert result.exit_code == 2
    assert "not a cluster id" in result.output


def test_cli_reference_is_fresh():
    path = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
    assert path.read_text(encoding="utf-8") == render(), \
        "docs/cli.md is stale: python -m ackaudit.cli._reference > docs/cli.md"
