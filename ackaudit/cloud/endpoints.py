"""Where the ACK and SLS APIs are: the public regional defaults, or an override.

Overrides (`ACKAUDIT_CS_ENDPOINT`, `ACKAUDIT_SLS_ENDPOINT`) serve VPC/intranet endpoints and the
sandbox. They may carry a scheme and a port (`http://127.0.0.1:8080`); without a scheme HTTPS is used.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ackaudit.errors import UsageError, shown


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
        return _is_ip(self.host)


_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
# Region ids: cn-hangzhou, ap-southeast-1, cn-hangzhou-finance, cn-shanghai-finance-1, cn-north-2-gov-1.
_REGION = re.compile(r"[a-z]{2}(?:-[a-z0-9]+){1,4}")


def parse_endpoint(value: str, *, name: str) -> Endpoint:
    """An endpoint override as host, host:port or http(s)://host[:port], checked completely."""
    raw = value.strip()
    bad = UsageError(f"{name}={shown(value)} is not an endpoint",
                     hint="use host, host:port or http(s)://host:port, e.g. http://127.0.0.1:8080")
    try:
        parts = urlsplit(raw if "://" in raw else "https://" + raw)
        port = parts.port
    except ValueError:   # "http://[::1", a port out of range or not a number
        raise bad from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username or parts.password or port == 0:
        raise bad
    host = parts.hostname
    if not _is_ip(host) and (len(host) > 253 or not _HOST.fullmatch(host)):
        raise bad
    return Endpoint(parts.scheme, host, port)


def check_region(region: str, *, source: str = "--region") -> str:
    """A region id as Alibaba Cloud spells them; anything else would end up in a host name."""
    if len(region) > 40 or not _REGION.fullmatch(region):
        raise UsageError(f"{source} {shown(region)} is not a region id",
                         hint="region ids look like cn-hangzhou, ap-southeast-1 or cn-hangzhou-finance; "
                              "`aliyun ecs DescribeRegions` lists them")
    return region


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


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


OVERRIDES = ("ACKAUDIT_CS_ENDPOINT", "ACKAUDIT_SLS_ENDPOINT")


def check_overrides(env: Mapping[str, str] = os.environ) -> None:
    """Parse every endpoint override now, so a bad one stops a command before its first call."""
    for name in OVERRIDES:
        if env.get(name):
            parse_endpoint(env[name], name=name)
