"""Start-up time of the CLI: median wall time of `ackaudit --help` and friends.

Run: python bench/bench_startup.py [--runs N]
Target: `ackaudit --help` at most 150 ms (the official SLS CLI takes about 300 ms for --version).
"""

from __future__ import annotations

import argparse
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


def measure(args: list[str], runs: int) -> float:
    cmd = _command() + args
    subprocess.run(cmd, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print(f"{'command':<28} {'median':>9} {'target':>9}  ok")
    failed = 0
    for case, target in CASES:
        median = measure(case, args.runs)
        ok = median <= target
        failed += not ok
        print(f"{'ackaudit ' + ' '.join(case):<28} {median * 1000:>7.0f}ms {target * 1000:>7.0f}ms  {'yes' if ok else 'NO'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
