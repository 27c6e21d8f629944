"""Start-up time of the CLI: median wall time of `ackaudit --help` and friends.

Run: python bench/bench_startup.py [--runs N]
Target: `ackaudit --help` at most 150 ms (the official SLS CLI takes about 300 ms for --version).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

CASES = [
    (["--help"], 0.150),
    (["--version"], 0.150),
    (["query", "--help"], 0.150),
]


def _command() -> list[str]:
    exe = shutil.which("ackaudit")
    return [exe] if exe else [sys.executable, "-m", "ackaudit"]


def measure(args: list[str], runs: int) -> tuple[float, float]:
    cmd = _command() + args
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
    args = parser.parse_args()
    print(f"{'command':<28} {'median':>9} {'fastest':>9} {'target':>9}  ok (median)"
          + ("   instructions" if args.instructions else ""))
    failed = 0
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
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
