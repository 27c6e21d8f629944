"""Every option and argument of every command, given hostile values, against the sandbox.

The command tree is walked as Click sees it. Each option and argument that takes a value gets every
hostile value of its own kind (a time option the odd times, a URL option the broken URLs, a file
option the odd paths, a number option the out-of-range numbers) and every generic one (empty,
blank, 10,000 characters, control and bidi characters), one at a time, with the command's required
options set to valid values so that the hostile value is what is exercised. Then HOSTILE_EXAMPLES
(default 8) seeded random combinations per command mix several hostile values, valid values and
flags. HOSTILE_SEED changes the choices.

Every run must end as docs/errors.md says: no traceback, never "this is a bug", exit 0, 2 (usage),
3 (not found) or 5 (precondition); 1 only for an output path that cannot be written; never 4 (the
sandbox's credentials are right). Stderr stays short (a huge value is cut, not echoed), and no
control or bidi character typed by the user reaches the terminal unescaped.
"""

from __future__ import annotations

import gc
import os
import random
import resource
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from conftest import AUDITED_CLUSTER_ID, ELIGIBLE_CLUSTER_ID, Run

from ackaudit.cli import app
from ackaudit.cli._reference import command_paths

HOSTILE_EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "8"))
SEED = int(os.environ.get("HOSTILE_SEED", "1969"))

# Commands that cannot run in a test, and why.
SKIPPED_COMMANDS = {
    ("sandbox", "start"): "serves until Ctrl-C",
    ("alerts", "test"): "sends a message to the chat robots it is given (real hosts)",
}
# Options never given, and why.
SKIPPED_OPTIONS = {
    "--follow": "prints new events until Ctrl-C",
    "--e2e": "only on `alerts test`, skipped above",
}

C = AUDITED_CLUSTER_ID
TRACE_ID = "24b1236b"      # a session of the sandbox's audited cluster (the help's examples)
EVENT_ID = "3e33e192"

# -- hostile values, by kind ----------------------------------------------------------------------
DIRECTORY = "<a directory>"   # replaced by a directory (with a file in it) under tmp_path
LONG = "x" * 10_000
TEXT = ["", "   ", LONG, "\x1b[31mred\x07", "\u202eevil", "\r\n"]     # NUL cannot be in argv
NUMBERS = ["-1", "0", "99999999999999999999", "1e309", "nan"]
TIMES = ["3000000d", "999999999999d", "0", "1969-12-31", "9999-99-99", "2026-02-30T25:61"]
URLS = ["http://[::1", "https://x:99999/", "https://" + "h" * 10_000 + ".example.com/x?key=k"]
PATHS = ["/proc/version", "/dev/full", DIRECTORY]
KINDS = {"text": TEXT, "number": NUMBERS, "time": TIMES, "url": URLS, "path": PATHS}

# Characters typed by the user that must never reach the terminal as they are (docs/output.md).
RAW = ("\x1b", "\x07", "\u202e")

# Valid values, to fill required options and to keep company with a hostile one.
PLAUSIBLE = {
    "--since": "7d", "--limit": "5", "--lang": "en", "--namespace": "payments", "--process": "rm",
    "--days": "30", "--hot-days": "7", "--retention": "90", "--timeout": "60", "--seed": "7",
    "--timezone": "Asia/Shanghai", "--kind": "exec", "--user": "2901746385019274", "--output": "json",
}


def kind_of(param) -> str:
    type_name = type(param.type).__name__
    if type_name in ("IntRange", "FloatRange", "IntParamType", "FloatParamType"):
        return "number"
    if param.name in ("since", "from_", "to", "now", "days"):
        return "time"
    if param.name.endswith("_url"):
        return "url"
    if type_name == "TyperPath" or param.name in ("out", "source", "risky_programs", "exclude", "kubeconfig",
                                                  "state_dir"):
        return "path"
    return "text"


# -- the command tree -----------------------------------------------------------------------------
ROOT = typer.main.get_command(app)


def node(path: list[str]):
    command = ROOT
    for name in path:
        command = command.commands[name]
    return command


LEAVES = [tuple(p) for p in command_paths() if p and not hasattr(node(p), "commands")]


@dataclass(frozen=True)
class Param:
    name: str          # the long option ("--since"), or the argument's metavar ("TRACE_ID")
    kind: str
    argument: bool
    flag: bool


