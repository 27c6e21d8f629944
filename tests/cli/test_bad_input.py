"""Bad input gets one `error:` line saying what is expected and the right exit code, before any
call or change: never the "unexpected ... this is a bug" message, never a traceback."""

from __future__ import annotations

import pytest
from conftest import AUDITED_CLUSTER_ID, ELIGIBLE_CLUSTER_ID, Run
from typer.testing import CliRunner

from ackaudit.cli import _globals, app

C = AUDITED_CLUSTER_ID


@pytest.fixture
def run_with(sandbox):
    """Run the CLI against the served sandbox with some settings changed."""

    def run(*args: str, **env: str) -> Run:
        _globals.reset()
        full = {**sandbox.client_env(), "ACKAUDIT_RETRY_BASE": "0.01", **env}
        result = CliRunner().invoke(app, list(args), env=full, catch_exceptions=False)
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


def assert_usage(result: Run, *expected: str, code: int = 2) -> None:
    assert result.exit_code == code, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: ") and "this is a bug" not in result.stderr and "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr
    assert len(result.stderr) < 600, result.stderr   # nothing echoed in full
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["query"], ["report"], ["export", "--out", "OUT"], ["session", "abc"]])
@pytest.mark.parametrize("since, expected", [("3000000d", "out of range"), ("999999999999d", "out of range"),
                                             ("0", "needs a unit"), ("7", "needs a unit")])
def test_since_out_of_range_or_without_unit(cli, tmp_path, sandbox, command, since, expected):
    args = [str(tmp_path / "x.jsonl") if a == "OUT" else a for a in command]
    result = cli(*args, "--cluster", C, "--since", since)
    assert_usage(result, "--since", expected)
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.parametrize("region", ["bad region!", "x" * 100_000, ""])
def test_bad_region_is_refused_before_any_call(run_with, sandbox, region):
    before = len(sandbox.recent_requests())
    result = run_with("query", "--cluster", C, "--region", region)
    assert_usage(result, "is not a region id")
    assert len(sandbox.recent_requests()) == before


@pytest.mark.parametrize("name, value", [
    ("ACKAUDIT_INCOMPLETE_RETRIES", "abc"), ("ACKAUDIT_RETRY_BASE", "abc"), ("ACKAUDIT_RETRY_BASE", "-1"),
    ("ACKAUDIT_RETRY_BASE", "nan"), ("ACKAUDIT_POLL_INTERVAL", "soon"),
    ("ACKAUDIT_SLS_ENDPOINT", "http://[::1"), ("ACKAUDIT_CS_ENDPOINT", "http://[::1"),
    ("ACKAUDIT_CS_ENDPOINT", "http://127.0.0.1:99999"), ("ACKAUDIT_SLS_ENDPOINT", "ftp://127.0.0.1"),
    ("ACKAUDIT_CS_ENDPOINT", "http://bad host!"), ("ACKAUDIT_SLS_ENDPOINT", "x" * 100_000),
])
def test_bad_settings_name_the_variable(run_with, sandbox, name, value):
    before = len(sandbox.recent_requests())
    assert_usage(run_with("enable", "--cluster", ELIGIBLE_CLUSTER_ID, **{name: value}), name)
    assert_usage(run_with("query", "--cluster", C, **{name: value}), name)
    assert len(sandbox.recent_requests()) == before   # stopped before any call


@pytest.mark.parametrize("where, position", [(")", 0), ("and", 0), ("process.name: rm or", 19)])
def test_where_syntax_errors_point_into_the_users_text(cli, where, position):
    assert_usage(cli("query", "--cluster", C, "--where", where), "--where", f"at position {position}:")


def test_where_cannot_escape_the_other_filters(cli):
    result = cli("query", "--cluster", C, "--pod", "payments/none-such", "--where", "x) or (*", "--limit", "0")
    assert_usage(result, "--where")


@pytest.mark.parametrize("option", ["--trace", "--pod", "--user", "--namespace", "--process", "--container",
                                    "--node", "--image", "--where"])
def test_empty_filter_values_are_refused(cli, option):
    assert_usage(cli("query", "--cluster", C, option, ""), f"{option} is empty")


def test_a_pod_without_its_name_says_what_is_expected(cli):
    assert_usage(cli("query", "--cluster", C, "--pod", "payments/"), "namespace/name")


def test_a_wrong_secret_is_one_line_pointing_at_the_secret(run_with):
    result = run_with("status", "--cluster", C, ALIBABA_CLOUD_ACCESS_KEY_SECRET="wrong-secret")
    assert result.exit_code == 4
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: ")
    assert "string to sign" not in result.stderr and "AccessKey secret" in lines[1]


