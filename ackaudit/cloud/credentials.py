"""Credentials and region, resolved in one place, the way Alibaba Cloud's own tools do it.

Order (first match wins):
1. `--profile NAME`: that profile of the aliyun CLI's `~/.aliyun/config.json`, and nothing else.
2. Environment: `ALIBABA_CLOUD_ACCESS_KEY_ID` + `ALIBABA_CLOUD_ACCESS_KEY_SECRET`
   (+ `ALIBABA_CLOUD_SECURITY_TOKEN`), or the legacy `ALIBABACLOUD_*` / `ALICLOUD_*` spellings.
3. The profile named by `ALIBABA_CLOUD_PROFILE` (or the legacy spellings), else the file's `current`.
4. RRSA in an ACK pod: `ALIBABA_CLOUD_ROLE_ARN` + `ALIBABA_CLOUD_OIDC_PROVIDER_ARN` +
   `ALIBABA_CLOUD_OIDC_TOKEN_FILE`.
5. The ECS instance RAM role named by `ALIBABA_CLOUD_ECS_METADATA`. The metadata service is never
   probed unasked: on a laptop that probe would only add a timeout to every failure.

Static keys (environment, AK and StsToken profiles) need no library. The modes that exchange or
refresh credentials (RamRoleArn, ChainableRamRoleArn, EcsRamRole, OIDC) use the official
`alibabacloud-credentials` providers, imported only then: they cost over half a second to import.

A provider is anything with `get_credentials()` returning an object with `get_access_key_id()`,
`get_access_key_secret()` and `get_security_token()`: the official providers' shape, which the SLS
SDK accepts as its `credentials_provider` and which `ackaudit.cloud.ack` adapts for the core SDK.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ackaudit.errors import AuthError, UsageError, shown

KEY_ID_VARS = ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABACLOUD_ACCESS_KEY_ID", "ALICLOUD_ACCESS_KEY_ID")
KEY_SECRET_VARS = ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABACLOUD_ACCESS_KEY_SECRET", "ALICLOUD_ACCESS_KEY_SECRET")
TOKEN_VARS = ("ALIBABA_CLOUD_SECURITY_TOKEN", "ALIBABACLOUD_SECURITY_TOKEN", "ALICLOUD_SECURITY_TOKEN")
PROFILE_VARS = ("ALIBABA_CLOUD_PROFILE", "ALIBABACLOUD_PROFILE", "ALICLOUD_PROFILE")
REGION_VARS = ("ALIBABA_CLOUD_REGION_ID", "ALIBABACLOUD_REGION_ID", "ALICLOUD_REGION_ID")
OIDC_VARS = ("ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE")

REFRESHING_MODES = ("RamRoleArn", "ChainableRamRoleArn", "EcsRamRole", "OIDC")
SUPPORTED_MODES = ("AK", "StsToken", *REFRESHING_MODES)


@dataclass(frozen=True)
class StaticCredentials:
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None

    def get_access_key_id(self) -> str:
        return self.access_key_id

    def get_access_key_secret(self) -> str:
        return self.access_key_secret

    def get_security_token(self) -> str | None:
        return self.security_token

    def __repr__(self) -> str:  # never let a secret reach a log or a traceback
        return f"StaticCredentials(access_key_id={mask(self.access_key_id)!r}, secret=***)"


@dataclass(frozen=True)
class StaticProvider:
    credentials: StaticCredentials

    def get_credentials(self) -> StaticCredentials:
        return self.credentials


@dataclass
class CredentialSource:
    """Where the credentials come from, and how to get them (lazily: some need a network call)."""

    description: str
    _factory: Callable[[], Any] = field(repr=False)
    _provider: Any = field(default=None, repr=False)

    def provider(self) -> Any:
        if self._provider is None:
            self._provider = self._factory()
        return self._provider


@dataclass(frozen=True)
class Profile:
    name: str
    mode: str
    data: Mapping[str, Any] = field(repr=False)
    path: Path

    @property
    def region_id(self) -> str | None:
        return self.data.get("region_id") or None


def mask(value: str, keep: int = 4) -> str:
    """`LTAI5tAbCdEf1234` -> `LTAI…1234`: enough to recognise, too little to use."""
    if len(value) <= keep * 2:
        return "…"
    return f"{value[:keep]}…{value[-keep:]}"


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if env.get(name):
            return env[name]
    return None


def config_path(env: Mapping[str, str] = os.environ) -> Path:
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".aliyun" / "config.json"


# What each mode of the aliyun CLI config needs (the keys its own providers read).
_REQUIRED_KEYS = {
    "AK": ("access_key_id", "access_key_secret"),
    "StsToken": ("access_key_id", "access_key_secret", "sts_token"),
    "RamRoleArn": ("access_key_id", "access_key_secret", "ram_role_arn"),
    "ChainableRamRoleArn": ("source_profile", "ram_role_arn"),
    "EcsRamRole": (),
    "OIDC": ("ram_role_arn", "oidc_provider_arn", "oidc_token_file"),
}
_STRING_KEYS = ("name", "mode", "access_key_id", "access_key_secret", "sts_token", "ram_role_arn",
                "ram_session_name", "role_session_name", "source_profile", "ram_role_name", "oidc_provider_arn",
                "oidc_token_file", "region_id", "sts_region", "policy", "external_id")
_CONFIG_HINT = "fix the file, or run `aliyun configure`"


def config_error(path: Path, where: str, problem: str) -> UsageError:
    """The aliyun CLI config is wrong: a usage error (exit 2) naming the file and the key."""
    return UsageError(f"{path}: {where} {problem}", hint=_CONFIG_HINT)


def load_profiles(path: Path) -> tuple[str | None, dict[str, Profile]]:
    """The aliyun CLI config's `current` and its profiles ({} when the file does not exist).

    The file is checked as far as ackaudit reads it: `profiles` a list of objects with a unique
    string `name`, string values where strings belong. A mode's required keys are checked when the
    profile is used (`_from_profile`), so a broken profile that is not used stays harmless."""
    if not path.exists():
        return None, {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}", hint=_CONFIG_HINT) from None
    if not isinstance(data, dict):
        raise UsageError(f"cannot read {path}: not a JSON object", hint=_CONFIG_HINT)
    current = data.get("current")
    if current is not None and not isinstance(current, str):
        raise config_error(path, "`current`", f"must be a profile name (a string), not {type(current).__name__}")
    items = data.get("profiles")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise config_error(path, "`profiles`", f"must be a list, not {type(items).__name__}")
    profiles = {}
    for index, item in enumerate(items):
        where = f"profiles[{index}]"
        if not isinstance(item, dict):
            raise config_error(path, where, f"must be an object, not {type(item).__name__}")
        for key in _STRING_KEYS:
            if item.get(key) is not None and not isinstance(item[key], str):
                raise config_error(path, f"{where}.{key}", f"must be a string, not {type(item[key]).__name__}")
        name = item.get("name")
        if not name:
            raise config_error(path, f"{where}.name", "is missing")
        if name in profiles:
            raise config_error(path, f"{where}.name", f"{shown(name)} names two profiles")
        profiles[name] = Profile(name, item.get("mode") or "AK", item, path)
    return current or None, profiles


def select_profile(flag_profile: str | None, env: Mapping[str, str] = os.environ) -> Profile | None:
    """The profile to use: `--profile`, else `ALIBABA_CLOUD_PROFILE`, else the file's `current`."""
    path = config_path(env)
    current, profiles = load_profiles(path)
    wanted = flag_profile if flag_profile is not None else _first(env, PROFILE_VARS)
    if wanted is not None:
        if wanted not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise UsageError(f"profile {shown(wanted)} not found in {path} (profiles: {shown(known, 200)[1:-1]})",
                             hint="list them with `aliyun configure list`")
        return profiles[wanted]
    if current and current not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise config_error(path, "`current`", f"names {shown(current)}, which is not one of its profiles "
                                              f"({shown(known, 200)[1:-1]})")
    return profiles.get(current) if current else None


