"""The one error type the engine raises for a query it cannot answer."""

from __future__ import annotations


class QueryError(Exception):
    """A query the service would reject; `code` is the SLS error code (e.g. "ParameterInvalid")."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def invalid(message: str) -> QueryError:
    return QueryError("ParameterInvalid", message)


class StoreBusy(Exception):
    """Another process holds the store's file for longer than the store waits for it."""

    def __init__(self, message: str, holder_pid: int | None = None) -> None:
        super().__init__(message)
        self.holder_pid = holder_pid
