"""Numeric settings read from the environment (`ACKAUDIT_RETRY_BASE`, `ACKAUDIT_POLL_INTERVAL`,
`ACKAUDIT_INCOMPLETE_RETRIES`...), checked in one place: a bad value is a usage error naming the
variable and what it takes, never a ValueError from deep inside a command."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from ackaudit.errors import UsageError, shown


def env_number(name: str, default: float, *, minimum: float, maximum: float,
               env: Mapping[str, str] | None = None) -> float:
    """The variable as a number in [minimum, maximum], or `default` when unset or empty."""
    raw = (os.environ if env is None else env).get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not minimum <= value <= maximum:   # also false for nan
        raise UsageError(f"{name}={shown(raw)} is not a number from {_num(minimum)} to {_num(maximum)}",
                         hint=f"set {name} to a number like {_num(default)}, or unset it")
    return value


def env_int(name: str, default: int, *, minimum: int, maximum: int,
            env: Mapping[str, str] | None = None) -> int:
    """The variable as a whole number in [minimum, maximum], or `default` when unset or empty."""
    raw = (os.environ if env is None else env).get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.lstrip("+-").isdigit() and len(raw) < 12) \
            or not minimum <= int(raw) <= maximum:
        raise UsageError(f"{name}={shown(raw)} is not a whole number from {minimum} to {maximum}",
                         hint=f"set {name} to a number like {default}, or unset it")
    return int(raw)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# -- the settings, one definition each -------------------------------------------------------

def retry_base() -> float:
    """ACKAUDIT_RETRY_BASE: seconds before the first retry of a failed call (doubled each time)."""
    return env_number("ACKAUDIT_RETRY_BASE", 0.5, minimum=0, maximum=60)


def poll_interval() -> float:
    """ACKAUDIT_POLL_INTERVAL: seconds between two looks at an ACK task."""
    return env_number("ACKAUDIT_POLL_INTERVAL", 3.0, minimum=0.01, maximum=600)


def incomplete_retries() -> int:
    """ACKAUDIT_INCOMPLETE_RETRIES: how often an incomplete SLS page is asked again."""
    return env_int("ACKAUDIT_INCOMPLETE_RETRIES", 2, minimum=0, maximum=20)


def project_cache_ttl() -> int:
    """ACKAUDIT_PROJECT_CACHE_TTL: seconds a cluster's discovered SLS project is remembered (0: never)."""
    return env_int("ACKAUDIT_PROJECT_CACHE_TTL", 300, minimum=0, maximum=3600)


def source_cache_mb(env: Mapping[str, str] | None = None) -> float:
    """ACKAUDIT_SOURCE_CACHE_MB: megabytes of jsonl and csv conversions kept for the next command (0: none)."""
    return env_number("ACKAUDIT_SOURCE_CACHE_MB", 1024, minimum=0, maximum=1024 * 1024, env=env)


def check_all() -> None:
    """Read every setting once, so a bad value stops a command before it calls or changes anything."""
    retry_base()
    poll_interval()
    incomplete_retries()
    project_cache_ttl()
    source_cache_mb()
