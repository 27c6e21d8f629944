"""What every cluster command pays before its own work, and how well `report` runs its statements at once.

Run: python bench/bench_cluster.py [--runs N] [--events N] [--summary FILE]

1. Fixed cost: `ackaudit query --cluster ID --since 1m` on the audited cluster (a one-minute window, so
   almost nothing is searched), median of N runs, minus the median of `ackaudit --help` (Python and
   Typer start-up). Cold: no remembered SLS project (each run discovers it); warm: the project
   remembered from the run before. The sandbox is served by this process, as `ackaudit sandbox start`
   would, so the figure is the CLI's and not the sandbox's start-up. Target: < 0.2 s, cold and warm.
   `status` is shown too, without a target: it also reads node coverage (nodes, DaemonSets, pods).
2. Report concurrency, over a generated logstore of --events events (default 1,000,000): every
   statement the report runs is recorded, then timed alone through the same SLS client; the whole
   `ackaudit report` (the real CLI) is timed too. Target: the report takes at most 1.3x its slowest
   statement plus the CLI's start-up (a warm `query`'s wall time). The sandbox's engine (DuckDB)
   uses every core for each statement, so on a small machine statements cannot overlap much;
   `--engine-threads 1` gives each statement one core, as if each ran on a server of its own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from summary import record  # noqa: E402
from world import generated_world  # noqa: E402

DAY = 86400
FIXED_TARGET = 0.2          # seconds over `ackaudit --help`
REPORT_TARGET = 1.3         # report wall time / (slowest statement + start-up)


def _command() -> list[str]:
    exe = shutil.which("ackaudit")
    return [exe] if exe else [sys.executable, "-m", "ackaudit"]


def _median_run(args: list[str], env: dict[str, str], runs: int, before=None) -> tuple[float, float]:
    """(median, fastest) wall time of the CLI with `args`; `before()` runs before each (not timed)."""
    cmd = _command() + args
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"`ackaudit {' '.join(args)}` failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return statistics.median(times), min(times)


def fixed_cost(env: dict[str, str], cluster: str, runs: int, cache: Path) -> dict[str, tuple[float, float]]:
    query = ["query", "--cluster", cluster, "--since", "1m"]
    out: dict[str, tuple[float, float]] = {}
    subprocess.run(_command() + ["--help"], capture_output=True, env=env)      # warm the file and bytecode caches
    subprocess.run(_command() + query, capture_output=True, env=env)
    out["help"] = _median_run(["--help"], env, runs)
    out["cold"] = _median_run(query, env, runs, before=lambda: shutil.rmtree(cache, ignore_errors=True))
    subprocess.run(_command() + query, capture_output=True, env=env)          # remember the project
    out["warm"] = _median_run(query, env, runs)
    out["status"] = _median_run(["status", "--cluster", cluster], env, max(3, runs // 3))
    return out


def _iso(epoch: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


class _Recording:
    """An event source that notes every request the report makes, passing each on."""

    def __init__(self, inner) -> None:
        self.inner, self.description, self.requests = inner, inner.description, []

    def get(self, query, from_time, to_time, **kwargs):
        self.requests.append((query, from_time, to_time, kwargs))
        return self.inner.get(query, from_time, to_time, **kwargs)


def report_statements(env: dict[str, str], cluster: str, from_time: int, to_time: int) -> list[tuple[str, float]]:
    """Each request the report makes, timed alone (slowest first)."""
    from ackaudit.audit.risky import builtin_catalogue
    from ackaudit.cloud.credentials import resolve_credentials
    from ackaudit.cloud.endpoints import sls_endpoint
    from ackaudit.cloud.sls import SlsClient
    from ackaudit.services.investigate import LogstoreSource
    from ackaudit.services.report import build_report, region_zone

    region = env["ALIBABA_CLOUD_REGION_ID"]
    sls = SlsClient(region, sls_endpoint(region, env), resolve_credentials(None, env))
    source = _Recording(LogstoreSource(sls, f"k8s-log-{cluster}", f"advaudit-{cluster}", cluster))
    build_report(source, from_time, to_time, catalogue=builtin_catalogue(), zone=region_zone(region, to_time),
                 now=time.time(), cluster_id=cluster)
    timed = []
    for query, start, end, kwargs in source.requests:
        t0 = time.perf_counter()
        source.inner.get(query, start, end, **kwargs)
        timed.append((query, time.perf_counter() - t0))
    return sorted(timed, key=lambda item: -item[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="runs per fixed-cost figure (median)")
    parser.add_argument("--events", type=int, default=1_000_000, help="generated events for the report")
    parser.add_argument("--report-runs", type=int, default=3)
    parser.add_argument("--engine-threads", type=int, default=0,
                        help="threads the sandbox's DuckDB may use per statement (default: all cores)")
    parser.add_argument("--summary", help="append the headline figures to this file (bench/summary.py)")
    args = parser.parse_args()

    from ackaudit.sandbox import open_sandbox
    from ackaudit.sandbox.server import SandboxServer
    from ackaudit.sandbox.world_clusters import AUDITED_CLUSTER_ID

    cluster = AUDITED_CLUSTER_ID
    failed = 0
    with tempfile.TemporaryDirectory(prefix="ackaudit-bench-") as tmp:
        cache = Path(tmp) / "cache"
        base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        base_env.update({"XDG_CACHE_HOME": str(cache), "HOME": tmp})

        # -- 1. fixed cost, over the seeded world ------------------------------------------------
        state = open_sandbox(Path(tmp) / "world")
        server = SandboxServer(state).start()
        try:
            env = {**base_env, **server.client_env()}
            costs = fixed_cost(env, cluster, args.runs, cache)
        finally:
            server.stop()
            state.close()
        help_median = costs["help"][0]
        print(f"{'command':<52} {'median':>8} {'fastest':>8} {'over --help':>12} {'target':>8}  ok")
        print(f"{'ackaudit --help':<52} {costs['help'][0]:>7.3f}s {costs['help'][1]:>7.3f}s {'':>12} {'':>8}")
        for key, label in (("cold", "query --since 1m (project discovered: cold)"),
                           ("warm", "query --since 1m (project remembered: warm)"),
                           ("status", "status (reads nodes, DaemonSets and pods)")):
            median, fastest = costs[key]
            over = median - help_median
            target = FIXED_TARGET if key != "status" else None
            ok = None if target is None else over < target
            failed += ok is False
            print(f"{'ackaudit ' + label:<52} {median:>7.3f}s {fastest:>7.3f}s {over:>11.3f}s "
                  f"{'< 0.2s' if target else '-':>8}  {'-' if ok is None else 'yes' if ok else 'NO'}")
            if target is not None:
                record(args.summary, f"cluster command fixed cost ({key} project cache), over --help",
                       round(over, 3), "s", target="< 0.2 s", ok=ok)

        # -- 2. report concurrency, over a generated logstore -------------------------------------
        big = Path(tmp) / "big"
        t0 = time.perf_counter()
        total = generated_world(big, args.events)
        load = time.perf_counter() - t0
        state = open_sandbox(big)
        if args.engine_threads:
            state.events.query(f"k8s-log-{cluster}", f"advaudit-{cluster}", "*", 0, 1)   # opens the database
            state.events._db.execute(f"SET threads = {int(args.engine_threads)}")
        server = SandboxServer(state).start()
        try:
            env = {**base_env, **server.client_env()}
            to_time = int(time.time())
            from_time = to_time - 8 * DAY
            window = ["--from", _iso(from_time), "--to", _iso(to_time)]
            statements = report_statements(env, cluster, from_time, to_time)
            warm_query = _median_run(["query", "--cluster", cluster, "--since", "1m"], env, 5)[0]
            report = _median_run(["report", "--cluster", cluster, *window, "-o", "json"], env, args.report_runs)[0]
        finally:
            server.stop()
            state.close()
    slowest = statements[0][1]
    baseline = slowest + warm_query
    ratio = report / baseline
    ok = ratio <= REPORT_TARGET
    failed += not ok
    print()
    print(f"logstore of {total:,} events generated in {load:.0f}s (set-up, not a target)")
    print(f"report requests, each timed alone ({len(statements)}; sum {sum(s for _, s in statements):.2f}s):")
    for query, seconds in statements:
        print(f"  {seconds:>6.2f}s  {query[:110]}")
    print(f"{'measured':<52} {'seconds':>8}")
    print(f"{'slowest statement alone':<52} {slowest:>7.2f}s")
    print(f"{'start-up (warm query --since 1m)':<52} {warm_query:>7.2f}s")
    print(f"{'ackaudit report, whole CLI (median)':<52} {report:>7.2f}s")
    total_alone = sum(s for _, s in statements)
    print(f"report / (slowest + start-up) = {ratio:.2f}x, target <= {REPORT_TARGET}x: {'yes' if ok else 'NO'}")
    print(f"report / (every statement one after another + start-up) = {report / (total_alone + warm_query):.2f}x "
          f"(not a target: 1x is no overlap at all)")
    threads = f", engine threads {args.engine_threads}" if args.engine_threads else ""
    record(args.summary, f"report over {total:,} events vs its slowest statement + start-up{threads}", round(report, 3), "s",
           baseline=round(baseline, 3), against="slowest statement alone + start-up", ratio=round(ratio, 3),
           target=f"≤ {REPORT_TARGET}×", ok=ok)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
