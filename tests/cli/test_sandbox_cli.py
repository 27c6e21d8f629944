"""The sandbox as a newcomer meets it: no account, no configuration, one flag."""

import json
import os
import signal
import subprocess
import sys

import pytest


def clean_env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ALIBABA_CLOUD_", "ALIYUN_", "ACKAUDIT_")) and k.upper() not in ("HTTP_PROXY", "HTTPS_PROXY")}
    env.update(HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(tmp_path / "data"), **extra)
    return env


def ackaudit(*args, env, timeout=120):
    return subprocess.run([sys.executable, "-m", "ackaudit", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_sandbox_flag_works_with_no_configuration_at_all(tmp_path):
    env = clean_env(tmp_path)
    run = ackaudit("--sandbox", "clusters", "-o", "json", env=env)
    assert run.returncode == 0, run.stderr
    assert {row["name"] for row in json.loads(run.stdout)} >= {"prod-hangzhou", "staging-hangzhou", "legacy-ubuntu"}
    assert (tmp_path / "data" / "ackaudit" / "sandbox" / "world.json").exists()
    # the world persists: a change made in one invocation is seen by the next
    env_var = clean_env(tmp_path, ACKAUDIT_SANDBOX="1")
    staging = next(r["cluster_id"] for r in json.loads(run.stdout) if r["name"] == "staging-hangzhou")
    enable = ackaudit("enable", "--cluster", staging, "--no-wait", "-o", "json", env=env_var)
    assert enable.returncode == 0, enable.stderr
    again = ackaudit("clusters", "-o", "json", env=env_var)
    assert {r["name"]: r["audit_status"] for r in json.loads(again.stdout)}["staging-hangzhou"] in ("installing", "enabled")


def test_the_sandbox_ignores_stray_aliyun_keys(tmp_path):
    # aliyun-python-sdk-core would let these override the credentials ackaudit passes; it must not.
    env = clean_env(tmp_path, ALIYUN_ACCESS_KEY_ID="LTAIstray", ALIYUN_ACCESS_KEY_SECRET="stray-secret")
    run = ackaudit("--sandbox", "clusters", env=env)
    assert run.returncode == 0, run.stderr


def test_sandbox_reset(tmp_path):
    env = clean_env(tmp_path)
    state_dir = tmp_path / "world"
    run = ackaudit("sandbox", "reset", "--state-dir", str(state_dir), "--seed", "5", "-o", "json", env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"state_dir": str(state_dir), "replaced": False, "seed": 5}
    again = ackaudit("sandbox", "reset", "--state-dir", str(state_dir), env=env)
    assert again.returncode == 0 and "fresh sandbox world" in again.stderr


@pytest.mark.parametrize("output", ["table", "json"])
def test_sandbox_start_serves_other_invocations(tmp_path, output):
    env = clean_env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "ackaudit", "sandbox", "start", "--state-dir",
                             str(tmp_path / "world"), "-o", output], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        if output == "json":
            text = ""
            while True:
                text += proc.stdout.readline()
                try:
                    settings = json.loads(text)["env"]
                    break
                except ValueError:
                    continue
        else:
            settings = {}
            while len(settings) < 5:
                line = proc.stdout.readline()
                assert line.startswith("export "), line
                key, _, value = line[len("export "):].strip().partition("=")
                settings[key] = value
        assert settings["ACKAUDIT_CS_ENDPOINT"].startswith("http://127.0.0.1:")
        run = ackaudit("clusters", "-o", "json", env={**clean_env(tmp_path), **settings})
        assert run.returncode == 0, run.stderr
        assert len(json.loads(run.stdout)) >= 3
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