def params_of(path: tuple[str, ...]) -> list[Param]:
    out = []
    for p in node(list(path)).params:
        if getattr(p, "hidden", False):
            continue
        argument = p.param_type_name == "argument"
        name = p.human_readable_name if argument else max(p.opts, key=len)
        if name in SKIPPED_OPTIONS:
            continue
        out.append(Param(name, kind_of(p), argument, bool(getattr(p, "is_flag", False))))
    return out


def base_args(path: tuple[str, ...], run_number: int) -> dict[str, str]:
    """Valid values for what the command needs, so that it gets as far as the hostile value."""
    names = {p.name for p in params_of(path)}
    args: dict[str, str] = {}
    if "--cluster" in names:
        args["--cluster"] = ELIGIBLE_CLUSTER_ID if path == ("enable",) else C
    if path == ("export",):
        args["--out"] = f"export-{run_number}.jsonl"
    if path[0] == "alerts" and "--slack-url" in names:
        args["--slack-url"] = "https://hooks.slack.com/services/T0000000000/B0000000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    if "TRACE_ID" in names:
        args["TRACE_ID"] = TRACE_ID
    if "EVENT_ID" in names:
        args["EVENT_ID"] = EVENT_ID
    return args


def argv(path: tuple[str, ...], values: dict[str, str], flags: list[str], params: list[Param]) -> list[str]:
    arguments = {p.name for p in params if p.argument}
    line = list(path)
    for name, value in values.items():
        if name not in arguments:
            line += [name, value]
    line += flags
    positional = [values[name] for name in values if name in arguments]
    if positional:
        line += ["--", *positional]     # a value like "-1" is then the argument, not an option
    return line


# -- one run ----------------------------------------------------------------------------------------
class Hung(BaseException):
    """Raised by the alarm: not an Exception, so that no error boundary can swallow it."""


RUN_TIMEOUT = 60            # seconds; a run that blocks fails instead of hanging the test
MEMORY_HEADROOM = 4 << 30   # bytes; a run that reads without bound fails with MemoryError instead


def shorten(line: list[str]) -> str:
    return "[" + ", ".join(repr(a) if len(a) <= 40 else repr(a[:30]) + f"…({len(a)} chars)" for a in line) + "]"


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def problems(run: Run, line: list[str]) -> list[str]:
    """What is wrong with how a run ended (empty when it ended as docs/errors.md says)."""
    found = []
    both = run.stdout + run.stderr
    errors = [x for x in run.stderr.splitlines() if x.startswith("error:")]
    if "Traceback" in both:
        found.append("a traceback")
    if "this is a bug" in both:
        found.append('"this is a bug"')
    if run.exit_code == 1:
        if not (errors and errors[0].startswith("error: cannot write")):
            found.append("exit 1 that is not `error: cannot write` an output path")
    elif run.exit_code not in (0, 2, 3, 5):
        found.append(f"exit {run.exit_code}")
    if len(run.stderr) >= 5000:
        found.append(f"{len(run.stderr)} characters of stderr")
    for char in RAW:
        if char in both and any(char in arg for arg in line):
            found.append(f"a raw {char!r} from the command line in the output")
    return found


@pytest.fixture
def attempt(cli, tmp_path, monkeypatch):
    """Run one command line; returns what is wrong with how it ended, naming the command line."""
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "a-directory"
    directory.mkdir()
    (directory / "something.txt").write_text("not ackaudit's\n")

    def on_alarm(signum, frame):
        raise Hung()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)

    def run(line: list[str]) -> tuple[Run | None, list[str]]:
        line = [str(directory) if a == DIRECTORY else a for a in line]
        limit = _address_space() + MEMORY_HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
        signal.alarm(RUN_TIMEOUT)
        try:
            result = cli(*line)
        except Hung:
            return None, [f"ackaudit {shorten(line)}: still running after {RUN_TIMEOUT} s"]
        except BaseException as exc:  # noqa: BLE001 - whatever escapes the CLI is the finding
            return None, [f"ackaudit {shorten(line)}: raised {type(exc).__name__}: {str(exc)[:300]}"]
        finally:
            signal.alarm(0)
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        found = problems(result, line)
        if not found:
            return result, []
        return result, [f"ackaudit {shorten(line)}: {', '.join(found)}; exit {result.exit_code}\n"
                        f"    stderr: {result.stderr[:400]!r}\n    stdout: {result.stdout[:200]!r}"]

    yield run
    signal.signal(signal.SIGALRM, previous)
    # A run that failed leaves its SDK clients in reference cycles, their keep-alive connections
    # open until collected; the sandbox's stop() would wait 5 s for them.
    gc.collect()


