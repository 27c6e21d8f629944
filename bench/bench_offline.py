"""Offline analysis: `ackaudit query|report --source FILE` over a large export, against the same
question asked of the file with DuckDB directly.

Run: python bench/bench_offline.py [--events N] [--workdir DIR] [--summary FILE]

The events come from ackaudit.sandbox.generate.generate_events (as bench/bench_export.py's world) and
are written once by the export code itself (export_events: the jsonl and csv exports; the parquet
export is converted from the jsonl one as `export` converts its stage), without the sandbox's HTTP in between. With
--workdir the files are kept there and reused by the next run with the same --events.

Measured, each the median of --runs runs of a fresh process (the whole CLI), with the peak RSS of
that process (os.wait4's rusage):
  query --source FILE --process rm --limit 0 -o jsonl, against a Python process that imports duckdb
  and fetches the same rows with one SELECT (the same file, the same filter, newest first);
  report --source FILE -o json.
Each run has an empty cache folder of its own, so a jsonl or csv source is converted every time; for
those the same two are then measured again with the conversion kept from a first run (as a second
command on the same file finds it).
Targets, for each format: query within 5x of the direct DuckDB query; report under 2 s; peak RSS
under 300 MB. Exit status 1 when one is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from summary import record  # noqa: E402

DAY = 86400
QUERY_RATIO = 5.0          # query --source / the direct DuckDB query
REPORT_SECONDS = 2.0
RSS_MB = 300.0

DIRECT = """
import sys, duckdb
db = duckdb.connect()
reader = {"parquet": "read_parquet(?)", "jsonl": "read_json(?, format = 'newline_delimited')",
          "csv": "read_csv(?)"}[sys.argv[1].rsplit(".", 1)[-1]]
rows = db.execute(f'SELECT * FROM {reader} WHERE "process.name" = ? ORDER BY "__time__" DESC',
                  [sys.argv[1], sys.argv[2]]).fetchall()
