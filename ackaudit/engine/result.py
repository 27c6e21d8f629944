"""Query results in the shape GetLogs returns them: every value a string.

Timestamps are rendered in UTC as `YYYY-MM-DD HH:MM:SS.mmm`. The real service renders them in
the project's time zone; the embedded engine has no project time zone to consult.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass
class QueryResult:
    rows: list[dict[str, str]]
    has_sql: bool
    keys: list[str] = field(default_factory=list)
    processed_rows: int = 0
    where_query: str = "*"
    agg_query: str = ""


def format_value(value: Any) -> str:
    """Render one SQL result value the way SLS does (JSON for composites, "null" for NULL)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(_jsonable(value), ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {format_value(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return float(value)
    return format_value(value)