# -- the lines to run -------------------------------------------------------------------------------
def one_at_a_time(path: tuple[str, ...], rng: random.Random) -> Iterator[list[str]]:
    """Each option and argument with every hostile value of its kind and every generic one."""
    params = params_of(path)
    number = 0
    for param in (p for p in params if not p.flag):
        values = KINDS[param.kind] + TEXT
        rng.shuffle(values)
        for value in dict.fromkeys(values):
            number += 1
            given = base_args(path, number)
            given.pop(param.name, None)
            given[param.name] = value
            yield argv(path, given, [], params)


def combinations(path: tuple[str, ...], rng: random.Random) -> Iterator[list[str]]:
    """HOSTILE_EXAMPLES lines, each with one to three hostile values, valid values and flags."""
    params = params_of(path)
    valued = [p for p in params if not p.flag]
    flags = [p.name for p in params if p.flag]
    for number in range(HOSTILE_EXAMPLES):
        given = base_args(path, 1000 + number)
        for param in rng.sample(valued, min(len(valued), rng.randint(1, 3))):
            pool = KINDS[param.kind] if rng.random() < 0.6 else sum(KINDS.values(), [])
            given.pop(param.name, None)
            given[param.name] = rng.choice(pool)
        for param in valued:
            if param.name in PLAUSIBLE and param.name not in given and rng.random() < 0.3:
                given[param.name] = PLAUSIBLE[param.name]
        chosen = rng.sample(flags, min(len(flags), rng.randint(0, 2)))
        yield argv(path, given, chosen, params)


RUNNABLE = [p for p in LEAVES if p not in SKIPPED_COMMANDS]


def test_the_tree_is_walked_and_few_commands_are_skipped():
    assert len(LEAVES) >= 18
    assert set(SKIPPED_COMMANDS) <= set(LEAVES)
    assert len(RUNNABLE) == len(LEAVES) - len(SKIPPED_COMMANDS)
    assert all(any(not p.flag for p in params_of(path)) for path in RUNNABLE)


@pytest.mark.parametrize("path", RUNNABLE, ids=" ".join)
def test_hostile_values_end_as_the_exit_code_table_says(attempt, path):
    rng = random.Random(f"{SEED}:{' '.join(path)}")
    failures = []
    for line in [*one_at_a_time(path, rng), *combinations(path, rng)]:
        failures += attempt(line)[1]
    assert not failures, f"{len(failures)} command lines ended badly:\n" + "\n".join(failures)


# -- cases known to have been problems --------------------------------------------------------------


@pytest.mark.parametrize("line", [
    ["alerts", "setup", "--cluster", C, "--dingtalk-url", "https://oapi.dingtalk.com/" + "x" * 10_000],
    ["alerts", "setup", "--cluster", C, "--dingtalk-url", LONG],
    ["report", "--cluster", C, "--since", "3000000d"],
    ["report", "--cluster", C, "--since", "999999999999d"],
    ["export", "--cluster", C, "--out", "a.jsonl", "--since", "3000000d"],
    ["export", "--cluster", C, "--out", "a.jsonl", "--since", "999999999999d"],
    ["query", "--cluster", C, "--region", "x" * 100_000],
    ["query", "--cluster", C, "--region", "bad region!"],
    ["query", "--cluster", C, "--where", ")"],
    ["query", "--cluster", C, "--where", "and"],
    ["query", "--cluster", C, "--trace", ""],
    ["query", "--cluster", C, "--pod", ""],
    ["query", "--cluster", C, "--user", ""],
], ids=lambda line: shorten(line)[:70])
def test_known_hostile_lines_are_usage_errors(attempt, line):
    run, found = attempt(line)
    assert not found, found[0]
    assert run.exit_code == 2, f"ackaudit {shorten(line)}: exit {run.exit_code}: {run.stderr[:400]!r}"
    assert run.stderr.startswith("error: "), run.stderr[:400]
    assert len(run.stderr) < 1000 and not Path("a.jsonl").exists()
