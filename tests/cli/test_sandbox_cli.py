"""The sandbox as a newcomer meets it: no account, no configuration, one flag."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from lines import lines_within


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
    shown = json.loads(run.stdout)
    assert shown.pop("now").endswith("Z")
    assert shown == {"state_dir": str(state_dir), "replaced": False, "seed": 5}
    again = ackaudit("sandbox", "reset", "--state-dir", str(state_dir), env=env)
    assert again.returncode == 0 and "fresh sandbox world" in again.stderr


@pytest.mark.parametrize("output", ["table", "json"])
def test_sandbox_start_serves_other_invocations(tmp_path, output):
    env = clean_env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "ackaudit", "sandbox", "start", "--state-dir",
                             str(tmp_path / "world"), "-o", output], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = lines_within(proc.stdout, 60)
        if output == "json":
            text = ""
            for line in lines:
                text += line
                try:
                    settings = json.loads(text)["env"]
                    break
                except ValueError:
                    continue
        else:
            settings = {}
            while len(settings) < 5:
                line = next(lines)
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


def events_in(state_dir):
    """(first, last) event time in the audited cluster's logstore, read straight from the world's file."""
    import duckdb

    with duckdb.connect(str(state_dir / "events.duckdb"), read_only=True) as db:
        table = db.execute("SELECT tbl FROM ackaudit_logstores WHERE logstore LIKE 'advaudit-cab2%'").fetchone()[0]
        return db.execute(f"SELECT min(__time__), max(__time__) FROM {table}").fetchone()


def test_reset_takes_a_fixed_instant_and_builds_the_same_world_from_it(tmp_path):
    env = clean_env(tmp_path)
    now = "2026-12-02T00:00:30+08:00"          # just after midnight in Shanghai, a Wednesday
    pinned = 1796140830                          # the same instant, computed by hand
    for name in ("a", "b"):
        run = ackaudit("sandbox", "reset", "--state-dir", str(tmp_path / name), "--now", now, "-o", "json", env=env)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["now"] == "2026-12-01T16:00:30Z"
    first, last = events_in(tmp_path / "a")
    assert pinned - 7 * 86400 <= first and last < pinned and last > pinned - 86400
    assert events_in(tmp_path / "a") == events_in(tmp_path / "b")
    assert json.loads((tmp_path / "a" / "world.json").read_text())["meta"]["now"] == pinned
    # and every command then sees that world
    env = clean_env(tmp_path, ACKAUDIT_SANDBOX_DIR=str(tmp_path / "a"))
    rows = ackaudit("--sandbox", "query", "--cluster", "cab2c17507494d8cdae1b9324d1d83793", "--from",
                    "2026-11-24T16:00:30Z", "--to", "2026-12-01T16:00:30Z", "--process", "mysql", "--limit", "0",
                    "-o", "json", env=env)
    assert rows.returncode == 0, rows.stderr
    assert json.loads(rows.stdout)


@pytest.mark.parametrize("now", ["yesterday", "2026-13-01", ""])
def test_reset_refuses_a_bad_now_before_touching_the_world(tmp_path, now):
    env = clean_env(tmp_path)
    assert ackaudit("sandbox", "reset", "--state-dir", str(tmp_path / "w"), env=env).returncode == 0
    before = (tmp_path / "w" / "world.json").read_bytes()
    run = ackaudit("sandbox", "reset", "--state-dir", str(tmp_path / "w"), "--now", now, env=env)
    assert run.returncode == 2 and run.stderr.startswith("error: --now") and "Traceback" not in run.stderr
    assert (tmp_path / "w" / "world.json").read_bytes() == before


def test_reset_refuses_an_empty_state_dir_and_deletes_nothing(tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "precious.txt").write_text("mine")
    run = subprocess.run([sys.executable, "-m", "ackaudit", "sandbox", "reset", "--state-dir", ""], cwd=cwd,
                         capture_output=True, text=True, env=clean_env(tmp_path), timeout=120)
    assert run.returncode == 2 and run.stderr.splitlines()[0] == "error: --state-dir is empty"
    assert sorted(p.name for p in cwd.iterdir()) == ["precious.txt"]


def test_reset_refuses_a_folder_that_is_not_a_sandbox_world(tmp_path):
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    (folder / "world.json").write_text("{}")        # even one named like ours
    run = ackaudit("sandbox", "reset", "--state-dir", str(folder), env=clean_env(tmp_path))
    assert run.returncode == 2 and "is not a sandbox world" in run.stderr.splitlines()[0]
    assert "Traceback" not in run.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.tex", "world.json"]
    # an empty folder is fine, and becomes a world
    (tmp_path / "empty").mkdir()
    assert ackaudit("sandbox", "reset", "--state-dir", str(tmp_path / "empty"), env=clean_env(tmp_path)).returncode == 0
    assert (tmp_path / "empty" / ".ackaudit-sandbox").exists()


def test_reset_deletes_only_the_worlds_own_files(tmp_path):
    env = clean_env(tmp_path)
    world = tmp_path / "w"
    assert ackaudit("sandbox", "reset", "--state-dir", str(world), env=env).returncode == 0
    (world / "notes.txt").write_text("kept")
    assert ackaudit("sandbox", "reset", "--state-dir", str(world), env=env).returncode == 0
    assert (world / "notes.txt").read_text() == "kept" and (world / "world.json").exists()


def start_server(tmp_path, state_dir, *args):
    proc = subprocess.Popen([sys.executable, "-m", "ackaudit", "sandbox", "start", "--state-dir", str(state_dir),
                             "-o", "json", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=clean_env(tmp_path))
    text = ""
    for _ in range(50):                    # the settings are one small JSON document
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.poll() is not None else "no settings printed"
        text += line
        try:
            return proc, json.loads(text)
        except ValueError:
            continue
    raise AssertionError(f"no settings in {text!r}")


def stop_server(proc):
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)


def test_reset_of_a_running_world_needs_force_and_warns(tmp_path):
    env = clean_env(tmp_path)
    world = tmp_path / "w"
    proc, settings = start_server(tmp_path, world)
    try:
        refused = ackaudit("sandbox", "reset", "--state-dir", str(world), env=env)
        assert refused.returncode == 2 and "is serving" in refused.stderr and "--force" in refused.stderr
        assert str(proc.pid) in refused.stderr and (world / "world.json").exists()
        inproc = ackaudit("--sandbox", "clusters", env=clean_env(tmp_path, ACKAUDIT_SANDBOX_DIR=str(world)))
        assert inproc.returncode == 1 and "served by `ackaudit sandbox start`" in inproc.stderr
        assert settings["url"] in inproc.stderr
        forced = ackaudit("sandbox", "reset", "--state-dir", str(world), "--force", env=env)
        assert forced.returncode == 0, forced.stderr
        assert "warning" in forced.stderr.lower() and "restart" in forced.stderr
    finally:
        stop_server(proc)
    assert not (world / "server.json").exists()


def test_start_on_a_busy_port_says_so(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = ackaudit("sandbox", "start", "--port", str(port), "--state-dir", str(tmp_path / "w"),
                       env=clean_env(tmp_path), timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.splitlines()[0] == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert not (tmp_path / "w" / "world.json").exists()           # refused before a world was built


@pytest.mark.parametrize("kind", ["file", "under a file", "not creatable"])
def test_start_with_an_unusable_state_dir_says_so(tmp_path, kind):
    (tmp_path / "plain").write_text("x")
    state_dir = {"file": tmp_path / "plain", "under a file": tmp_path / "plain" / "world",
                 "not creatable": "/proc/self/ackaudit-world"}[kind]
    run = ackaudit("sandbox", "start", "--state-dir", str(state_dir), env=clean_env(tmp_path), timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert lines[0].startswith("error: ") and str(state_dir) in lines[0] and lines[1].startswith("hint: ")
    assert (tmp_path / "plain").read_text() == "x"


# -- two commands at once: a `query --follow` in one terminal, others in another ----------------------
CLUSTER = "cab2c17507494d8cdae1b9324d1d83793"
MARKER = "echo shared-world-7f3a"


def wait_for(path, text, proc, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        content = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        if text in content:
            return content
        assert proc.poll() is None, f"the follower ended early: {content}"
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared in {path.name}")


WRITER = textwrap.dedent(f"""
    import sys, time
    from ackaudit.sandbox import open_sandbox
    from ackaudit.sandbox.events import SessionRecorder
    state = open_sandbox(sys.argv[1], shared_events=True)
    cluster = state.clusters["{CLUSTER}"]
    pod = next(p for p in cluster["pods"] if p["namespace"] == "payments")
    user = next(iter(cluster["users"].values()))
    rec = SessionRecorder(cluster, pod, pod["containers"][0]["name"], user, ["sh"], time.time())
    rec.command(["{MARKER.split()[0]}", "{MARKER.split()[1]}"], cwd="/", pid=4242, parent_pid=1,
                parent_name="sh", when=time.time())
    state.events.append("k8s-log-{CLUSTER}", "advaudit-{CLUSTER}", rec.rows())
    state.close()