def test_a_wrong_secret_on_sls_is_one_line_too(sandbox):
    from ackaudit.cloud.credentials import CredentialSource, StaticCredentials, StaticProvider
    from ackaudit.cloud.endpoints import parse_endpoint
    from ackaudit.cloud.sls import SlsClient
    from ackaudit.errors import ApiError
    from ackaudit.sandbox.state import DEFAULT_REGION, SANDBOX_ACCESS_KEY_ID

    creds = StaticProvider(StaticCredentials(SANDBOX_ACCESS_KEY_ID, "wrong-secret"))
    client = SlsClient(DEFAULT_REGION, parse_endpoint(sandbox.url, name="x"), CredentialSource("t", lambda: creds))
    with pytest.raises(ApiError) as caught:
        client.get_project(f"k8s-log-{C}")
    assert caught.value.exit_code == 4 and "\n" not in caught.value.message
    assert "AccessKey secret" in caught.value.hint


def test_cluster_not_found_has_one_wording(cli):
    lines = {cli(command, "--cluster", "cnosuch").stderr.splitlines()[0].split(" (request id")[0]
             for command in ("status", "query", "retention", "doctor", "report")}
    assert lines == {"error: cluster cnosuch not found in region cn-hangzhou"}


def test_a_huge_cluster_id_is_not_echoed_in_full(cli):
    result = cli("status", "--cluster", "x" * 100_000 + "!")
    assert result.exit_code == 2 and len(result.stderr) < 600


@pytest.mark.parametrize("command", [
    ["query", "--cluster", C, "--risky-programs", "FILE"],
    ["report", "--cluster", C, "--risky-programs", "FILE"],
    ["alerts", "plan", "--cluster", C, "--webhook-url", "https://hooks.example.com/a", "--risky-programs", "FILE"],
    ["alerts", "plan", "--cluster", C, "--webhook-url", "https://hooks.example.com/a", "--exclude", "FILE"],
    ["status", "--cluster", C, "--kubeconfig", "FILE"],
])
@pytest.mark.parametrize("path, expected", [("/dev/full", "larger than 4 MiB"), ("/dev/zero", "larger than 4 MiB"),
                                            ("x" * 10_000, "File name too long"), ("DIR", "Is a directory")])
def test_a_file_to_read_that_never_ends_or_cannot_be_opened_is_one_short_error(cli, tmp_path, command, path,
                                                                                expected):
    line = [(str(tmp_path) if path == "DIR" else path) if a == "FILE" else a for a in command]
    assert_usage(cli(*line), "cannot read", expected)


@pytest.mark.parametrize("command", [["status"], ["doctor"], ["retention"]])
def test_an_unknown_context_is_named_and_cut(cli, command):
    result = cli(*command, "--cluster", C, "--context", "x" * 10_000)
    assert_usage(result, "--context", "is not in the kubeconfig", "(10000 characters)")


@pytest.mark.parametrize("command", ["session", "event"])
def test_a_huge_id_is_not_found_and_not_echoed_in_full(cli, command):
    result = cli(command, "--cluster", C, "x" * 10_000)
    assert_usage(result, f"no {command} 'xxx", "(10000 characters)", code=3)


@pytest.mark.parametrize("command", [["query"], ["session", "24b1236b"], ["event", "3e33e192"], ["report"]])
def test_a_source_name_too_long_for_the_file_system_is_a_short_usage_error(cli, command):
    assert_usage(cli(*command, "--source", "x" * 10_000), "cannot read: File name too long", "(10000 characters)")


@pytest.mark.parametrize("command", [["query"], ["report"], ["export", "--out", "OUT"]])
def test_an_empty_window_is_a_usage_error_not_a_refused_search(cli, tmp_path, command):
    args = [str(tmp_path / "x.jsonl") if a == "OUT" else a for a in command]
    assert_usage(cli(*args, "--cluster", C, "--to", "0"), "the window is empty")
    assert_usage(cli(*args, "--cluster", C, "--from", "2026-11-28", "--to", "2026-11-28"), "the window is empty")
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.parametrize("command", [["export"], ["report"]])
@pytest.mark.parametrize("out", ["x" * 10_000, "x" * 10_000 + ".jsonl", "/nonexistent/" + "d" * 1_000 + "/a.md"])
def test_a_huge_out_is_named_cut(cli, command, out):
    result = cli(*command, "--cluster", C, "--out", out)
    first = result.stderr.splitlines()[0]
    assert result.exit_code in (1, 2) and first.startswith(("error: cannot write", "error: which format",
                                                            "error: cannot tell the format", "error: --format"))
    assert "characters)" in first and len(result.stderr) < 1000 and "this is a bug" not in result.stderr


