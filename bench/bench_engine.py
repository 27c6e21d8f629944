"""Benchmark of the embedded query engine over audit-shaped events.

    .venv/bin/python bench/bench_engine.py [--events 1000000] [--runs 5]

Generates N events (90% `kind: Command`, the rest PodExec entries) over 7 days in 200 pods of 20
namespaces, loads them into an on-disk store in a temporary directory, then reports the ingest
time and the median of several runs of a selective search, a grouped SQL statement and a
histogram, with the size of the database file.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ackaudit.engine import EventStore

PROJECT, LOGSTORE = "k8s-log-bench", "advaudit-bench"
START = 1_700_000_000
SPAN = 7 * 86400
PROCESSES = ["ls", "cat", "bash", "sh", "ps", "grep", "top", "env", "vi", "rm", "curl", "wget", "apt-get", "python3"]
USERS = ["alice", "bob", "carol", "dave", "ci-bot", "kubernetes-admin"]


def events(n: int, seed: int = 7) -> Iterator[dict[str, str]]:
    rnd = random.Random(seed)
    pods = [(f"ns-{i % 20}", f"app-{i % 37}-{i:04d}") for i in range(200)]
    k8s_json = {}
    for namespace, pod in pods:
        for user in USERS:
            k8s_json[(namespace, pod, user)] = json.dumps({
                "user": {"username": user, "aliuid": "1380000000000001", "groups": ["system:authenticated", user]},
                "pod": {"namespace": namespace, "name": pod, "labels": {"app": pod.rsplit("-", 1)[0]}},
                "container": {"name": "main", "image": "registry.example.com/app:1.0"}})
    hosts = [json.dumps({"hostip": f"192.168.0.{i}", "nodename": f"node-{i}"}) for i in range(50)]
    for i in range(n):
        namespace, pod = rnd.choice(pods)
        user = rnd.choice(USERS)
        when = START + i * SPAN // n
        common = {"__time__": when, "__source__": "192.168.0.10", "clusterid": "cbench",
                  "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)),
                  "traceId": f"trace-{i // 20:08d}", "eventId": f"event-{i:010d}",
                  "host": hosts[i % 50],
                  "k8s": k8s_json[(namespace, pod, user)]}
        if i % 10 == 0:
            yield {**common, "kind": "Kubernetes", "kubeObject": json.dumps({"operation": {
                "kind": "PodExec", "podExecOptions": {"container": "main", "command": ["bash"], "commandStr": "bash"}}})}
        else:
            name = rnd.choice(PROCESSES)
            yield {**common, "kind": "Command", "process": json.dumps({
                "pid": 1000 + i % 30000, "parentPid": 1, "name": name, "parentName": "bash",
                "cmdline": f"{name} -x /tmp/file-{i % 1000}", "cwd": "/root", "user": {"uid": 0}})}


def median_seconds(runs: int, action) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ackaudit-bench-") as tmp:
        path = Path(tmp) / "events.duckdb"
        store = EventStore(path)
        ingest, stored = 0.0, 0
        source = events(args.events)
        while chunk := list(itertools.islice(source, 100_000)):   # generating is not ingesting
            started = time.perf_counter()
            stored += store.append(PROJECT, LOGSTORE, chunk)
            ingest += time.perf_counter() - started

        window = (START, START + SPAN)
        selective = "k8s.pod.namespace: ns-3 and k8s.pod.name: app-23-0023 and process.name: rm"
        grouped = 'kind: Command | select "process.name", count(*) as c group by 1 order by c desc limit 10'
        hits = store.query(PROJECT, LOGSTORE, selective, *window)
        top = store.query(PROJECT, LOGSTORE, grouped, *window)
        results = [
            ("ingest", ingest, f"{stored:,} events", "< 60 s"),
            ("selective search (one page)",
             median_seconds(args.runs, lambda: store.query(PROJECT, LOGSTORE, selective, *window)),
             f"{len(hits.rows)} rows", "< 1 s"),
            ("grouped SQL", median_seconds(args.runs, lambda: store.query(PROJECT, LOGSTORE, grouped, *window)),
             f"{len(top.rows)} groups", "< 1 s"),
            ("histogram", median_seconds(args.runs, lambda: store.histogram(PROJECT, LOGSTORE, "kind: Command",
                                                                           *window)), "60 buckets max", "< 1 s"),
        ]
        store.close()
        size = os.path.getsize(path)

    print(f"{'operation':<30} {'median s':>9}  {'result':<16} target")
    for name, seconds, result, target in results:
        print(f"{name:<30} {seconds:>9.3f}  {result:<16} {target}")
    print(f"database size: {size / 1e6:.1f} MB ({size / max(stored, 1):.0f} bytes per event)")


if __name__ == "__main__":
    main()
