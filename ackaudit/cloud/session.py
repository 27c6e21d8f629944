"""One place that turns the global settings into cloud clients: region, credentials, endpoints,
or the embedded sandbox. Clients are built lazily, so a command pays only for what it uses."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ackaudit.cloud.credentials import CredentialSource, resolve_credentials, resolve_region, select_profile
from ackaudit.cloud.endpoints import Endpoint, cs_endpoint, sls_endpoint
from ackaudit.errors import AckAuditError, UsageError, timeout_seconds


@dataclass
class CloudOptions:
    profile: str | None = None
    region: str | None = None
    sandbox: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)


def sandbox_dir(env: Mapping[str, str] = os.environ) -> Path:
    """Where `--sandbox` keeps its world between invocations."""
    if env.get("ACKAUDIT_SANDBOX_DIR"):
        return Path(env["ACKAUDIT_SANDBOX_DIR"])
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "share")
    return Path(base) / "ackaudit" / "sandbox"


def sandbox_requested(flag: bool, env: Mapping[str, str] = os.environ) -> bool:
    return flag or env.get("ACKAUDIT_SANDBOX", "").lower() in ("1", "true", "yes")


class Cloud:
    def __init__(self, options: CloudOptions) -> None:
        self.options = options
        self._sandbox_server: Any = None
        env = dict(options.env)
        if sandbox_requested(options.sandbox, env):
            env.update(self._start_sandbox(env))
            # The sandbox is its own account: ignore profiles and region settings aimed elsewhere.
            options = CloudOptions(profile=None, region=options.region or env["ALIBABA_CLOUD_REGION_ID"],
                                   sandbox=True, env=env)
        self._env = env
        self._options = options

    def _start_sandbox(self, env: Mapping[str, str]) -> dict[str, str]:
        from ackaudit.engine.errors import StoreBusy
        from ackaudit.sandbox import open_sandbox, worlddir
        from ackaudit.sandbox.server import SandboxServer

        directory = sandbox_dir(env)
        worlddir.check_state_dir(directory, option="ACKAUDIT_SANDBOX_DIR" if env.get("ACKAUDIT_SANDBOX_DIR")
                                 else "the sandbox folder")
        served = worlddir.serving(directory)
        if served is not None:
            raise AckAuditError(f"the sandbox world in {directory} is served by `ackaudit sandbox start` "
                                f"(pid {served['pid']}, {served.get('url')})",
                                hint="point ackaudit at it with the settings it printed "
                                     f"(ACKAUDIT_CS_ENDPOINT={served.get('url')} ACKAUDIT_SLS_ENDPOINT=... and "
                                     "the sandbox keys) instead of --sandbox, or stop it")
        # Other `--sandbox` commands may use the world at the same time (a `query --follow` in
        # another terminal): the events' file is held only while a request reads or writes it.
        try:
            state = open_sandbox(directory, shared_events=True)
            _ = state.events
        except StoreBusy as busy:
            holder = f"process {busy.holder_pid}" if busy.holder_pid else "another process"
            raise AckAuditError(f"the sandbox world in {directory} is held by {holder}",
                                hint="it did not let go within 10 seconds; retry when it is done") from None
        self._sandbox_server = SandboxServer(state)
        self._sandbox_server.start()
        return self._sandbox_server.client_env()

    def close(self) -> None:
        if self._sandbox_server is not None:
            self._sandbox_server.stop()
            self._sandbox_server.state.close()
            self._sandbox_server = None

    @property
    def is_sandbox(self) -> bool:
        return self._sandbox_server is not None

    @cached_property
    def _profile(self) -> Any:
        if self._options.sandbox:
            return None
        return select_profile(self._options.profile, self._env)

    @cached_property
    def region(self) -> str:
        region = resolve_region(self._options.region, self._profile, self._env)
        if not region:
            raise UsageError("no region given",
                             hint="pass --region (e.g. cn-hangzhou), set ALIBABA_CLOUD_REGION_ID, "
                                  "or set region_id in your aliyun CLI profile")
        return region

    @cached_property
    def credentials(self) -> CredentialSource:
        return resolve_credentials(self._options.profile if not self._options.sandbox else None, self._env)

    @cached_property
    def timeout(self) -> float:
        """Seconds to wait for a connection, and then for an answer, per request (ACKAUDIT_TIMEOUT)."""
        return timeout_seconds(self._env)

    @cached_property
    def cs_endpoint(self) -> Endpoint:
        return cs_endpoint(self.region, self._env)

    @cached_property
    def sls_endpoint(self) -> Endpoint:
        return sls_endpoint(self.region, self._env)

    @cached_property
    def cache_identity(self) -> tuple[str, ...] | None:
        """Who answers this session's questions, for caches kept between invocations: the sandbox
        world's folder, or the access key, region and endpoints. None when it cannot be told."""
        if self.is_sandbox:
            return ("sandbox", str(sandbox_dir(self._env).resolve()), self.region)
        try:
            key_id = self.credentials.provider().get_credentials().get_access_key_id()
        except Exception:   # no identity, no cache: the calls themselves report the problem
            return None
        if not key_id:
            return None
        return ("account", str(key_id), self.region, self.cs_endpoint.url, self.sls_endpoint.url)

    @cached_property
    def ack(self) -> Any:
        from ackaudit.cloud.ack import AckClient

        return AckClient(self.region, self.cs_endpoint, self.credentials, timeout=self.timeout)

    @cached_property
    def sls(self) -> Any:
        from ackaudit.cloud.sls import SlsClient

        return SlsClient(self.region, self.sls_endpoint, self.credentials, timeout=self.timeout)
