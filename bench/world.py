"""The large audit logstore the benchmarks measure against: N generated events of the audited
sandbox cluster over the last 7 days, in a sandbox world on disk.

Generating a million events takes a couple of minutes, so `bench/run` sets BENCH_WORLD_CACHE to a
temporary folder: the first benchmark that asks for a world of N events generates it and leaves a
copy there, and the others copy it instead of generating it again.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from ackaudit.sandbox.world_clusters import AUDITED_CLUSTER_ID

DAY = 86400
SEED = 5
PROJECT, LOGSTORE = f"k8s-log-{AUDITED_CLUSTER_ID}", f"advaudit-{AUDITED_CLUSTER_ID}"


def generated_world(state_dir: Path, events: int) -> int:
    """Fill the world in `state_dir` (new) with `events` generated events; returns how many the
    logstore holds."""
    cache = os.environ.get("BENCH_WORLD_CACHE")
    cached = Path(cache) / f"world-{events}" if cache else None
    if cached is not None and cached.is_dir():
        shutil.copytree(cached, state_dir)
        return _count(state_dir)
    total = _generate(state_dir, events)
    if cached is not None:
        shutil.copytree(state_dir, cached.with_name(cached.name + ".partial"))
        os.replace(cached.with_name(cached.name + ".partial"), cached)
    return total


def _generate(state_dir: Path, events: int) -> int:
    from ackaudit.sandbox import open_sandbox
    from ackaudit.sandbox.generate import generate_events

    state = open_sandbox(state_dir)
    end = time.time() - 60
    batch: list[dict] = []
    try:
        for row in generate_events(events, seed=SEED, start=end - 7 * DAY, end=end):
            batch.append(row)
            if len(batch) == 50_000:
                state.events.append(PROJECT, LOGSTORE, batch)
                batch = []
        if batch:
            state.events.append(PROJECT, LOGSTORE, batch)
        return state.events.count(PROJECT, LOGSTORE)
    finally:
        state.close()


def _count(state_dir: Path) -> int:
    from ackaudit.sandbox import open_sandbox

    state = open_sandbox(state_dir)
    try:
        return state.events.count(PROJECT, LOGSTORE)
    finally:
        state.close()