print(len(rows))
"""


def make_files(workdir: Path, events: int) -> dict[str, Path]:
    from ackaudit.audit.risky import builtin_catalogue
    from ackaudit.sandbox.generate import generate_events
    from ackaudit.services.archive import copy_to_parquet, export_events
    from ackaudit.services.files import output_target

    files = _files(workdir)
    stamp = workdir / "events.json"
    if stamp.exists() and json.loads(stamp.read_text()) == {"events": events} and all(f.exists() for f in files.values()):
        print(f"reusing the exports of {events:,} events in {workdir}")
        return files
    end = time.time() - 60
    started = time.perf_counter()
    for fmt in ("jsonl", "csv"):
        export_events(generate_events(events, seed=5, start=end - 7 * DAY, end=end),
                      output_target(str(files[fmt]), force=True), fmt, int(end - 7 * DAY), int(end) + 1,
                      redact=True, catalogue=builtin_catalogue(), csv_order=[])
    copy_to_parquet([files["jsonl"]], files["parquet"])
    stamp.write_text(json.dumps({"events": events}))
    print(f"{events:,} events generated and exported in {time.perf_counter() - started:.0f}s "
          "(benchmark set-up, not measured)")
    return files


def _files(workdir: Path) -> dict[str, Path]:
    return {fmt: workdir / f"audit.{fmt}" for fmt in ("parquet", "jsonl", "csv")}


def timed(argv: list[str], cache: str | None = None) -> tuple[float, float, bytes]:
    """(wall seconds, peak RSS in MB, stdout) of one child process, its cache folder `cache` (by
    default an empty one, so a jsonl or csv source is converted again)."""
    with tempfile.TemporaryDirectory(prefix="ackaudit-bench-cache-") as empty:
        env = {**os.environ, "XDG_CACHE_HOME": cache or empty}
        return _timed(argv, env)


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, bytes]:
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {stderr}")
        out.seek(0)
        printed = out.read()
    return seconds, usage.ru_maxrss / 1024, printed


def median_of(runs: int, argv: list[str], cache: str | None = None) -> tuple[float, float, bytes]:
    """The median time and the highest peak RSS of `runs` runs, and what the first printed."""
    measured = [timed(argv, cache) for _ in range(runs)]
    return (statistics.median(m[0] for m in measured), max(m[1] for m in measured), measured[0][2])


def _rows(fmt: str, when: str, found: int, n: str, query: tuple[float, float], direct: tuple[float, float],
          report: tuple[float, float]) -> list[tuple]:
    (q_seconds, q_rss), (d_seconds, d_rss), (r_seconds, r_rss) = query, direct, report
    ratio = q_seconds / d_seconds
    return [
        (f"query --source {fmt}{when} --process rm --limit 0 ({found:,} of {n} events)", q_seconds, "s",
         d_seconds, "DuckDB SELECT in a Python process", ratio, f"≤ {QUERY_RATIO:g}×", ratio <= QUERY_RATIO),
        (f"report --source {fmt}{when} ({n} events)", r_seconds, "s", None, "", None,
         f"< {REPORT_SECONDS:g} s", r_seconds < REPORT_SECONDS),
        (f"peak RSS, query --source {fmt}{when}", q_rss, "MB", d_rss, "the DuckDB SELECT", q_rss / d_rss,
         f"< {RSS_MB:g} MB", q_rss < RSS_MB),
        (f"peak RSS, report --source {fmt}{when}", r_rss, "MB", None, "", None, f"< {RSS_MB:g} MB", r_rss < RSS_MB),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="generated events in the export")
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement (the median is kept)")
    parser.add_argument("--workdir", help="keep the exports here and reuse them (default: a temporary directory)")
    parser.add_argument("--summary", help="append the headline figures to this file (bench/summary.py)")
    parser.add_argument("--generate-into", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_into:
        make_files(Path(args.generate_into), args.events)
        return 0

    with tempfile.TemporaryDirectory(prefix="ackaudit-bench-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        # In a process of its own: this one stays small, and the children it measures start small
        # (a child's peak RSS counts what it shares with its parent before exec).
        subprocess.run([sys.executable, __file__, "--events", str(args.events), "--generate-into", str(workdir)],
                       check=True)
        files = _files(workdir)
        ackaudit = [sys.executable, "-m", "ackaudit"]
        rows = []          # (name, ackaudit seconds or MB, unit, baseline, against, ratio, target, ok)
        for fmt, path in files.items():
            query = [*ackaudit, "query", "--source", str(path), "--process", "rm", "--limit", "0", "-o", "jsonl"]
            direct = [sys.executable, "-c", DIRECT, str(path), "rm"]
            q_seconds, q_rss, printed = median_of(args.runs, query)
            found = printed.count(b"\n")
            d_seconds, d_rss, d_found = median_of(args.runs, direct)
            if int(d_found) != found:
                raise SystemExit(f"{fmt}: ackaudit found {found} events, DuckDB {d_found}")
            r_seconds, r_rss, _ = median_of(args.runs, [*ackaudit, "report", "--source", str(path), "-o", "json"])
            n = f"{args.events:,}"
            rows += _rows(fmt, "", found, n, (q_seconds, q_rss), (d_seconds, d_rss), (r_seconds, r_rss))
            if fmt != "parquet":
                # The conversion is kept for the next command on the same file: the same questions again.
                kept = str(workdir / "kept-cache")
                timed(query, kept)
                again_q = median_of(args.runs, query, kept)
                again_r = median_of(args.runs, [*ackaudit, "report", "--source", str(path), "-o", "json"], kept)
                rows += _rows(fmt, ", again (conversion kept)", found, n, again_q[:2], (d_seconds, d_rss), again_r[:2])

    print(f"{'measured':<58} {'ackaudit':>10} {'DuckDB':>10} {'ratio':>7}  {'target':<9} ok")
    for name, value, unit, baseline, against, ratio, target, ok in rows:
        base = f"{baseline:.2f} {unit}" if baseline is not None else "-"
        shown_ratio = f"{ratio:.2f}×" if ratio is not None else "-"
        print(f"{name:<58} {value:>7.2f} {unit:<2} {base:>10} {shown_ratio:>7}  {target:<9} {'yes' if ok else 'NO'}")
        record(args.summary, name, round(value, 3), unit, baseline=None if baseline is None else round(baseline, 3),
               against=against,
               ratio=None if ratio is None else round(ratio, 2), target=target, ok=ok)
    return 0 if all(row[-1] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
