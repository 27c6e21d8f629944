"""SLS log data: GetLogs (v2 and legacy), histograms, PutLogs, cursors and PullLogs.

The events themselves live in the embedded query engine (`state.events`), numbered in arrival
order. For PullLogs they are spread over the logstore's shards by their `__time__` (second t is in
shard t modulo the shard count), as if written with that hash key: each shard holds its share in
arrival order, several shards can be read at once, and the events of one second stay together in
one shard, in their order. A cursor is the base64 text of a position in the arrival order (the same
position in every shard), which is how real cursors look too.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from ackaudit.sandbox.http import Response
from ackaudit.sandbox.sls_base import Call, SlsError, logstore_of, ok
from ackaudit.sandbox.sls_stores import existing_index, shard_count

MAX_SEARCH_LINES = 100      # GetLogs returns at most 100 raw logs per call
_PULL_MAX_GROUPS = 1000


def _query_error(e: Exception) -> SlsError:
    return SlsError(400, getattr(e, "code", "ParameterInvalid"), getattr(e, "message", str(e)))


def _require_index(call: Call) -> None:
    if existing_index(call) is None:
        raise SlsError(400, "IndexConfigNotExist", "logstore without index config")


def _time_range(start: Any, end: Any) -> tuple[int, int]:
    try:
        start, end = int(start), int(end)
    except (TypeError, ValueError):
        raise SlsError(400, "InvalidTimeRange", "request time range is invalid") from None
    if start >= end:
        raise SlsError(400, "InvalidTimeRange", "request time range is invalid")
    return start, end


def _reject_topic(topic: Any) -> None:
    if topic:
        raise SlsError(400, "ParameterInvalid", "the sandbox does not filter by topic; put __topic__ in the query")


def _run_query(call: Call, query: str, start: int, end: int, offset: int, line: int, reverse: bool):
    from ackaudit.engine.errors import QueryError

    began = time.monotonic()
    try:
        result = call.state.events.query(call.project, call.params["logstore"], query, start, end,
                                         offset=offset, line=line, reverse=reverse)
    except QueryError as e:
        raise _query_error(e) from None
    rows = result.rows
    if call.incomplete:
        rows = rows[:len(rows) // 2]
    meta = {
        "progress": "Incomplete" if call.incomplete else "Complete",
        "count": len(rows), "processedRows": result.processed_rows,
        "elapsedMillisecond": int((time.monotonic() - began) * 1000),
        "hasSQL": result.has_sql, "whereQuery": result.where_query, "aggQuery": result.agg_query,
        "keys": list(result.keys), "isAccurate": True, "powerSql": False, "cpuSec": 0.0, "cpuCores": 0,
        "mode": 0, "scanBytes": 0, "limited": 0, "processedBytes": 0, "telementryType": "logging",
    }
    return meta, rows


def get_logs_v2(call: Call) -> Response:
    logstore_of(call)
    body = call.json_object()
    start, end = _time_range(body.get("from"), body.get("to"))
    _reject_topic(body.get("topic"))
    _require_index(call)
    line, offset = body.get("line", 100), body.get("offset", 0)
    if not isinstance(line, int) or line < 0:
        raise SlsError(400, "InvalidLine", "line is invalid")
    if not isinstance(offset, int) or offset < 0:
        raise SlsError(400, "InvalidOffset", "offset is invalid")
    reverse = body.get("reverse", False)
    if not isinstance(reverse, bool):
        raise SlsError(400, "InvalidReverse", "Reverse value is invalid")
    meta, rows = _run_query(call, body.get("query") or "*", start, end, offset,
                            min(line, MAX_SEARCH_LINES), reverse)
    raw = json.dumps({"meta": meta, "data": rows}, ensure_ascii=False).encode("utf-8")
    if "lz4" in call.req.headers.get("accept-encoding", ""):
        import lz4.block

        return Response(200, lz4.block.compress(raw, store_size=False),
                        {"Content-Type": "application/json", "x-log-compresstype": "lz4",
                         "x-log-bodyrawsize": str(len(raw))})
    return Response(200, raw, {"Content-Type": "application/json"})


def get_logs_v1(call: Call) -> Response:
    """The legacy `GET /logstores/{ls}?type=log`: a JSON list, the meta in x-log-* headers."""
    logstore_of(call)
    start, end = _time_range(call.req.q("from"), call.req.q("to"))
    _reject_topic(call.req.q("topic"))
    _require_index(call)
    reverse = call.req.q("reverse", "false")
    if reverse not in ("true", "false"):
        raise SlsError(400, "InvalidReverse", "Reverse value is invalid")
    meta, rows = _run_query(call, call.req.q("query") or "*", start, end, call.int_param("offset", 0),
                            min(call.int_param("line", 100), MAX_SEARCH_LINES), reverse == "true")
    return ok(rows, headers={
        "x-log-progress": meta["progress"], "x-log-count": str(meta["count"]),
        "x-log-processed-rows": str(meta["processedRows"]),
        "x-log-elapsed-millisecond": str(meta["elapsedMillisecond"]),
        "x-log-has-sql": "true" if meta["hasSQL"] else "false",
        "x-log-where-query": meta["whereQuery"], "x-log-agg-query": meta["aggQuery"] or "",
        "x-log-query-info": json.dumps({"mode": 0})})


def get_histograms(call: Call) -> Response:
    from ackaudit.engine.errors import QueryError

    logstore_of(call)
    start, end = _time_range(call.req.q("from"), call.req.q("to"))
    _reject_topic(call.req.q("topic"))
    _require_index(call)
    try:
        buckets = call.state.events.histogram(call.project, call.params["logstore"],
                                              call.req.q("query") or "*", start, end)
    except QueryError as e:
        raise _query_error(e) from None
    progress = "Incomplete" if call.incomplete else "Complete"
    body = [{"from": lo, "to": hi, "count": count // 2 if call.incomplete else count, "progress": progress}
            for lo, hi, count in buckets]
    return ok(body, headers={"x-log-progress": progress, "x-log-count": str(sum(b["count"] for b in body))})


# -- PutLogs --------------------------------------------------------------------------------------

def put_logs(call: Call) -> Response:
    from aliyun.log.proto import LogGroupRaw
    from google.protobuf.message import DecodeError

    logstore_of(call)
    if call.req.path.endswith("/shards/route") and not call.req.q("key"):
        raise SlsError(400, "ParameterInvalid", "parameter key is required for a routed write")
    group = LogGroupRaw()
    try:
        group.ParseFromString(call.body)
    except DecodeError:
        raise SlsError(400, "PostBodyInvalid", "request body is not a valid LogGroup") from None
    tags = {f"__tag__:{t.Key}": t.Value for t in group.LogTags}
    rows = []
    for log in group.Logs:
        row: dict[str, Any] = {"__time__": int(log.Time), "__source__": group.Source, "__topic__": group.Topic,
                               **tags}
        for content in log.Contents:
            value = content.Value
            row[content.Key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        rows.append(row)
    events = call.state.events
    events.ensure_logstore(call.project, call.params["logstore"])
    events.append(call.project, call.params["logstore"], rows)
    return ok()


# -- cursors and PullLogs -------------------------------------------------------------------------

def _encode_cursor(seq: int) -> str:
    return base64.b64encode(str(seq).encode()).decode()


def _decode_cursor(cursor: str | None, name: str = "cursor") -> int:
    try:
        return int(base64.b64decode(cursor or "", validate=True).decode())
    except (binascii.Error, ValueError):
        raise SlsError(400, "InvalidCursor", f"{name} {cursor} is invalid") from None


def _shard(call: Call) -> tuple[int, int]:
    """(the shard addressed, the logstore's shard count)."""
    config = logstore_of(call)
    shard, shards = int(call.params["shard"]), shard_count(config)
    if shard >= shards:
        raise SlsError(400, "ShardNotExist", f"shard {shard} does not exist")
    return shard, shards


def get_cursor(call: Call) -> Response:
    _shard(call)
    when = call.req.q("from")
    if when is None:
        raise SlsError(400, "ParameterInvalid", "parameter from is required")
    events, project, logstore = call.state.events, call.project, call.params["logstore"]
    if when == "begin":
        seq = events.seq_at(project, logstore, 0)
    elif when == "end":
        seq = events.seq_at(project, logstore, None)
    else:
        try:
            seq = events.seq_at(project, logstore, int(when))
        except ValueError:
            raise SlsError(400, "ParameterInvalid", f"from must be begin, end or a unix time: {when}") from None
    return ok({"cursor": _encode_cursor(seq)})


def pull_logs(call: Call) -> Response:
    from ackaudit.sandbox.loggroups import encode_records

    shard, shards = _shard(call)
    seq = _decode_cursor(call.req.q("cursor"))
    count = call.int_param("count", _PULL_MAX_GROUPS, minimum=1)
    end_cursor = call.req.q("end_cursor")
    until = _decode_cursor(end_cursor, "end_cursor") if end_cursor else None
    batch = call.state.events.read_raw(call.project, call.params["logstore"], seq, min(count, _PULL_MAX_GROUPS),
                                       until=until, every=(shards, shard))
    raw = encode_records(batch.columns, batch.keysets, batch.records) if batch.records else b""
    headers = {"Content-Type": "application/x-protobuf", "x-log-cursor": _encode_cursor(batch.next_seq),
               "x-log-count": str(len(batch.records)), "x-log-bodyrawsize": str(len(raw))}
    body = raw
    if raw and "lz4" in call.req.headers.get("accept-encoding", ""):
        import lz4.block

        body = lz4.block.compress(raw, store_size=False)
        headers["x-log-compresstype"] = "lz4"
    return Response(200, body, headers)