""")


def test_a_follow_does_not_block_other_commands_and_sees_other_processes_writes(tmp_path):
    world = tmp_path / "world"
    env = clean_env(tmp_path, ACKAUDIT_SANDBOX_DIR=str(world), ACKAUDIT_SANDBOX="1")
    assert ackaudit("sandbox", "reset", "--state-dir", str(world), env=env).returncode == 0
    out, err = tmp_path / "follow.out", tmp_path / "follow.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        follower = subprocess.Popen([sys.executable, "-m", "ackaudit", "query", "--cluster", CLUSTER, "--follow",
                                     "--since", "1m", "-o", "jsonl"], stdout=stdout, stderr=stderr, env=env)
    try:
        wait_for(err, "following new events", follower)
        # another terminal: a query, then a session, while the follow runs
        rows = ackaudit("query", "--cluster", CLUSTER, "--since", "7d", "--risky", "--limit", "1", "-o", "json",
                        env=env, timeout=60)
        assert rows.returncode == 0, rows.stderr
        trace = json.loads(rows.stdout)[0]["traceId"]
        session = ackaudit("session", trace, "--cluster", CLUSTER, "-o", "json", env=env, timeout=60)
        assert session.returncode == 0, session.stderr
        assert json.loads(session.stdout)["trace_id"] == trace
        # a third process writes into the world; the follower shows it
        writer = subprocess.run([sys.executable, "-c", WRITER, str(world)], capture_output=True, text=True,
                                timeout=60, env=env)
        assert writer.returncode == 0, writer.stderr
        shown = wait_for(out, "shared-world-7f3a", follower)
        assert any(json.loads(line).get("process.cmdline") == MARKER for line in shown.splitlines())
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=30)
    assert "Traceback" not in err.read_text()


@pytest.mark.parametrize("name", ["http://[::1", "s3://bucket/world"])
def test_a_state_dir_named_like_a_url_is_a_folder(tmp_path, name):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    run = subprocess.run([sys.executable, "-m", "ackaudit", "sandbox", "reset", "--state-dir", name, "-o", "json"],
                         cwd=cwd, capture_output=True, text=True, env=clean_env(tmp_path), timeout=120)
    assert run.returncode == 0, run.stderr
    assert (cwd / name.replace("//", "/") / "world.json").exists()


@pytest.mark.parametrize("option", ["--now", "--state-dir"])
def test_a_huge_now_or_state_dir_is_not_echoed_in_full(tmp_path, option):
    run = ackaudit("sandbox", "reset", option, "x" * 10_000, env=clean_env(tmp_path))
    assert run.returncode == 2 and run.stderr.startswith("error: ") and "(10000 characters)" in run.stderr
    assert len(run.stderr) < 600, run.stderr[:300]
