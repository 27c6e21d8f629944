"""SLS (Log Service) through aliyun-log-python-sdk.

Two SDK quirks are handled here once:
- an endpoint given as an IP address with a port is not recognised as an IP by the SDK, which then
  prepends the project to the host name and fails DNS (reference testing §1.1); we tell it;
- without `source=`, the client opens a UDP socket to learn the local IP; we pass one.
The SDK retries 5xx and connection errors itself (10 attempts, 1 s apart), so our own retry layer
only adds throttling, and connections dropped mid-answer (which the SDK does not retry), on top.
A read timeout the SDK would retry too, 10 times: an endpoint that accepts and never answers would
keep a command silent for minutes. Requests therefore go through a session that reports a timeout
in words the SDK does not retry, and ackaudit reports it once (ACKAUDIT_TIMEOUT).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from ackaudit.cloud import calls
from ackaudit.cloud.credentials import CredentialSource
from ackaudit.cloud.endpoints import Endpoint
from ackaudit.errors import ApiError, ConnectError, ExitCode

SERVICE = "SLS"
_RECORD_PAGE = 100
_TIMED_OUT = "ackaudit: timed out after"


def _timeout_session(seconds: float) -> Any:
    """A requests session whose timeouts surface as one error the SLS SDK does not retry."""
    import requests

    class TimeoutSession(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().request(*args, **kwargs)
            except requests.Timeout:
                raise TimeoutError(f"{_TIMED_OUT} {seconds:g} s") from None

    return TimeoutSession()


def _speed_up_the_sdk() -> None:
    """The SDK passes every JSON response through Util.convert_unicode_to_str, a Python 2 relic that
    copies it with an abstract-class check per value: two thirds of the client's time for a GetLogs
    of 20,000 rows. This is the same conversion (bytes decoded, every container copied) by concrete
    type, leaving anything else to the SDK's own."""
    from aliyun.log.util import Util

    original = Util.__dict__["convert_unicode_to_str"].__func__
    if getattr(original, "_ackaudit", False):
        return

    def convert(data: Any) -> Any:
        kind = type(data)
        if kind is str or kind is int or kind is float or kind is bool or data is None:
            return data
        if kind is dict:
            return {convert(k): convert(v) for k, v in data.items()}
        if kind is list:
            return [convert(v) for v in data]
        if kind is bytes:
            return data.decode("utf8")
        return original(data)

    convert._ackaudit = True  # type: ignore[attr-defined]
    Util.convert_unicode_to_str = staticmethod(convert)


@dataclass
class LogPage:
    rows: list[dict[str, str]]   # each row: every field as a string, with __time__ and __source__
    complete: bool
    has_sql: bool
    processed_rows: int


@dataclass
class PulledLogs:
    rows: list[dict[str, str]]   # raw rows in arrival order: every field as a string, with __time__
    next_cursor: str


