"""Export throughput and memory: the real CLI exporting a large generated logstore from the sandbox,
through the SLS SDK over real HTTP, against what a user would run instead, Alibaba Cloud's own
`aliyunlog log pull_log_dump`, over the same logstore and window in the same run.

Run: python bench/bench_export.py [--events N] [--summary FILE] [--reads]
Targets: every format (jsonl, csv, parquet) at least 2x the events/s of `aliyunlog log pull_log_dump`,
and a peak memory under 200 MB. Both are measured on whole CLI processes, with the sandbox serving from
the same machine (in this process). Peak memory is the peak RSS of the command's largest process: for
ackaudit its main process, the shard readers it forks and the parquet converter; for pull_log_dump its
main process and its per-shard workers. CPU is the command's and its children's, not the sandbox's.

The official CLI is looked for in $ALIYUNLOG, then on PATH, then in .venv-aliyunlog/ here. It runs in
HTTP_PROXY mode against the sandbox, configured in a temporary home directory (its own config file
there), so the user's ~/.aliyunlogcli is never read or written. To install it:
    python3 -m venv .venv-aliyunlog && .venv-aliyunlog/bin/pip install aliyun-log-cli
--reads adds the two ways of reading a logstore in bulk (PullLogs by cursor, GetLogs by page) and
loading an export back with --source (no targets).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from summary import record  # noqa: E402
from world import generated_world  # noqa: E402

DAY = 86400
RATIO_TARGET = 2.0          # ackaudit's events/s over pull_log_dump's
MEMORY_TARGET = 200         # MB, peak RSS of the exporting process
BASELINE = "aliyunlog log pull_log_dump"
INSTALL = "python3 -m venv .venv-aliyunlog && .venv-aliyunlog/bin/pip install aliyun-log-cli"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    name: str
    events: int
    seconds: float
    peak_mb: float
    cpu: float              # seconds, the process and its children (not the sandbox)

    @property
    def rate(self) -> float:
        return self.events / self.seconds


# The command runs under a small Python parent that reports its peak RSS: Linux carries a process's
# peak RSS over fork and exec, so a child forked straight from this (large) process would report ours.
# It reports the CPU time of the command and its children too.
_PEAK = ("import os, sys; pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ); _, status, usage = "
         "os.wait4(pid, 0); open(sys.argv[1], 'w').write(f'{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}'); "
         "sys.exit(os.waitstatus_to_exitcode(status))")


def measured(command: list[str], env: dict[str, str], out: Path) -> tuple[float, float, float, str]:
    """Run `command` to completion: (wall seconds, peak RSS in MB of it or its largest child, CPU
    seconds of it and its children, stdout)."""
    peak = out.with_suffix(".peak")
    program = shutil.which(command[0]) or command[0]
    with open(out, "w+", encoding="utf-8") as stdout, tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-S", "-c", _PEAK, str(peak), program, *command[1:]], stdout=stdout,
                             stderr=stderr, env=env, text=True)
        seconds = time.perf_counter() - started
        if run.returncode != 0:
            stderr.seek(0)
            raise SystemExit(f"{' '.join(command[:4])} ... failed ({run.returncode}):\n{stderr.read()[-2000:]}")
        stdout.seek(0)
        rss, cpu = peak.read_text().split()
        return seconds, int(rss) / 1024, float(cpu), stdout.read()


def export_run(env: dict[str, str], cluster: str, out: Path, fmt: str) -> Run:
    seconds, peak, cpu, stdout = measured([sys.executable, "-m", "ackaudit", "export", "--cluster", cluster, "--since", "8d",
                                      "--out", str(out), "-o", "json"], env, out.with_suffix(".summary"))
    return Run(f"ackaudit export -> {fmt}", json.loads(stdout)["events"], seconds, peak, cpu)


def find_aliyunlog() -> str | None:
    given = os.environ.get("ALIYUNLOG")
    if given:
        return given if shutil.which(given) else None
    local = ROOT / ".venv-aliyunlog" / "bin" / "aliyunlog"
    return shutil.which("aliyunlog") or (str(local) if local.exists() else None)


def baseline_run(aliyunlog: str, server_url: str, env: dict[str, str], project: str, logstore: str,
                 from_time: int, work: Path) -> Run:
    """`aliyunlog log pull_log_dump` of the same logstore from the same cursor, one file per shard."""
    home = work / "aliyunlog-home"            # its config file lives here, never in the user's home
    home.mkdir()
    plain = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}
    subprocess.run([aliyunlog, "configure", env["ALIBABA_CLOUD_ACCESS_KEY_ID"], env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
                    f"{env['ALIBABA_CLOUD_REGION_ID']}.log.aliyuncs.com"], env=plain, check=True,
                   capture_output=True)
    proxied = {**plain, "HTTP_PROXY": server_url, "http_proxy": server_url, "NO_PROXY": "127.0.0.1,localhost"}
    dump = work / "dump"
    dump.mkdir()
    seconds, peak, cpu, _ = measured([aliyunlog, "log", "pull_log_dump", f"--project_name={project}",
                                 f"--logstore_name={logstore}", f"--from_time={from_time}", "--to_time=end",
                                 f"--file_path={dump}/shard_{{}}.json", "--batch_size=1000"], proxied,
                                work / "aliyunlog.out")
    events = 0
    for part in dump.iterdir():
        with open(part, "rb") as handle:
            events += sum(chunk.count(b"\n") for chunk in iter(lambda h=handle: h.read(1 << 20), b""))
    return Run(BASELINE, events, seconds, peak, cpu)


def reads(env: dict[str, str], project: str, logstore: str, parquet: Path, pages: int) -> list[tuple[str, int, float]]:
    from ackaudit.cloud.credentials import resolve_credentials
    from ackaudit.cloud.endpoints import sls_endpoint
    from ackaudit.cloud.sls import SlsClient
    from ackaudit.services.archive import FileSource, read_window
    from ackaudit.services.investigate import LogstoreSource, run_query

    sls = SlsClient(env["ALIBABA_CLOUD_REGION_ID"], sls_endpoint(env["ALIBABA_CLOUD_REGION_ID"], env),
                    resolve_credentials(None, env))
    now, out = time.time(), []
    t = time.perf_counter()
    pulled = sum(1 for _ in read_window(sls, project, logstore, int(now - 8 * DAY), int(now), now=now))
    out.append(("read by cursor: GetCursor + PullLogs", pulled, time.perf_counter() - t))
    t = time.perf_counter()
    paged = run_query(LogstoreSource(sls, project, logstore), "*", int(now - 8 * DAY), int(now), limit=pages,
                      oldest_first=True)
    out.append(("read by page: GetLogs, 100 per page", len(paged.events), time.perf_counter() - t))
    t = time.perf_counter()
    source = FileSource(str(parquet))
    out.append(("load an export for --source (parquet)", source.count, time.perf_counter() - t))
    source.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="generated events in the logstore")
    parser.add_argument("--summary", help="append the headline figures to this file (bench/summary.py)")
    parser.add_argument("--reads", action="store_true", help="also time PullLogs and GetLogs reads and --source")
    parser.add_argument("--pages-events", type=int, default=20_000,
                        help="with --reads: events read by GetLogs paging (it slows down with depth, so fewer)")
    args = parser.parse_args()
    if args.events < 1:
        parser.error("--events must be at least 1")

    from ackaudit.sandbox import open_sandbox
    from ackaudit.sandbox.server import SandboxServer
    from ackaudit.sandbox.world_clusters import AUDITED_CLUSTER_ID

    cluster = AUDITED_CLUSTER_ID
    project, logstore = f"k8s-log-{cluster}", f"advaudit-{cluster}"
    aliyunlog = find_aliyunlog()
    runs: list[Run] = []
    extra: list[tuple[str, int, float]] = []
    baseline: Run | None = None
    with tempfile.TemporaryDirectory(prefix="ackaudit-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        total = generated_world(work / "world", args.events)
        load = time.perf_counter() - t0
        state = open_sandbox(work / "world")
        server = SandboxServer(state).start()
        env = {**os.environ, **server.client_env()}
        try:
            from_time = int(time.time() - 8 * DAY) - 300     # where `export --since 8d` starts reading
            runs.append(export_run(env, cluster, work / "audit.jsonl", "jsonl"))
            (work / "audit.jsonl").unlink()
            if aliyunlog:
                baseline = baseline_run(aliyunlog, server.url, env, project, logstore, from_time, work)
                shutil.rmtree(work / "dump")
            for fmt in ("csv", "parquet"):
                runs.append(export_run(env, cluster, work / f"audit.{fmt}", fmt))
            (work / "audit.csv").unlink()
            if args.reads:
                extra = reads(env, project, logstore, work / "audit.parquet", args.pages_events)
        finally:
            server.stop()
            state.close()

    print(f"logstore of {total:,} events generated in {load:.1f}s (not a target: benchmark set-up)")
    if baseline is None:
        print(f"{BASELINE}: NOT INSTALLED, so the events/s targets are not checked. Install it with\n"
              f"    {INSTALL}\nor point ALIYUNLOG at its aliyunlog executable.")
    print(f"{'export':<34} {'events':>10} {'seconds':>8} {'events/s':>9} {'ratio':>6} {'target':>7} "
          f"{'peak MB':>8} {'target':>7} {'CPU s':>6}  ok")
    missed = 0
    for run in ([baseline] if baseline else []) + runs:
        is_baseline = run is baseline
        ratio = run.rate / baseline.rate if baseline and not is_baseline else None
        rate_ok = ratio is None or ratio >= RATIO_TARGET
        memory_ok = is_baseline or run.peak_mb < MEMORY_TARGET
        ok = "-" if is_baseline else ("yes" if rate_ok and memory_ok else "NO")
        missed += ok == "NO"
        print(f"{run.name:<34} {run.events:>10,} {run.seconds:>8.1f} {run.rate:>9,.0f} "
              f"{'-' if ratio is None else f'{ratio:.2f}x':>6} {'-' if is_baseline else f'>= {RATIO_TARGET:g}x':>7} "
              f"{run.peak_mb:>8.0f} {'-' if is_baseline else f'< {MEMORY_TARGET}':>7} {run.cpu:>6.1f}  {ok}")
        if is_baseline:
            continue
        fmt = run.name.rsplit(" ", 1)[-1]
        record(args.summary, f"export {run.events:,} events to {fmt}", round(run.rate), "events/s",
               baseline=round(baseline.rate) if baseline else None,
               against=BASELINE if baseline else f"{BASELINE} not installed",
               ratio=round(ratio, 2) if ratio is not None else None, target=f"≥ {RATIO_TARGET:g}×",
               ok=(ratio >= RATIO_TARGET) if ratio is not None else None)
        record(args.summary, f"export {run.events:,} events to {fmt}: peak memory", round(run.peak_mb), "MB",
               baseline=round(baseline.peak_mb) if baseline else None,
               against=BASELINE if baseline else f"{BASELINE} not installed",
               ratio=round(run.peak_mb / baseline.peak_mb, 2) if baseline else None,
               target=f"< {MEMORY_TARGET} MB", ok=memory_ok)
    if baseline and any(run.events != baseline.events for run in runs):
        print(f"note: {BASELINE} wrote {baseline.events:,} events, ackaudit {runs[0].events:,}: it reads the "
              "same cursors but does not drop rows outside the window")
    for name, count, seconds in extra:
        print(f"{name:<42} {count:>10,} {seconds:>8.2f} s {count / seconds:>10,.0f} events/s")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
