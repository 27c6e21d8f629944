"""Credential and region resolution, one rule at a time (no network: static modes only)."""

import json

import pytest

from ackaudit.cloud.credentials import mask, resolve_credentials, resolve_region, select_profile
from ackaudit.errors import AuthError, ExitCode, UsageError


def write_config(home, profiles, current="default"):
    path = home / ".aliyun" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"current": current, "profiles": profiles}))
    return path


def creds_of(source):
    c = source.provider().get_credentials()
    return c.get_access_key_id(), c.get_access_key_secret(), c.get_security_token()


AK = {"name": "default", "mode": "AK", "access_key_id": "LTAIdefault", "access_key_secret": "secret-default",
      "region_id": "cn-beijing"}
STS = {"name": "sts", "mode": "StsToken", "access_key_id": "STS.key", "access_key_secret": "secret-sts",
       "sts_token": "token-sts", "region_id": "cn-shanghai"}
DEV = {"name": "dev", "mode": "AK", "access_key_id": "LTAIdev", "access_key_secret": "secret-dev"}


@pytest.fixture
def home(tmp_path):
    return tmp_path


def env_for(home, **extra):
    return {"HOME": str(home), **extra}


def test_environment_keys(home):
    env = env_for(home, ALIBABA_CLOUD_ACCESS_KEY_ID="LTAIenv", ALIBABA_CLOUD_ACCESS_KEY_SECRET="secret-env")
    source = resolve_credentials(None, env)
    assert creds_of(source) == ("LTAIenv", "secret-env", None)
    assert "environment" in source.description


def test_environment_keys_with_sts_token(home):
    env = env_for(home, ALIBABA_CLOUD_ACCESS_KEY_ID="STS.env", ALIBABA_CLOUD_ACCESS_KEY_SECRET="s",
                  ALIBABA_CLOUD_SECURITY_TOKEN="tok")
    assert creds_of(resolve_credentials(None, env)) == ("STS.env", "s", "tok")


def test_legacy_environment_spellings(home):
    env = env_for(home, ALICLOUD_ACCESS_KEY_ID="LTAIold", ALICLOUD_ACCESS_KEY_SECRET="secret-old")
    assert creds_of(resolve_credentials(None, env))[0] == "LTAIold"


def test_environment_beats_the_current_profile(home):
    write_config(home, [AK])
    env = env_for(home, ALIBABA_CLOUD_ACCESS_KEY_ID="LTAIenv", ALIBABA_CLOUD_ACCESS_KEY_SECRET="secret-env")
    assert creds_of(resolve_credentials(None, env))[0] == "LTAIenv"


def test_explicit_profile_beats_the_environment(home):
    write_config(home, [AK, DEV])
    env = env_for(home, ALIBABA_CLOUD_ACCESS_KEY_ID="LTAIenv", ALIBABA_CLOUD_ACCESS_KEY_SECRET="secret-env")
    assert creds_of(resolve_credentials("dev", env))[0] == "LTAIdev"


def test_ak_profile_is_the_files_current(home):
    write_config(home, [DEV, AK], current="default")
    source = resolve_credentials(None, env_for(home))
    assert creds_of(source) == ("LTAIdefault", "secret-default", None)
    assert "profile 'default' (AK)" in source.description


def test_sts_token_profile(home):
    write_config(home, [AK, STS])
    assert creds_of(resolve_credentials("sts", env_for(home))) == ("STS.key", "secret-sts", "token-sts")


def test_profile_selection_order(home):
    write_config(home, [AK, DEV, STS], current="default")
    # the flag, then ALIBABA_CLOUD_PROFILE, then current
    assert select_profile("sts", env_for(home, ALIBABA_CLOUD_PROFILE="dev")).name == "sts"
    assert select_profile(None, env_for(home, ALIBABA_CLOUD_PROFILE="dev")).name == "dev"
    assert select_profile(None, env_for(home, ALICLOUD_PROFILE="dev")).name == "dev"
    assert select_profile(None, env_for(home)).name == "default"


def test_unknown_profile_names_the_file_and_the_known_ones(home):
    path = write_config(home, [AK, DEV])
    with pytest.raises(UsageError) as err:
        select_profile("prod", env_for(home))
    assert str(path) in err.value.message and "default, dev" in err.value.message


def test_refreshing_modes_are_recognised_without_network(home):
    role = {"name": "role", "mode": "RamRoleArn", "access_key_id": "LTAIx", "access_key_secret": "y",
            "ram_role_arn": "acs:ram::1:role/r", "ram_session_name": "s"}
    chain = {"name": "chain", "mode": "ChainableRamRoleArn", "source_profile": "role",
             "ram_role_arn": "acs:ram::1:role/q", "ram_session_name": "s"}
    write_config(home, [role, chain], current="role")
    for name in ("role", "chain"):
        source = resolve_credentials(name, env_for(home))
        assert f"profile {name!r}" in source.description
    source = resolve_credentials(None, env_for(home, ALIBABA_CLOUD_ECS_METADATA="worker-role"))
    assert "profile 'role'" in source.description  # the profile comes before the instance role