class SlsClient:
    def __init__(self, region: str, endpoint: Endpoint, credentials: CredentialSource, *,
                 timeout: float = 30) -> None:
        self.region, self.endpoint, self._credentials, self._timeout = region, endpoint, credentials, timeout
        self._client: Any = None
        self._lock = threading.Lock()

    def fresh(self) -> SlsClient:
        """A client of its own, sharing no connection with this one (for a forked process)."""
        return SlsClient(self.region, self.endpoint, self._credentials, timeout=self._timeout)

    def _log(self) -> Any:
        with self._lock:
            if self._client is None:
                from aliyun.log import LogClient

                _speed_up_the_sdk()

                client = LogClient(self.endpoint.url, source="ackaudit",
                                   credentials_provider=self._credentials.provider())
                if self.endpoint.is_ip:
                    client._isRowIp = True  # the SDK's own IP check fails when a port is present
                client.timeout = (self._timeout, self._timeout)   # (connect, read)
                client._session = _timeout_session(self._timeout)
                self._client = client
            return self._client

    def call(self, action: str, fn_name: str, *args: Any, **kwargs: Any) -> Any:
        """Call one LogClient method with ackaudit's error mapping, tracing and retries."""

        def attempt() -> tuple[Any, str | None]:
            from aliyun.log import LogException

            try:
                resp = getattr(self._log(), fn_name)(*args, **kwargs)
            except LogException as exc:
                code, message = exc.get_error_code(), exc.get_error_message()
                if code == "LogRequestError" and _TIMED_OUT in message:
                    raise ConnectError(SERVICE, self.endpoint.url, message.split("ackaudit: ", 1)[1],
                                       timed_out=True) from None
                if code == "LogRequestError" and _is_connection_error(message):
                    error = ConnectError(SERVICE, self.endpoint.url, _connection_reason(message))
                    # The SDK already retried what it recognises as a connection failure.
                    error.sdk_retried = "httpconnectionpool" in message.lower()
                    raise error from None
                raise ApiError(SERVICE, action, code, message, status=getattr(exc, "resp_status", None),
                               request_id=exc.get_request_id() or None, endpoint=self.endpoint.url) from None
            request_id = resp.get_request_id() if hasattr(resp, "get_request_id") else None
            return resp, request_id

        return calls.call(SERVICE, action, attempt, retryable=_retryable)

    # -- projects and logstores --------------------------------------------------------------
    def get_project(self, project: str) -> dict[str, Any]:
        return self.call("GetProject", "get_project", project).get_body()

    def get_logstore(self, project: str, logstore: str) -> dict[str, Any] | None:
        """The logstore's whole configuration, or None when it does not exist."""
        try:
            return self.call("GetLogStore", "get_logstore", project, logstore).get_body()
        except ApiError as exc:
            if exc.code in ("LogStoreNotExist", "ProjectNotExist"):
                return None
            raise

    def delete_logstore(self, project: str, logstore: str) -> None:
        self.call("DeleteLogStore", "delete_logstore", project, logstore)

    def set_retention(self, project: str, logstore: str, current: dict[str, Any], *, ttl: int,
                      hot_ttl: int | None) -> None:
        """Change TTL / hot TTL and keep everything else.

        The SDK's update_logstore re-reads the logstore but only resends some fields: an omitted
        hot_ttl, mode or encryption setting would be dropped by the whole-config PUT (cloud-apis
        §4.2), so everything it would not copy is passed explicitly from `current`.
        """
        kwargs: dict[str, Any] = {"ttl": ttl}
        if hot_ttl is not None:
            kwargs["hot_ttl"] = hot_ttl
        if current.get("mode"):
            kwargs["mode"] = current["mode"]
        if current.get("encrypt_conf"):
            kwargs["encrypt_conf"] = current["encrypt_conf"]
        if current.get("telemetryType"):
            kwargs["telemetry_type"] = current["telemetryType"]
        if isinstance(current.get("infrequentAccessTTL"), int) and current["infrequentAccessTTL"] >= 0:
            kwargs["infrequent_access_ttl"] = current["infrequentAccessTTL"]
        self.call("UpdateLogStore", "update_logstore", project, logstore, **kwargs)

    def get_index(self, project: str, logstore: str) -> dict[str, Any] | None:
        try:
            return self.call("GetIndex", "get_index_config", project, logstore).get_index_config().to_json()
        except ApiError as exc:
            if exc.code == "IndexConfigNotExist":
                return None
            raise

    def create_index(self, project: str, logstore: str, index: dict[str, Any]) -> None:
        from aliyun.log import IndexConfig

        config = IndexConfig()
        config.from_json(index)
        self.call("CreateIndex", "create_index", project, logstore, config)

    def update_index(self, project: str, logstore: str, index: dict[str, Any]) -> None:
        from aliyun.log import IndexConfig

        config = IndexConfig()
        config.from_json(index)
        self.call("UpdateIndex", "update_index", project, logstore, config)

    # -- alert rules --------------------------------------------------------------------------
    def list_alerts(self, project: str) -> list[dict[str, Any]]:
        try:
            resp = self.call("ListAlerts", "list_alert", project, 0, -1)
        except ApiError as exc:
            if exc.code == "ProjectNotExist":
                return []
            raise
        return list(resp.get_entities() or [])

    def delete_alert(self, project: str, name: str) -> None:
        self.call("DeleteAlert", "delete_alert", project, name)

    def get_alert(self, project: str, name: str) -> dict[str, Any] | None:
        """The rule's stored detail, or None when there is no such rule."""
        try:
            return self.call("GetAlert", "get_alert", project, name).get_entity()
        except ApiError as exc:
            if exc.code == "JobNotExist" or exc.exit_code == ExitCode.NOT_FOUND:
                return None
            raise

    def create_alert(self, project: str, detail: dict[str, Any]) -> None:
        self.call("CreateAlert", "create_alert", project, detail)

    def update_alert(self, project: str, detail: dict[str, Any]) -> None:
        self.call("UpdateAlert", "update_alert", project, detail)

    # -- alert resources and their records (account level: no project) --------------------------
    def resource_exists(self, name: str) -> bool:
        try:
            self.call("GetResource", "get_resource", name)
        except ApiError as exc:
            if exc.exit_code == ExitCode.NOT_FOUND:
                return False
            raise
        return True

    def get_record(self, resource: str, record_id: str) -> dict[str, Any] | None:
        """`{"id", "tag", "value" (decoded), "createTime", "lastModifyTime"}`, or None when absent."""
        try:
            body = self.call("GetResourceRecord", "get_resource_record", resource, record_id).get_body()
        except ApiError as exc:
            if exc.exit_code == ExitCode.NOT_FOUND:
                return None
            raise
        return _record(body)

    def list_records(self, resource: str) -> list[dict[str, Any]]:
        """Every record of the resource, in the shape of get_record."""
        records: list[dict[str, Any]] = []
        while True:
            body = self.call("ListResourceRecords", "list_resource_records", resource,
                             offset=len(records), size=_RECORD_PAGE).get_body()
            items = body.get("items") or []
            records += [_record(item) for item in items]
            if len(items) < _RECORD_PAGE or len(records) >= int(body.get("total") or 0):
                return records

    def upsert_record(self, resource: str, record_id: str, tag: str, value: dict[str, Any]) -> None:
        """Create or replace one record (idempotent, cloud-apis §4.5)."""
        from aliyun.log.resource_params import ResourceRecord

        self.call("UpsertResourceRecord", "upsert_resource_record", resource,
                  [ResourceRecord(record_id=record_id, tag=tag, value=value)])

    def delete_records(self, resource: str, record_ids: list[str]) -> None:
        self.call("DeleteResourceRecord", "delete_resource_record", resource, list(record_ids))

    # -- queries -----------------------------------------------------------------------------
    def get_logs(self, project: str, logstore: str, query: str, from_time: int, to_time: int, *,
                 offset: int = 0, line: int = 100, reverse: bool = False) -> LogPage:
        """One page. Never merges pages and never hides an incomplete result: callers decide."""
        resp = self.call("GetLogs", "get_log", project, logstore, from_time, to_time, query=query,
                         reverse=reverse, offset=offset, size=line)
        rows = []
        for log in resp.get_logs():
            row = dict(log.get_contents())
            row["__time__"] = str(log.get_time())
            row["__source__"] = log.get_source()
            rows.append(row)
        meta = resp.get_body().get("meta", {}) if isinstance(resp.get_body(), dict) else {}
        return LogPage(rows, resp.is_completed(), bool(meta.get("hasSQL", False)),
                       int(meta.get("processedRows") or 0))

    # -- bulk reads (cursors) -----------------------------------------------------------------
    def shard_ids(self, project: str, logstore: str) -> list[int]:
        """Every shard, read-only ones included: after a split they still hold the older data."""
        resp = self.call("ListShards", "list_shards", project, logstore)
        return sorted(int(s["shardID"]) for s in resp.get_shards_info())

    def cursor_at(self, project: str, logstore: str, shard: int, when: int | str) -> str:
        """The cursor of the first log received at or after `when` (epoch seconds, "begin" or "end")."""
        return self.call("GetCursor", "get_cursor", project, logstore, shard, when).get_cursor()

    def pull_logs(self, project: str, logstore: str, shard: int, cursor: str, *, end_cursor: str | None = None,
                  count: int = 1000) -> PulledLogs:
        """Up to `count` log groups from `cursor`; `next_cursor == cursor` means nothing more yet."""
        resp = self.call("PullLogs", "pull_logs", project, logstore, shard, cursor, count=count,
                         end_cursor=end_cursor)
        return PulledLogs(_rows_of(resp.get_loggroup_list()), resp.get_next_cursor())


