"""Every cloud call goes through here: timing, the `-v` trace line, and retries with backoff.

The CLI registers a listener to print one line per call on stderr (service, action, duration,
request id); nothing here prints. Retries cover throttling, 5xx and dropped connections, with
exponential backoff and full jitter, bounded in attempts and in time.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ackaudit.environment import retry_base
from ackaudit.errors import ApiError, ConnectError

T = TypeVar("T")


@dataclass(frozen=True)
class CallRecord:
    service: str
    action: str
    seconds: float
    request_id: str | None
    outcome: str          # "ok" or the error code
    attempt: int


_listeners: list[Callable[[CallRecord], None]] = []


def add_listener(fn: Callable[[CallRecord], None]) -> None:
    _listeners.append(fn)


def clear_listeners() -> None:
    _listeners.clear()
    _note_listeners.clear()


def _emit(record: CallRecord) -> None:
    for fn in list(_listeners):
        fn(record)


# Notes: what a service wants the user to know without printing it itself. "info" notes are
# details for `-v` (which source an answer came from); "warning" notes are always shown.
_note_listeners: list[Callable[[str, str], None]] = []


def add_note_listener(fn: Callable[[str, str], None]) -> None:
    _note_listeners.append(fn)


def note(level: str, text: str) -> None:
    for fn in list(_note_listeners):
        fn(level, text)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base: float = 0.5       # seconds; doubled each attempt, with full jitter
    cap: float = 8.0
    budget: float = 40.0    # never keep retrying past this many seconds


def default_policy() -> RetryPolicy:
    # ACKAUDIT_RETRY_BASE lets tests and impatient users shorten the waits.
    base = retry_base()
    return RetryPolicy(base=base)


def default_retryable(exc: ApiError | ConnectError) -> bool:
    # A dropped connection is worth another try; an endpoint that never answers is not: waiting
    # ACKAUDIT_TIMEOUT again and again would only keep the user staring at nothing.
    return exc.retryable if isinstance(exc, ApiError) else not exc.timed_out


def call(service: str, action: str, fn: Callable[[], tuple[T, str | None]],
         policy: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
         retryable: Callable[[ApiError | ConnectError], bool] = default_retryable) -> T:
    """Run `fn` (which returns (result, request_id) or raises ApiError/ConnectError) with retries
    while `retryable(error)` says so."""
    policy = policy or default_policy()
    started = time.monotonic()
    for attempt in range(1, policy.attempts + 1):
        t0 = time.monotonic()
        try:
            result, request_id = fn()
        except (ApiError, ConnectError) as exc:
            code = exc.code if isinstance(exc, ApiError) else ("Timeout" if exc.timed_out else "ConnectError")
            _emit(CallRecord(service, action, time.monotonic() - t0, exc.request_id, code, attempt))
            delay = random.uniform(0, min(policy.cap, policy.base * 2 ** (attempt - 1)))
            if not retryable(exc) or attempt == policy.attempts or time.monotonic() - started + delay > policy.budget:
                raise
            sleep(delay)
            continue
        _emit(CallRecord(service, action, time.monotonic() - t0, request_id, "ok", attempt))
        return result
    raise AssertionError("unreachable")


_SDK_LOGGERS = ("aliyunsdkcore", "aliyun", "aliyun.log", "kubernetes", "urllib3", "alibabacloud_credentials")


def quiet_sdk_logging(verbose: bool) -> None:
    """The SDKs log errors on handler-less loggers, which Python prints to stderr; keep them quiet
    unless -v asked for detail (and even then never below WARNING: their debug output has secrets)."""
    for name in _SDK_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING if verbose else logging.CRITICAL + 1)
        logger.propagate = verbose
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
