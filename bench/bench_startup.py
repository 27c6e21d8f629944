"""Start-up time of the CLI: median wall time of `ackaudit --help` and friends, and of the official
SLS CLI's `aliyunlog --version` when it is installed.

Run: python bench/bench_startup.py [--runs N] [--summary FILE]
Target: `ackaudit --help` at most 150 ms, and no slower than `aliyunlog --version`. The official CLI
is found through the ALIYUNLOG environment variable (the path of its `aliyunlog` command), else on
PATH; when it is not installed the table says so and the comparison is not made.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from summary import record  # noqa: E402

CASES = [
    (["--help"], 0.150),
    (["--version"], 0.150),
    (["query", "--help"], 0.150),
]


def _command() -> list[str]:
    exe = shutil.which("ackaudit")
    return [exe] if exe else [sys.executable, "-m", "ackaudit"]


def _aliyunlog() -> str | None:
    """The official SLS CLI's command: $ALIYUNLOG, else `aliyunlog` on PATH; None when neither exists."""
    given = os.environ.get("ALIYUNLOG")
    if given:
        return given if os.access(given, os.X_OK) else shutil.which(given)
    return shutil.which("aliyunlog")


def measure(args: list[str], runs: int, command: list[str] | None = None) -> tuple[float, float]:
    cmd = (command or _command()) + args
    # As on a user's machine: Python may cache compiled modules (some shells set
    # PYTHONDONTWRITEBYTECODE, which would recompile every module on every run).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(cmd, capture_output=True, check=True, env=env)  # warm the file and bytecode caches
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, env=env)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def instructions(args: list[str], env: dict[str, str]) -> int | None:
    """Instructions executed, counted by valgrind's callgrind: unlike wall time, the same on a busy
    machine, so small start-up changes can be compared. None when valgrind is not installed."""
    if not shutil.which("valgrind"):
        return None
    import re
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out",
                              *_command(), *args], capture_output=True, text=True, env=env)
    match = re.search(r"Collected : (\d+)", out.stderr)
    return int(match.group(1)) if match else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions with valgrind (slow, but immune to machine noise)")
    parser.add_argument("--summary", help="append the headline figures to this file (bench/summary.py)")
    args = parser.parse_args()
    print(f"{'command':<28} {'median':>9} {'fastest':>9} {'target':>9}  ok (median)"
          + ("   instructions" if args.instructions else ""))
    failed = 0
    help_median = 0.0
    for case, target in CASES:
        median, fastest = measure(case, args.runs)
        ok = median <= target
        failed += not ok
        counted = ""
        if args.instructions:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            n = instructions(case, env)
            counted = f"   {n / 1e6:>8.0f}M" if n else "   (no valgrind)"
        print(f"{'ackaudit ' + ' '.join(case):<28} {median * 1000:>7.0f}ms {fastest * 1000:>7.0f}ms "
              f"{target * 1000:>7.0f}ms  {'yes   ' if ok else 'NO    '}{counted}")
        if case == ["--help"]:
            help_median = median
            record(args.summary, "start-up: ackaudit --help", round(median, 3), "s", target="≤ 150 ms", ok=ok)

    official = _aliyunlog()
    if official is None:
        print("aliyunlog --version: not measured: the official SLS CLI is not installed "
              "(set ALIYUNLOG to its aliyunlog command, or put it on PATH)")
        record(args.summary, "start-up: ackaudit --help vs aliyunlog --version", round(help_median, 3), "s",
               against="aliyunlog not installed")
        return 1 if failed else 0
    median, fastest = measure(["--version"], args.runs, [official])
    ratio = help_median / median
    ok = ratio <= 1.0
    failed += not ok
    print(f"{'aliyunlog --version':<28} {median * 1000:>7.0f}ms {fastest * 1000:>7.0f}ms {'-':>9}  "
          f"(ackaudit --help takes {ratio:.2f}x its time; target <= 1x: {'yes' if ok else 'NO'})")
    record(args.summary, "start-up: ackaudit --help vs aliyunlog --version", round(help_median, 3), "s",
           baseline=round(median, 3), against="aliyunlog --version", ratio=round(ratio, 3), target="≤ 1×", ok=ok)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
