"""Export throughput: the real CLI exporting a large generated logstore from the sandbox, through the SLS
SDK over real HTTP; the two ways of reading a logstore in bulk (PullLogs by cursor, GetLogs by page);
and loading an export back with --source.

Run: python bench/bench_export.py [--events N] [--pages-events N]
Target: the whole CLI exports at least 2,500 events/s to jsonl and to parquet, with the sandbox
serving from the same machine (on a 2-core runner it takes about a third of the CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DAY = 86400
EXPORT_TARGET = 2500      # events/s


def load_world(state_dir: Path, events: int) -> float:
    from ackaudit.sandbox import open_sandbox
    from ackaudit.sandbox.generate import generate_events
    from ackaudit.sandbox.world_clusters import AUDITED_CLUSTER_ID

    state = open_sandbox(state_dir)
    project, logstore = f"k8s-log-{AUDITED_CLUSTER_ID}", f"advaudit-{AUDITED_CLUSTER_ID}"
    end = time.time() - 60
    batch: list[dict] = []
    for row in generate_events(events, seed=5, start=end - 7 * DAY, end=end):
        batch.append(row)
        if len(batch) == 50_000:
            state.events.append(project, logstore, batch)
            batch = []
    if batch:
        state.events.append(project, logstore, batch)
    total = state.events.count(project, logstore)
    state.close()
    return total


def export_seconds(env: dict[str, str], cluster: str, out: Path) -> tuple[float, int]:
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "ackaudit", "export", "--cluster", cluster, "--since", "8d",
                          "--out", str(out), "-o", "json"], capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - started, json.loads(run.stdout)["events"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="generated events in the logstore")
    parser.add_argument("--pages-events", type=int, default=20_000,
                        help="events read by GetLogs paging (it slows down with depth, so fewer)")
    args = parser.parse_args()

    from ackaudit.cloud.credentials import resolve_credentials
    from ackaudit.cloud.endpoints import sls_endpoint
    from ackaudit.cloud.sls import SlsClient
    from ackaudit.sandbox import open_sandbox
    from ackaudit.sandbox.server import SandboxServer
    from ackaudit.sandbox.world_clusters import AUDITED_CLUSTER_ID
    from ackaudit.services.archive import FileSource, read_window
    from ackaudit.services.investigate import LogstoreSource, run_query

    cluster = AUDITED_CLUSTER_ID
    project, logstore = f"k8s-log-{cluster}", f"advaudit-{cluster}"
    results: list[tuple[str, int, float, int | None]] = []
    with tempfile.TemporaryDirectory(prefix="ackaudit-bench-") as tmp:
        state_dir = Path(tmp) / "world"
        t0 = time.perf_counter()
        total = load_world(state_dir, args.events)
        load = time.perf_counter() - t0
        state = open_sandbox(state_dir)
        server = SandboxServer(state).start()
        env = {**os.environ, **server.client_env()}
        try:
            for fmt in ("jsonl", "parquet"):
                seconds, written = export_seconds(env, cluster, Path(tmp) / f"audit.{fmt}")
                results.append((f"ackaudit export -> {fmt} (whole CLI)", written, seconds, EXPORT_TARGET))

            sls = SlsClient(env["ALIBABA_CLOUD_REGION_ID"], sls_endpoint(env["ALIBABA_CLOUD_REGION_ID"], env),
                            resolve_credentials(None, env))
            now = time.time()
            t = time.perf_counter()
            pulled = sum(1 for _ in read_window(sls, project, logstore, int(now - 8 * DAY), int(now), now=now))
            results.append(("read by cursor: GetCursor + PullLogs", pulled, time.perf_counter() - t, None))
            t = time.perf_counter()
            paged = run_query(LogstoreSource(sls, project, logstore), "*", int(now - 8 * DAY), int(now),
                              limit=args.pages_events, oldest_first=True)
            results.append(("read by page: GetLogs, 100 per page", len(paged.events), time.perf_counter() - t,
                            None))

            t = time.perf_counter()
            source = FileSource(str(Path(tmp) / "audit.parquet"))
            results.append(("load an export for --source (parquet)", source.count, time.perf_counter() - t,
                            None))
            source.close()
        finally:
            server.stop()
            state.close()

    print(f"logstore of {total:,} events generated in {load:.1f}s (not a target: benchmark set-up)")
    print(f"{'operation':<42} {'events':>10} {'seconds':>9} {'events/s':>10} {'target':>8}  ok")
    failed = 0
    for name, count, seconds, target in results:
        rate = count / seconds
        ok = target is None or rate >= target
        failed += not ok
        print(f"{name:<42} {count:>10,} {seconds:>9.2f} {rate:>10,.0f} {target or '-':>8}  {'yes' if ok else 'NO'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