def test_rrsa_and_instance_role(home):
    env = env_for(home, ALIBABA_CLOUD_ROLE_ARN="acs:ram::1:role/r", ALIBABA_CLOUD_OIDC_PROVIDER_ARN="acs:ram::1:oidc-provider/p",
                  ALIBABA_CLOUD_OIDC_TOKEN_FILE="/var/run/secrets/token")
    assert "RRSA" in resolve_credentials(None, env).description
    assert "worker-role" in resolve_credentials(None, env_for(home, ALIBABA_CLOUD_ECS_METADATA="worker-role")).description


def test_unsupported_and_incomplete_profiles(home):
    write_config(home, [{"name": "sso", "mode": "CloudSSO"}, {"name": "half", "mode": "AK", "access_key_id": "x"}])
    with pytest.raises(UsageError, match="not supported"):
        resolve_credentials("sso", env_for(home))
    with pytest.raises(UsageError, match="incomplete"):
        resolve_credentials("half", env_for(home))


def test_no_credentials_lists_what_was_looked_at(home):
    with pytest.raises(AuthError) as err:
        resolve_credentials(None, env_for(home))
    assert err.value.exit_code == ExitCode.AUTH
    for looked in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "config.json", "RRSA", "ECS"):
        assert looked in err.value.message
    assert "--sandbox" in err.value.hint


def test_broken_config_file_is_a_clear_error(home):
    (home / ".aliyun").mkdir()
    (home / ".aliyun" / "config.json").write_text("{not json")
    with pytest.raises(UsageError, match="cannot read"):
        resolve_credentials(None, env_for(home))


def test_region_order(home):
    write_config(home, [AK])
    profile = select_profile(None, env_for(home))
    assert resolve_region("eu-central-1", profile, env_for(home, ALIBABA_CLOUD_REGION_ID="cn-shenzhen")) == "eu-central-1"
    assert resolve_region(None, profile, env_for(home, ALIBABA_CLOUD_REGION_ID="cn-shenzhen")) == "cn-shenzhen"
    assert resolve_region(None, profile, env_for(home)) == "cn-beijing"
    assert resolve_region(None, None, env_for(home)) is None


def test_secrets_are_masked_in_reprs(home):
    env = env_for(home, ALIBABA_CLOUD_ACCESS_KEY_ID="LTAI5tAbCdEf1234", ALIBABA_CLOUD_ACCESS_KEY_SECRET="TopSecretValue")
    creds = resolve_credentials(None, env).provider().get_credentials()
    assert "TopSecretValue" not in repr(creds)
    assert mask("LTAI5tAbCdEf1234") == "LTAI…1234"


def write_raw(home, data):
    path = home / ".aliyun" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("data, where", [
    ({"current": "default", "profiles": {"default": AK}}, "`profiles` must be a list"),
    ({"current": 3, "profiles": [AK]}, "`current` must be a profile name"),
    ({"current": "default", "profiles": ["default"]}, "profiles[0] must be an object"),
    ({"current": "default", "profiles": [{**AK, "access_key_id": 12345}]}, "profiles[0].access_key_id must be a string"),
    ({"current": "default", "profiles": [{**AK, "name": None}]}, "profiles[0].name is missing"),
    ({"current": "nobody", "profiles": [AK]}, "`current` names 'nobody', which is not one of its profiles"),
    ({"current": "r", "profiles": [{"name": "r", "mode": "RamRoleArn", "access_key_id": "LTAIx",
                                    "access_key_secret": "s"}]}, "is incomplete: ram_role_arn missing"),
    ({"current": "c", "profiles": [{"name": "c", "mode": "ChainableRamRoleArn", "source_profile": "gone",
                                    "ram_role_arn": "acs:ram::1:role/q"}]}, "source_profile names 'gone'"),
])
def test_a_wrong_config_file_says_where(home, data, where):
    path = write_raw(home, data)
    with pytest.raises(UsageError) as err:
        resolve_credentials(None, env_for(home)).provider()
    assert err.value.exit_code == ExitCode.USAGE
    assert str(path) in err.value.message and where in err.value.message


@pytest.mark.parametrize("region", ["cn-hangzhou", "ap-southeast-1", "cn-hangzhou-finance", "cn-shanghai-finance-1",
                                    "cn-north-2-gov-1", "us-east-1"])
def test_region_ids_are_accepted(home, region):
    assert resolve_region(region, None, env_for(home)) == region


@pytest.mark.parametrize("region, source", [
    ("bad region!", "--region"), ("", "--region"), ("x" * 100_000, "--region"), ("CN-HANGZHOU", "--region"),
    ("cn-hangzhou.evil.com", "--region"),
])
def test_bad_region_flags_are_usage_errors(home, region, source):
    with pytest.raises(UsageError) as err:
        resolve_region(region, None, env_for(home))
    assert err.value.message.startswith(source) and len(err.value.message) < 200


def test_bad_region_from_the_environment_or_profile_names_its_source(home):
    with pytest.raises(UsageError, match="ALIBABA_CLOUD_REGION_ID"):
        resolve_region(None, None, env_for(home, ALIBABA_CLOUD_REGION_ID="cn hangzhou"))
    write_config(home, [{**AK, "region_id": "cn_beijing"}])
    profile = select_profile(None, env_for(home))
    with pytest.raises(UsageError, match="region_id of profile 'default'"):
        resolve_region(None, profile, env_for(home))
