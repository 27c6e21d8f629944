"""Bulk audit rows for benchmarks: any number of realistic exec sessions over a time window.

The sessions are the sandbox world's scenarios (`world_history`) played by its users, spread evenly
over `[start, end)`: session k starts where its share of the rows falls in the window, so exactly
`n` rows come out whatever the window. Same arguments, same rows.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from ackaudit.sandbox.events import SessionRecorder
from ackaudit.sandbox.world_clusters import audited_cluster
from ackaudit.sandbox.world_history import (
    CI_DEPLOYER,
    CI_MIGRATE,
    CI_SMOKE,
    IDENTITIES,
    INTRUDER,
    INTRUSION,
    ROLES,
    Scenario,
)
from ackaudit.sandbox.world_shell import PidAllocator, SessionPlayer

# (user, scenario, weight): everyone's everyday sessions, CI runs, and a rare intrusion.
_MIX: list[tuple[dict[str, Any], Scenario, float]] = [
    *((role.user, scenario, 1.0) for role in ROLES for scenario in role.scenarios),
    (CI_DEPLOYER, CI_MIGRATE, 3.0), (CI_DEPLOYER, CI_SMOKE, 3.0), (INTRUDER, INTRUSION, 0.02),
]


def generate_events(n: int, *, seed: int, start: float, end: float,
                    cluster: dict | None = None) -> Iterator[dict]:
    """`n` raw audit rows (PodExec + Command sessions) with times in `[start, end)`."""
    if end <= start:
        raise ValueError("end must be after start")
    cluster = cluster if cluster is not None else audited_cluster(end, list(IDENTITIES))
    workload_pods = [p for p in cluster["pods"] if p["namespace"] != "kube-system"] or cluster["pods"]
    pods_by_app: dict[str, list[dict]] = {}
    for pod in cluster["pods"]:
        pods_by_app.setdefault(pod["labels"].get("app", ""), []).append(pod)
    rng = random.Random(seed)
    pids = PidAllocator(rng)
    choices = [(user, scenario) for user, scenario, _ in _MIX]
    weights = [weight for _, _, weight in _MIX]
    produced = 0
    while produced < n:
        when = start + (end - start) * (produced + rng.random()) / n
        user, scenario = rng.choices(choices, weights=weights)[0]
        pods = pods_by_app.get(scenario.app)
        pod = rng.choice(pods) if pods else rng.choice(workload_pods)
        container = scenario.container if pods else pod["containers"][0]["name"]
        recorder = SessionRecorder(cluster, pod, container, user, list(scenario.exec_command), when, rng,
                                   stdin=scenario.interactive, tty=scenario.interactive)
        player = SessionPlayer(recorder, pod["node_name"], pids, rng, when, scenario.interactive)
        player.start(list(scenario.exec_command), cwd=scenario.cwd, uid=scenario.uid)
        player.play(scenario.script)
        for row in recorder.rows():
            if row["__time__"] < end and produced < n:
                produced += 1
                yield row