def _rows_of(groups: Any) -> list[dict[str, str]]:
    """Decode protobuf LogGroups into rows shaped like GetLogs rows (tags as `__tag__:key`).

    The SDK falls back to a bytes-typed message when some value is not valid UTF-8; its values are
    then decoded with replacement characters rather than dropping the whole batch."""
    from aliyun.log.proto import LogGroupListRaw

    as_bytes = isinstance(groups, LogGroupListRaw)
    rows = []
    for group in groups.LogGroups:
        shared = {"__source__": _text(group.Source), "__topic__": _text(group.Topic)}
        shared.update({f"__tag__:{_text(tag.Key)}": _text(tag.Value) for tag in group.LogTags})
        for log in group.Logs:
            if as_bytes:
                row = {_text(c.Key): _text(c.Value) for c in log.Contents}
            else:
                row = {c.Key: c.Value for c in log.Contents}
            row.update(shared)
            row["__time__"] = str(log.Time)
            rows.append(row)
    return rows


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _record(raw: dict[str, Any]) -> dict[str, Any]:
    """A resource record with its value decoded (it travels as a JSON string).

    The official model names the times `createTime` and `lastModifyTime`; the snake_case form some
    SDK examples show is read too."""
    value = raw.get("value")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    return {"id": raw.get("id"), "tag": raw.get("tag"), "value": value if isinstance(value, dict) else None,
            "createTime": raw.get("createTime", raw.get("create_time")),
            "lastModifyTime": raw.get("lastModifyTime", raw.get("last_modify_time"))}


def _retryable(exc: ApiError | ConnectError) -> bool:
    """The SDK itself already retried 5xx and refused connections (10 times, 1 s apart);
    retrying those again would multiply the wait. Throttling and a connection closed without an
    answer it does not retry; a timeout is reported at once."""
    if isinstance(exc, ConnectError):
        return not exc.timed_out and not exc.sdk_retried
    return exc.retryable and (exc.status or 0) < 500


def _is_connection_error(message: str) -> bool:
    lowered = message.lower()
    return any(s in lowered for s in ("httpconnectionpool", "httpsconnectionpool", "connection",
                                      "max retries", "timed out", "name or service"))


def _connection_reason(message: str) -> str:
    lowered = message.lower()
    for needle, reason in (("connection refused", "connection refused"), ("timed out", "timed out"),
                           ("name or service not known", "name or service not known"),
                           ("certificate verify failed", "certificate verify failed"),
                           ("connection reset", "connection reset"),
                           ("remote end closed", "connection closed without an answer"),
                           ("connection aborted", "connection closed without an answer")):
        if needle in lowered:
            return reason
    return "connection failed"
