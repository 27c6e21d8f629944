"""Waiting for ACK's asynchronous addon tasks, with progress and a bounded time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ackaudit import environment
from ackaudit.errors import AckAuditError, CloudError

Progress = Callable[[str], None]


def poll_interval() -> float:
    # ACK tasks take minutes; a few seconds between polls is plenty. Tests shorten it.
    return environment.poll_interval()


class WaitTimeout(AckAuditError):
    exit_code = 1


def wait_task(ack: Any, task_id: str, *, timeout: float, on_progress: Progress, what: str,
              check_later: str) -> dict[str, Any]:
    """Poll DescribeTaskInfo until the task succeeds; raise on failure or timeout."""
    deadline = time.monotonic() + timeout
    while True:
        task = ack.get_task(task_id)
        state = str(task.get("state") or "").lower()
        stages = task.get("stages") or []
        done = sum(1 for s in stages if str(s.get("state", "")).lower() in ("success", "succeed", "finished"))
        stage = task.get("current_stage") or (stages[-1].get("state") if stages else "") or state
        on_progress(f"{what}: task {task_id} {state}" + (f", stage {stage}" if stage and stage != state else "")
                    + (f" ({done}/{len(stages)} stages done)" if stages else ""))
        if state == "success":
            return task
        if state in ("fail", "failed"):
            error = task.get("error") or {}
            message = error.get("message") or "no error message"
            code = error.get("code") or "TaskFailed"
            raise CloudError(f"{what} failed: task {task_id}: {code}: {message}",
                             hint=f"details: `ackaudit doctor --cluster {task.get('cluster_id') or 'ID'}`")
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"{what} still {state or 'running'} after {timeout:.0f}s (task {task_id})",
                              hint=f"it goes on in the cloud; check later with `{check_later}`")
        time.sleep(poll_interval())


def wait_until(predicate: Callable[[], tuple[bool, str]], *, timeout: float, on_progress: Progress,
               what: str, check_later: str) -> None:
    """Poll `predicate` (returning (done, status text)) until done or timeout."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = predicate()
        on_progress(f"{what}: {status}")
        if done:
            return
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"{what}: still {status} after {timeout:.0f}s",
                              hint=f"it goes on in the cloud; check later with `{check_later}`")
        time.sleep(poll_interval())
