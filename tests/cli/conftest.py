"""Driving the real CLI, in-process, against the sandbox fixture."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from ackaudit.cli import _globals, app
from ackaudit.sandbox.world_clusters import (
    AUDITED_CLUSTER_ID,
    ELIGIBLE_CLUSTER_ID,
    INELIGIBLE_CLUSTER_ID,
    SERVERLESS_CLUSTER_ID,
)

__all__ = ["AUDITED_CLUSTER_ID", "ELIGIBLE_CLUSTER_ID", "INELIGIBLE_CLUSTER_ID", "SERVERLESS_CLUSTER_ID"]


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def cli(sandbox):
    """`cli("status", "--cluster", ID)` runs ackaudit against the sandbox; a CLI that waits polls fast."""
    sandbox.state.settings["task_delay"] = 0.2
    env = {**sandbox.client_env(), "ACKAUDIT_POLL_INTERVAL": "0.05", "ACKAUDIT_RETRY_BASE": "0.01"}

    def run(*args: str, input: str | None = None) -> Run:
        _globals.reset()
        result = CliRunner().invoke(app, list(args), env=env, input=input, catch_exceptions=False)
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


def logstore_of(sandbox, cluster_id):
    """The audit logstore's config as the sandbox holds it, or None."""
    project = sandbox.state.projects.get(f"k8s-log-{cluster_id}") or {}
    return (project.get("logstores") or {}).get(f"advaudit-{cluster_id}")
