"""Shared fixtures: an isolated environment for every test, and the sandbox with SDK clients."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from ackaudit.sandbox import open_sandbox
from ackaudit.sandbox.server import SandboxServer
from ackaudit.sandbox.state import DEFAULT_REGION, SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_SECRET

_ENV_PREFIXES = ("ALIBABA_CLOUD_", "ALIYUN_", "ACKAUDIT_")
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
SDK_TIMEOUT = 5   # seconds; the SLS SDK's default (120 s, retried 10 times) would hide a hang


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No credentials, endpoints, proxies or user files leak in from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name.upper() in _PROXY_VARS:
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    for var, path in (("HOME", home), ("XDG_DATA_HOME", home / ".local/share"),
                      ("XDG_CONFIG_HOME", home / ".config"), ("XDG_CACHE_HOME", home / ".cache")):
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(path))


@pytest.fixture(scope="session")
def _world_template(tmp_path_factory):
    """The seeded world, built once per session; each test gets its own copy."""
    template = tmp_path_factory.mktemp("world-template")
    open_sandbox(template).close()
    return template


@pytest.fixture
def sandbox(_world_template, tmp_path):
    """A started SandboxServer over a fresh copy of the seeded world."""
    state_dir = tmp_path / "sandbox"
    shutil.copytree(_world_template, state_dir)
    state = open_sandbox(state_dir)
    server = SandboxServer(state).start()
    yield server
    server.stop()
    state.close()


@pytest.fixture
def no_sdk_sleep(monkeypatch):
    """Make the SLS SDK's retry sleeps instant and record them.

    Only the `time` module reference inside aliyun.log.logclient is replaced; no SDK method is.
    """
    import aliyun.log.logclient as logclient

    slept: list[float] = []

    class InstantTime:
        sleep = staticmethod(slept.append)
        time = staticmethod(time.time)

    monkeypatch.setattr(logclient, "time", InstantTime)
    return slept


@pytest.fixture
def sls_client(sandbox):
    """A raw LogClient pointed at the sandbox."""
    from aliyun.log import LogClient

    client = LogClient(sandbox.url, SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_SECRET, source="127.0.0.1")
    # The SDK decides "IP endpoint" on the host *with* its port, gets it wrong, and would send
    # the project as a DNS prefix of 127.0.0.1; with this it sends it in the Host header only.
    client._isRowIp = True
    client.timeout = SDK_TIMEOUT
    return client


@pytest.fixture
def acs_client(sandbox):
    """A raw AcsClient; send requests with `request.set_domain(sandbox_domain)`."""
    from aliyunsdkcore.client import AcsClient

    return AcsClient(SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_SECRET, DEFAULT_REGION,
                     timeout=SDK_TIMEOUT, connect_timeout=SDK_TIMEOUT, auto_retry=False)