def resolve_region(flag_region: str | None, profile: Profile | None,
                   env: Mapping[str, str] = os.environ) -> str | None:
    """`--region`, else `ALIBABA_CLOUD_REGION_ID`, else the profile's `region_id`; checked."""
    from ackaudit.cloud.endpoints import check_region

    if flag_region is not None:
        return check_region(flag_region)
    for name in REGION_VARS:
        if env.get(name):
            return check_region(env[name], source=name)
    if profile is not None and profile.region_id:
        return check_region(profile.region_id, source=f"region_id of profile {shown(profile.name)} in {profile.path}")
    return None


def resolve_credentials(flag_profile: str | None, env: Mapping[str, str] = os.environ) -> CredentialSource:
    looked: list[str] = []
    if not flag_profile:
        key_id, secret = _first(env, KEY_ID_VARS), _first(env, KEY_SECRET_VARS)
        if key_id and secret:
            static = StaticCredentials(key_id, secret, _first(env, TOKEN_VARS))
            return CredentialSource("environment (ALIBABA_CLOUD_ACCESS_KEY_ID)", lambda: StaticProvider(static))
        looked.append("environment variables ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET")

    profile = select_profile(flag_profile, env)
    if profile is not None:
        return _from_profile(profile)
    looked.append(f"a current profile in {config_path(env)}")

    if not flag_profile:
        role_arn, provider_arn, token_file = (env.get(v) for v in OIDC_VARS)
        if role_arn and provider_arn and token_file:
            return CredentialSource("RRSA (ALIBABA_CLOUD_OIDC_TOKEN_FILE)",
                                    lambda: _oidc_provider(role_arn, provider_arn, token_file, env))
        looked.append("RRSA variables ALIBABA_CLOUD_ROLE_ARN / _OIDC_PROVIDER_ARN / _OIDC_TOKEN_FILE")
        role = env.get("ALIBABA_CLOUD_ECS_METADATA")
        if role:
            return CredentialSource(f"ECS instance role {role!r}", lambda: _ecs_provider(role))
        looked.append("ALIBABA_CLOUD_ECS_METADATA (ECS instance role)")

    raise AuthError("no Alibaba Cloud credentials found; looked at: " + "; ".join(looked),
                    hint="set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, "
                         "run `aliyun configure`, or try everything offline with --sandbox")


