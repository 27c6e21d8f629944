"""The sandbox as a user meets it: start-up with a world on disk, and GetLogs over many events,
through the real SLS SDK over real HTTP.

Run: python bench/bench_sandbox.py [--events N] [--runs N] [--summary FILE]
Targets: start-up (state on disk) under 1 s; a selective GetLogs over 1,000,000 events under 1 s;
PullLogs serves at least 50 MB/s of raw (uncompressed protobuf) log groups from one shard, so an
export benchmark measures the client rather than the sandbox.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summary import record  # noqa: E402
from world import LOGSTORE, PROJECT, generated_world  # noqa: E402

PULL_TARGET = 50.0      # MB/s of raw log groups from one shard

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
    parser.add_argument("--summary", help="append the headline figures to this file (bench/run's table)")
    args = parser.parse_args()

    from aliyun.log import LogClient

    from ackaudit.sandbox import open_sandbox
    from ackaudit.sandbox.server import SandboxServer

    results = []
    with tempfile.TemporaryDirectory(prefix="ackaudit-bench-") as tmp:
        empty_dir = Path(tmp) / "empty"
        open_sandbox(empty_dir).close()
        results.append(("sandbox start-up, world on disk", startup_seconds(empty_dir, args.runs), 1.0))

        state_dir = Path(tmp) / "world"
        t0 = time.perf_counter()
        generated_world(state_dir, args.events)
        load = time.perf_counter() - t0
        state = open_sandbox(state_dir)
        end = time.time()
        start = end - 8 * 86400
        server = SandboxServer(state).start()
        client = LogClient(server.url, "sandbox", "sandbox", source="127.0.0.1")
        client._isRowIp = True  # the SDK's IP detection fails when the endpoint has a port
        client.timeout = 60

        def timed(query: str, **kwargs) -> float:
            samples = []
            for _ in range(args.runs):
                t = time.perf_counter()
                resp = client.get_log(PROJECT, LOGSTORE, int(start), int(end) + 1, query=query, **kwargs)
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
        pulled_mb, pull_seconds = pull_one_shard(client, PROJECT, LOGSTORE)
        server.stop()
        state.close()

    pull_rate = pulled_mb / pull_seconds
    print(f"loaded {args.events:,} events in {load:.1f}s (not a target: benchmark set-up)")
    print(f"{'operation':<48} {'median':>9} {'target':>9}  ok")
    failed = 0
    for name, seconds, target in results:
        ok = target is None or seconds <= target
        failed += not ok
        target_text = f"{target * 1000:.0f}ms" if target else "-"
        print(f"{name:<48} {seconds * 1000:>7.0f}ms {target_text:>9}  {'yes' if ok else 'NO'}")
    pull_ok = pull_rate >= PULL_TARGET
    failed += not pull_ok
    print(f"{'PullLogs, one shard, raw log groups':<48} {pull_rate:>6.1f}MB/s {PULL_TARGET:>6.0f}MB/s  "
          f"{'yes' if pull_ok else 'NO'}   ({pulled_mb:.0f} MB in {pull_seconds:.1f}s)")
    selective_seconds = next(s for name, s, _ in results if name.startswith("GetLogs selective"))
    record(args.summary, f"sandbox GetLogs, selective search over {args.events:,} events", selective_seconds, "s",
           target="< 1 s", ok=selective_seconds <= 1.0)
    record(args.summary, "sandbox PullLogs, raw log groups from one shard", pull_rate, "MB/s",
           target=f"≥ {PULL_TARGET:.0f} MB/s", ok=pull_ok)
    return 1 if failed else 0


def pull_one_shard(client, project: str, logstore: str) -> tuple[float, float]:
    """Read shard 0 from its beginning to its end with PullLogs, 1000 log groups per call, as an
    export does; the SDK decodes the body lazily, so this times the sandbox, HTTP and lz4 only.
    Returns (MB of raw log groups, seconds)."""
    cursor = client.get_begin_cursor(project, logstore, 0).get_cursor()
    end = client.get_end_cursor(project, logstore, 0).get_cursor()
    raw = 0
    started = time.perf_counter()
    while True:
        resp = client.pull_logs(project, logstore, 0, cursor, count=1000, end_cursor=end)
        raw += resp.get_raw_size()
        if resp.get_next_cursor() == cursor:
            break
        cursor = resp.get_next_cursor()
    return raw / 1e6, time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
