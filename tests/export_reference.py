"""The per-row export as it was before field plans, parallel shards and line building: kept as the
reference the fast path must match event for event, field for field (tests/cli/test_export.py).

It reads the shards one after another and turns every raw row into a flat event with
`flatten_event`, `full_time`, `risk_of` and `redact_event`, then writes it with `json.dumps`, the csv
module or a DuckDB COPY of staged JSON lines. Slow, simple and obviously right: do not optimise it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ackaudit.audit.escape import csv_cell
from ackaudit.audit.fields import FIELD_NAMES, FIELDS, flatten_event
from ackaudit.audit.redact import redact_event
from ackaudit.audit.risky import risk_of
from ackaudit.services.investigate import full_time

CLOCK_SKEW = 300
LATE_ARRIVAL = 900


def pulled_rows(sls: Any, project: str, logstore: str, from_time: int, to_time: int, *,
                now: float) -> Iterator[dict[str, str]]:
    """Every raw row of the window, shard by shard, in arrival order."""
    last_receive = to_time + LATE_ARRIVAL
    for shard in sls.shard_ids(project, logstore):
        cursor = sls.cursor_at(project, logstore, shard, max(0, from_time - CLOCK_SKEW))
        end_cursor = sls.cursor_at(project, logstore, shard, "end" if last_receive >= now else last_receive)
        while True:
            pulled = sls.pull_logs(project, logstore, shard, cursor, end_cursor=end_cursor, count=1000)
            yield from (row for row in pulled.rows if from_time <= int(row["__time__"]) < to_time)
            if pulled.next_cursor == cursor:
                break
            cursor = pulled.next_cursor


def events(rows: Iterator[dict[str, Any]], *, redact: bool, catalogue: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for row in rows:
        event = full_time(flatten_event(row))
        risk = risk_of(event, catalogue)
        if redact:
            event = redact_event(event)
        event["risk"] = asdict(risk) if risk else None
        yield event


def csv_columns(leading: Sequence[str]) -> list[str]:
    rest = [name for name in ("__time__", *FIELD_NAMES) if name not in leading]
    return [*leading, *rest]


def _csv_cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key == "risk":
        return value.get("name", "") if isinstance(value, dict) else str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


PARQUET_TYPES = {
    "__time__": "BIGINT",
    "time": "TIMESTAMPTZ",
    "k8s.user.groups": "VARCHAR[]",
    "k8s.pod.labels": "MAP(VARCHAR, VARCHAR)",
    "kubeObject.operation.podExecOptions.command": "VARCHAR[]",
    "risk": "STRUCT(name VARCHAR, category VARCHAR, reason VARCHAR)",
    **{f.name: {"long": "BIGINT", "bool": "BOOLEAN", "json": "JSON"}[f.value_type]
       for f in FIELDS if f.value_type != "text" and f.name not in
       ("k8s.user.groups", "k8s.pod.labels", "kubeObject.operation.podExecOptions.command")},
}


def write(events_: Iterator[dict[str, Any]], path: Path, fmt: str, csv_order: Sequence[str]) -> int:
    """Write the events as the per-row export did; the number written."""
    written = 0
    if fmt == "csv":
        columns = csv_columns(csv_order)
        with open(path, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(columns)
            for event in events_:
                writer.writerow([csv_cell(_csv_cell(key, event.get(key))) for key in columns])
                written += 1
        return written
    lines = path if fmt == "jsonl" else path.with_name(path.name + ".stage.jsonl")
    with open(lines, "w", encoding="utf-8", newline="\n") as out:
        for event in events_:
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
            written += 1
    if fmt == "parquet":
        import duckdb

        columns = {name: PARQUET_TYPES.get(name, "VARCHAR") for name in ("__time__", *FIELD_NAMES, "risk")}
        with duckdb.connect() as db:
            db.execute("SET TimeZone = 'UTC'")
            db.execute(f"COPY (SELECT * FROM read_json(?, format = 'newline_delimited', columns = ?)) "
                       f"TO '{str(path).replace(chr(39), chr(39) * 2)}' (FORMAT parquet, COMPRESSION zstd)",
                       [str(lines), columns])
        lines.unlink()
    return written
