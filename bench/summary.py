"""The one table `bench/run` ends with: each benchmark records its headline figures here, and
`python bench/summary.py FILE` prints them side by side with their targets.

A benchmark given `--summary FILE` (bench/run passes one) appends one JSON line per figure:
  name      what was measured ("export 1,000,000 events to jsonl")
  ackaudit  ackaudit's figure
  baseline  the same measured for the tool a user would pick instead, or null when it was not run
  against   that tool ("aliyunlog log pull_log_dump"), or why it was not run
  unit      "s", "events/s", "MB", ...
  ratio     how ackaudit compares, written so that bigger is better for events/s and smaller is
            better for seconds and MB (the benchmark computes it: it knows which is which)
  target    the ratio or figure aimed at, as text ("≥ 2×", "< 200 MB"), and ok: whether it was met
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def record(path: str | None, name: str, ackaudit: float, unit: str, *, baseline: float | None = None,
           against: str = "", ratio: float | None = None, target: str = "", ok: bool | None = None) -> None:
    """Append one figure to the summary file (nothing when the benchmark runs on its own)."""
    if not path:
        return
    line = {"name": name, "ackaudit": ackaudit, "unit": unit, "baseline": baseline, "against": against,
            "ratio": ratio, "target": target, "ok": ok}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "events/s" or value >= 1000:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def table(rows: list[dict[str, Any]]) -> str:
    header = ("measured", "ackaudit", "instead", "ratio", "target", "ok")
    body = [(r["name"], _figure(r["ackaudit"], r["unit"]),
             f"{_figure(r['baseline'], r['unit'])} ({r['against']})" if r["against"] else _figure(r["baseline"], r["unit"]),
             "-" if r["ratio"] is None else f"{r['ratio']:.2f}×", r["target"] or "-",
             {True: "yes", False: "NO", None: "-"}[r["ok"]]) for r in rows]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
                     for line in [header, *body])


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python bench/summary.py FILE", file=sys.stderr)
        return 2
    path = Path(sys.argv[1])
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] \
        if path.exists() else []
    if not rows:
        print("no figures were recorded")
        return 1
    print(table(rows))
    return 1 if any(r["ok"] is False for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
