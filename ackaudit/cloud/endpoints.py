"""Where the ACK and SLS APIs are: the public regional defaults, or an override.

Overrides (`ACKAUDIT_CS_ENDPOINT`, `ACKAUDIT_SLS_ENDPOINT`) serve VPC/intranet endpoints and the
sandbox. They may carry a scheme and a port (`http://127.0.0.1:8080`); without a scheme HTTPS is used.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ackaudit.errors import UsageError


@dataclass(frozen=True)
class Endpoint:
    scheme: str   # "https" or "http"
    host: str     # no port
    port: int | None

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}"

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


def parse_endpoint(value: str, *, name: str) -> Endpoint:
    raw = value.strip()
    parts = urlsplit(raw if "://" in raw else "https://" + raw)
    try:
        port = parts.port
    except ValueError:
        port = None
        parts = None  # type: ignore[assignment]
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise UsageError(f"{name}={value!r} is not an endpoint", hint="use host, host:port or http(s)://host:port")
    return Endpoint(parts.scheme, parts.hostname, port)


def cs_endpoint(region: str, env: Mapping[str, str] = os.environ) -> Endpoint:
    override = env.get("ACKAUDIT_CS_ENDPOINT")
    if override:
        return parse_endpoint(override, name="ACKAUDIT_CS_ENDPOINT")
    return Endpoint("https", f"cs.{region}.aliyuncs.com", None)


def sls_endpoint(region: str, env: Mapping[str, str] = os.environ) -> Endpoint:
    override = env.get("ACKAUDIT_SLS_ENDPOINT")
    if override:
        return parse_endpoint(override, name="ACKAUDIT_SLS_ENDPOINT")
    return Endpoint("https", f"{region}.log.aliyuncs.com", None)
