"""The embedded SLS query engine: search syntax and analytic SQL over events kept in DuckDB.

`EventStore` is imported lazily (it needs duckdb); `QueryError` and `QueryResult` are light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ackaudit.engine.errors import QueryError
from ackaudit.engine.result import QueryResult

if TYPE_CHECKING:
    from ackaudit.engine.store import EventStore

__all__ = ["EventStore", "QueryError", "QueryResult"]


def __getattr__(name: str):
    if name == "EventStore":
        from ackaudit.engine.store import EventStore

        return EventStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
