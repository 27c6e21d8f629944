"""Failures reach the user as one line, a hint and the right exit code; never a traceback or a secret."""

import os
import subprocess
import sys

SECRET = "Zq8SuperSecretValue42"
TOKEN = "CAISsecretStsTokenValue99"


def run(args, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "ALIYUN_", "ACKAUDIT_"))}
    proc = subprocess.run([sys.executable, "-m", "ackaudit", *args], capture_output=True, text=True,
                          env={**base, "ACKAUDIT_RETRY_BASE": "0.01", **env}, timeout=120)
    return proc


def test_unreachable_endpoint_is_one_line_naming_it(tmp_path):
    proc = run(["clusters"], HOME=str(tmp_path), ALIBABA_CLOUD_ACCESS_KEY_ID="dummy",
               ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET, ALIBABA_CLOUD_REGION_ID="cn-hangzhou",
               ACKAUDIT_CS_ENDPOINT="http://127.0.0.1:1")
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: cannot reach ACK at http://127.0.0.1:1: connection refused"]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_no_credentials_exits_4(tmp_path):
    proc = run(["clusters"], HOME=str(tmp_path), ALIBABA_CLOUD_REGION_ID="cn-hangzhou")
    assert proc.returncode == 4
    assert proc.stderr.startswith("error: no Alibaba Cloud credentials found")


def test_no_region_is_a_usage_error(tmp_path):
    proc = run(["clusters"], HOME=str(tmp_path), ALIBABA_CLOUD_ACCESS_KEY_ID="x", ALIBABA_CLOUD_ACCESS_KEY_SECRET="y")
    assert proc.returncode == 2
    assert "no region" in proc.stderr


def test_bad_endpoint_setting_is_a_usage_error(tmp_path):
    proc = run(["clusters"], HOME=str(tmp_path), ALIBABA_CLOUD_ACCESS_KEY_ID="x", ALIBABA_CLOUD_ACCESS_KEY_SECRET="y",
               ALIBABA_CLOUD_REGION_ID="cn-hangzhou", ACKAUDIT_CS_ENDPOINT="ftp://what/ever")
    assert proc.returncode == 2
    assert "ACKAUDIT_CS_ENDPOINT" in proc.stderr


def test_verbose_run_never_prints_the_secret_or_token(tmp_path):
    proc = run(["-v", "clusters"], HOME=str(tmp_path), ALIBABA_CLOUD_ACCESS_KEY_ID="STS.dummy",
               ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET, ALIBABA_CLOUD_SECURITY_TOKEN=TOKEN,
               ALIBABA_CLOUD_REGION_ID="cn-hangzhou", ACKAUDIT_CS_ENDPOINT="http://127.0.0.1:1")
    assert "· ACK DescribeClustersV1" in proc.stderr  # the trace line is there
    output = proc.stdout + proc.stderr
    assert SECRET not in output and TOKEN not in output
