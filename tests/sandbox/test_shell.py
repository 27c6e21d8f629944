"""The sandbox's tiny shell: syntax, programs, filesystem and the process tree it reports."""

from __future__ import annotations

import time

import pytest

from ackaudit.sandbox.shell import PROGRAMS, FileSystem, Io, Proc, Shell

RUNC = Proc(1000, "runc")


class Container:
    """A shell over a fresh filesystem, recording every process start."""

    def __init__(self, interactive: bool = False, stdin: str = "") -> None:
        self.started: list[tuple[int, list[str], str, Proc]] = []
        self.shell = Shell(FileSystem("web-1", PROGRAMS), hostname="web-1", kernel="5.10.134-18.al8.x86_64",
                           env={"HOME": "/root", "PATH": "/bin"}, spawn=self._spawn, interactive=interactive,
                           sleep_cap=0.05)
        self.stdin = stdin

    def _spawn(self, argv: list[str], cwd: str, parent: Proc) -> int:
        pid = RUNC.pid + len(self.started) + 1
        self.started.append((pid, argv, cwd, parent))
        return pid

    def run(self, *argv: str) -> tuple[str, str, int]:
        out, err = [], []
        code = self.shell.run_argv(list(argv), RUNC, Io(out.append, err.append, lambda: self.stdin))
        return "".join(out), "".join(err), code

    def sh(self, script: str) -> tuple[str, str, int]:
        return self.run("sh", "-c", script)

    def names(self) -> list[str]:
        return [argv[0] for _, argv, _, _ in self.started]


@pytest.fixture
def box() -> Container:
    return Container()


def test_shell_children_hang_off_the_shell_process(box):
    assert box.sh("touch a.txt && rm a.txt") == ("", "", 0)
    (shell_pid, shell_argv, _, shell_parent), touch, rm = box.started
    assert shell_argv == ["sh", "-c", "touch a.txt && rm a.txt"] and shell_parent == RUNC
    assert touch[1] == ["touch", "a.txt"] and touch[3] == Proc(shell_pid, "sh")
    assert rm[1] == ["rm", "a.txt"] and rm[3] == Proc(shell_pid, "sh")


def test_a_program_run_directly_is_a_child_of_runc(box):
    assert box.run("id") == ("uid=0(root) gid=0(root) groups=0(root)\n", "", 0)
    assert box.started == [(1001, ["id"], "/", RUNC)]


def test_and_or_and_sequences_follow_exit_codes(box):
    out, _, code = box.sh("false && echo no; true || echo no; false || echo yes; echo $?")
    assert (out, code) == ("yes\n0\n", 0)
    assert box.names() == ["sh", "false", "true", "false", "echo", "echo"]
    assert box.sh("true; false")[2] == 1


def test_quotes_escapes_variables_and_comments(box):
    out, _, _ = box.sh("""echo 'a  $HOME' "b  $HOME" c\\ d ${HOME}x "q\\"q" # not printed""")
    assert out == 'a  $HOME b  /root c d /rootx q"q\n'


def test_unknown_programs_fail_with_127_and_start_no_process(box):
    assert box.sh("kubectl get pods") == ("", "sh: 1: kubectl: not found\n", 127)
    assert box.run("bash", "-c", "nmap") == ("", "bash: nmap: command not found\n", 127)
    assert box.names() == ["sh", "bash"]


def test_files_directories_and_their_errors(box):
    assert box.sh("mkdir -p /srv/app/logs && cd /srv/app && touch logs/a.txt && pwd && ls logs") == (
        "/srv/app\na.txt\n", "", 0)
    assert box.sh("cat /srv/app/missing") == ("", "cat: /srv/app/missing: No such file or directory\n", 1)
    assert box.sh("rm /srv/app") == ("", "rm: cannot remove '/srv/app': Is a directory\n", 1)
    assert box.sh("rm -r /srv/app && ls /srv") == ("", "", 0)
    assert box.sh("rm -f /nothing")[2] == 0
    assert box.sh("touch /no/dir/file")[2] == 1
    assert box.sh("mkdir /tmp")[1] == "mkdir: cannot create directory '/tmp': File exists\n"
    assert box.sh("cd /nowhere") == ("", "sh: cd: /nowhere: No such file or directory\n", 2)


def test_redirections_and_pipes(box):
    assert box.sh("echo one > /tmp/f; echo two >> /tmp/f; cat /tmp/f") == ("one\ntwo\n", "", 0)
    assert box.sh("cat /missing 2>/dev/null") == ("", "", 1)
    assert box.sh("cat /missing 2>&1") == ("cat: /missing: No such file or directory\n", "", 1)
    assert box.sh("echo piped | cat") == ("piped\n", "", 0)
    assert box.sh("echo x > /nodir/f") == ("", "sh: cannot create /nodir/f: Directory nonexistent\n", 2)


def test_syntax_errors_exit_2(box):
    assert box.sh("echo 'open")[2] == 2
    assert box.sh("&& ls")[2] == 2
    assert box.sh("ls &&")[2] == 2


def test_system_programs(box):
    assert box.run("uname", "-r")[0] == "5.10.134-18.al8.x86_64\n"
    assert box.run("uname", "-a")[0].startswith("Linux web-1 5.10.134")
    assert box.run("hostname")[0] == "web-1\n" and box.run("whoami")[0] == "root\n"
    assert "HOME=/root\n" in box.run("env")[0]
    assert box.run("date")[0].endswith("UTC " + time.strftime("%Y", time.gmtime()) + "\n")
    assert "echo" in box.run("ls", "/bin")[0].split()


def test_sleep_is_bounded(box):
    started = time.monotonic()
    assert box.run("sleep", "3600")[2] == 0
    assert time.monotonic() - started < 1
    assert box.run("sleep", "soon") == ("", "sleep: invalid time interval 'soon'\n", 1)


def test_a_shell_without_a_script_reads_stdin():
    box = Container(stdin="echo from stdin\n")
    assert box.run("sh") == ("from stdin\n", "", 0)


def test_interactive_prompts_nest_and_exit():
    box = Container(interactive=True)
    box.run("bash")
    shell = box.shell
    io = Io(lambda s: None, lambda s: None)
    shell.run_line("cd /tmp", io)
    assert shell.prompt() == "root@web-1:/tmp# "
    shell.run_line("sh", io)                 # a nested prompt, child of the first shell
    assert box.started[-1][3] == Proc(box.started[0][0], "bash") and shell.prompt() == "# "
    shell.run_line("exit 3", io)
    assert [p.name for p in shell.shells] == ["bash"] and shell.status == 3
    shell.run_line("exit", io)
    assert shell.shells == []