def _from_profile(profile: Profile) -> CredentialSource:
    where = f"profile {shown(profile.name)} ({shown(profile.mode)[1:-1]}) in {profile.path}"
    data = profile.data
    if profile.mode not in SUPPORTED_MODES:
        raise UsageError(f"{where}: mode {shown(profile.mode)} is not supported",
                         hint="supported modes: " + ", ".join(SUPPORTED_MODES))
    missing = [key for key in _REQUIRED_KEYS[profile.mode] if not data.get(key)]
    if missing:
        raise UsageError(f"{where} is incomplete: {', '.join(missing)} missing",
                         hint="run `aliyun configure --profile " + profile.name + "`")
    if profile.mode == "ChainableRamRoleArn":
        _, profiles = load_profiles(profile.path)
        if data["source_profile"] not in profiles:
            raise config_error(profile.path, f"profile {shown(profile.name)}: source_profile",
                               f"names {shown(data['source_profile'])}, which is not one of its profiles")
    if profile.mode in ("AK", "StsToken"):
        key_id, secret = data["access_key_id"], data["access_key_secret"]
        token = data.get("sts_token") if profile.mode == "StsToken" else None
        static = StaticCredentials(key_id, secret, token)
        return CredentialSource(where, lambda: StaticProvider(static))
    return CredentialSource(where, lambda: _cli_profile_provider(profile))


def _cli_profile_provider(profile: Profile) -> Any:
    # The official provider understands every refreshing mode of the aliyun CLI config,
    # including ChainableRamRoleArn's source_profile chains.
    from alibabacloud_credentials.provider.cli_profile import CLIProfileCredentialsProvider

    return CLIProfileCredentialsProvider(profile_name=profile.name, profile_file=str(profile.path))


def _oidc_provider(role_arn: str, provider_arn: str, token_file: str, env: Mapping[str, str]) -> Any:
    from alibabacloud_credentials.provider.oidc import OIDCRoleArnCredentialsProvider

    return OIDCRoleArnCredentialsProvider(
        role_arn=role_arn, oidc_provider_arn=provider_arn, oidc_token_file_path=token_file,
        role_session_name=env.get("ALIBABA_CLOUD_ROLE_SESSION_NAME") or "ackaudit")


def _ecs_provider(role: str) -> Any:
    from alibabacloud_credentials.provider.ecs_ram_role import EcsRamRoleCredentialsProvider

    return EcsRamRoleCredentialsProvider(role_name=role)
