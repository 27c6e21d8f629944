"""`--help` and completion must not pay for the cloud SDKs, kubernetes, duckdb or rich."""

import subprocess
import sys

import pytest

HEAVY = ("kubernetes", "aliyunsdkcore", "aliyunsdkcs", "aliyun.log", "duckdb", "sqlglot", "rich",
         "alibabacloud_credentials")


def _imported_modules(*args: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "ackaudit", *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


@pytest.mark.parametrize("args", [("--help",), ("query", "--help"), ("alerts", "setup", "--help"), ("--version",)])
def test_help_imports_no_heavy_package(args):
    modules = _imported_modules(*args)
    assert "ackaudit.cli" in modules  # the measurement itself works
    loaded = sorted(m for m in modules for heavy in HEAVY if m == heavy or m.startswith(heavy + "."))
    assert loaded == []


@pytest.mark.parametrize("command", [("query", "--since", "1h"), ("status",)])
def test_a_cluster_command_does_not_import_kubernetes(sandbox, command, tmp_path):
    """Finding the SLS project needs no Kubernetes client when the cheap sources find the logstore,
    and `status` reads nodes, DaemonSets and pods with one GET each. Nor does the ACK SDK load
    `cryptography` for a key-pair signer ackaudit never uses."""
    import os

    from ackaudit.sandbox.world_clusters import AUDITED_CLUSTER_ID

    # Nothing remembered: the project is looked up through ACK.
    env = {**os.environ, **sandbox.client_env(), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "ackaudit", command[0], "--cluster",
                           AUDITED_CLUSTER_ID, *command[1:]], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    if command[0] == "status":
        assert "nodes" in proc.stdout.lower(), proc.stdout                # coverage was read
    names = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    assert {"aliyun.log", "aliyunsdkcore.client"} <= names          # the measurement itself works
    assert not [m for m in names if m.split(".")[0] in ("kubernetes", "cryptography")]
