"""The sandbox: a local emulator of the ACK, SLS and Kubernetes APIs over a seeded world."""

from __future__ import annotations

import importlib
import importlib.util
import os

from ackaudit.sandbox.state import SandboxState


def open_sandbox(state_dir: str | os.PathLike, *, seed: int = 1, now: float | None = None,
                 shared_events: bool = False) -> SandboxState:
    """The world saved in `state_dir`, or a freshly built (and saved) one when there is none.

    `shared_events`: other processes may use the world at the same time (see `SandboxState`)."""
    from pathlib import Path

    from ackaudit.sandbox import worlddir

    state = SandboxState.load(state_dir, shared_events=shared_events)
    if state is not None:
        return state
    from ackaudit.sandbox.sls_alerting import ensure_builtin_resources

    Path(state_dir).mkdir(parents=True, exist_ok=True)
    worlddir.mark(Path(state_dir))

    state = SandboxState(state_dir, shared_events=shared_events)
    if importlib.util.find_spec("ackaudit.sandbox.world") is not None:
        importlib.import_module("ackaudit.sandbox.world").build_world(state, seed=seed, now=now)
    ensure_builtin_resources(state)
    state.save()
    return state