_BAD_TIMES = [
    ("a.jsonl", '{"__time__":"abc","time":"x"}\n', "line 1: a value of the wrong type"),
    ("b.jsonl", '{"__time__":1e999}\n', "line 1: a value of the wrong type"),
    ("c.jsonl", '{"__time__":99999999999999999}\n', "line 1: no usable time"),
    ("d.jsonl", '{"time":"9999-12-31T23:59:59Z"}\n', "line 1: no usable time"),
    ("e.jsonl", '{"time":"0001-01-01T00:00:00+14:00"}\n', "line 1: no usable time"),
    ("f.jsonl", '{"__time__":-99999999999}\n', "line 1: no usable time"),
    ("g.jsonl", '{"__time__":"inf","k8s":{}}\n', "line 1: no usable time"),
    ("h.jsonl", '{"__time__":"nan"}\n', "line 1: a value of the wrong type"),
    ("i.jsonl", '{"__time__":[1]}\n', "line 1: a value of the wrong type"),
    ("j.jsonl", '{"__time__":1,"process.pid":1e999}\n', "line 1: a value of the wrong type"),
    ("k.jsonl", "[" * 100_000 + "]" * 100_000 + "\n", "not valid JSON: nested too deeply"),
    ("l.jsonl", '{"__time__":1}\n' + "[" * 100_000 + "]" * 100_000 + "\n", "line 2: not valid JSON: nested too deeply"),
    ("a.csv", "__time__,kind\nabc,Command\n", "line 2: a value of the wrong type"),
    ("b.csv", "__time__,kind\n-1e20,Command\n", "line 2: no usable time"),
    ("c.csv", "__time__,kind\n99999999999,Command\n", "line 2: no usable time"),
]


@pytest.mark.parametrize("command", [["query"], ["report"], ["session", "abcdef"]])
@pytest.mark.parametrize("name, text, expected", _BAD_TIMES, ids=[n for n, _, _ in _BAD_TIMES])
def test_a_source_row_with_a_time_sls_cannot_hold_is_named(cli, tmp_path, command, name, text, expected):
    """Times and numbers in a file are anyone's writing: each is a usage error naming the line, from
    the DuckDB way (which sends such a file the Python way) as from the Python way."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert_usage(cli(*command, "--source", str(path)), expected)


def test_a_parquet_source_with_a_time_sls_cannot_hold_is_named(cli, tmp_path):
    import duckdb

    path = tmp_path / "late.parquet"
    duckdb.sql(f"COPY (SELECT 99999999999::BIGINT AS __time__, 'Command' AS kind) TO '{path}' (FORMAT parquet)")
    assert_usage(cli("query", "--source", str(path)), "row 1: no usable time")


@pytest.mark.parametrize("value", ["abc", "-1", "1e999", "nan"])
def test_a_bad_source_cache_size_is_a_usage_error(run_with, tmp_path, value):
    path = tmp_path / "a.jsonl"
    path.write_text('{"__time__":1700000000,"kind":"Command"}\n', encoding="utf-8")
    assert_usage(run_with("query", "--source", str(path), ACKAUDIT_SOURCE_CACHE_MB=value),
                 "ACKAUDIT_SOURCE_CACHE_MB=", "is not a number from 0 to 1048576")


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_an_e2e_timeout_that_is_no_number_of_seconds_is_refused(cli, value):
    """nan passes `min=1`, and a deadline of nan or inf seconds is never reached: the test would wait forever."""
    result = cli("alerts", "test", "--cluster", C, "--e2e", "--timeout", value)
    assert result.exit_code == 2 and f"{value} is not a number of seconds" in result.stderr


def test_a_pod_without_e2e_is_a_usage_error(cli):
    assert_usage(cli("alerts", "test", "--cluster", C, "--pod", "a/b"), "--pod goes with --e2e")


def test_a_cluster_id_with_a_trailing_newline_is_not_a_cluster_id(cli):
    result = cli("status", "--cluster", C + "\n")
    assert result.exit_code == 2 and "is not a cluster id" in result.stderr


def test_follow_with_an_end_is_a_usage_error(cli):
    """Following prints what arrives after now: an end in the past was silently ignored."""
    assert_usage(cli("query", "--cluster", C, "--follow", "--from", "2026-11-30", "--to", "2026-12-01"),
                 "--follow prints events as they arrive")
