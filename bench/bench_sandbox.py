"""The sandbox as a user meets it: start-up with a world on disk, and GetLogs over many events,
through the real SLS SDK over real HTTP.

Run: python bench/bench_sandbox.py [--events N] [--runs N]
Targets: start-up (state on disk) under 1 s; a selective GetLogs over 1,000,000 events under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_SCRIPT = """
import time, sys
t0 = time.perf_counter()
from ackaudit.sandbox import open_sandbox
from ackaudit.sandbox.server import SandboxServer
import urllib.request
state = open_sandbox(sys.argv[1])
server = SandboxServer(state).start()
urllib.request.urlopen(server.url + "/_sandbox/health").read()
print(time.perf_counter() - t0)
server.stop()
"""


def startup_seconds(state_dir: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", START_SCRIPT, str(state_dir)], capture_output=True,
                             text=True, check=True)
        times.append(float(out.stdout.strip()))
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from aliyun.log import LogClient

    from ackaudit.sandbox import open_sandbox
    from ackaudit.sandbox.generate import generate_events
    from ackaudit.sandbox.server import SandboxServer
    from ackaudit.sandbox.world_clusters import AUDITED_CLUSTER_ID

    results = []
    with tempfile.TemporaryDirectory(prefix="ackaudit-bench-") as tmp:
        state_dir = Path(tmp) / "world"
        open_sandbox(state_dir).close()
        results.append(("sandbox start-up, world on disk", startup_seconds(state_dir, args.runs), 1.0))

        state = open_sandbox(state_dir)
        project, logstore = f"k8s-log-{AUDITED_CLUSTER_ID}", f"advaudit-{AUDITED_CLUSTER_ID}"
        end = time.time()
        start = end - 7 * 86400
        t0 = time.perf_counter()
        batch = []
        for row in generate_events(args.events, seed=3, start=start, end=end):
            batch.append(row)
            if len(batch) == 50_000:
                state.events.append(project, logstore, batch)
                batch = []
        if batch:
            state.events.append(project, logstore, batch)
        load = time.perf_counter() - t0
        server = SandboxServer(state).start()
        client = LogClient(server.url, "sandbox", "sandbox", source="127.0.0.1")
        client._isRowIp = True  # the SDK's IP detection fails when the endpoint has a port
        client.timeout = 60

        def timed(query: str, **kwargs) -> float:
            samples = []
            for _ in range(args.runs):
                t = time.perf_counter()
                resp = client.get_log(project, logstore, int(start), int(end) + 1, query=query, **kwargs)
                samples.append(time.perf_counter() - t)
                assert resp.is_completed()
            return statistics.median(samples)

        selective = ('k8s.pod.namespace: "payments" and process.name: "rm"')
        results.append((f"GetLogs selective search, {args.events:,} events", timed(selective, size=100), 1.0))
        results.append(("GetLogs newest 100 of everything", timed("*", size=100, reverse=True), None))
        results.append(("GetLogs SQL: top programs", timed(
            'kind: Command | select "process.name", count(1) as c group by 1 order by c desc limit 10'), None))
        results.append(("GetLogs SQL: count by traceId", timed(
            '* | select count(1) as n, approx_distinct("traceId") as sessions'), None))
        server.stop()
        state.close()

    print(f"loaded {args.events:,} events in {load:.1f}s (not a target: benchmark set-up)")
    print(f"{'operation':<48} {'median':>9} {'target':>9}  ok")
    failed = 0
    for name, seconds, target in results:
        ok = target is None or seconds <= target
        failed += not ok
        target_text = f"{target * 1000:.0f}ms" if target else "-"
        print(f"{name:<48} {seconds * 1000:>7.0f}ms {target_text:>9}  {'yes' if ok else 'NO'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
