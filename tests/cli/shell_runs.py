"""Run command lines as a new user would type them: in a shell, in a fresh directory, with the
sandbox's world in a fresh data directory (XDG_DATA_HOME), `ackaudit` on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ackaudit.sandbox import open_sandbox

TIMEOUT = 180   # seconds for one command line; enable and disable wait for ACK tasks


@dataclass
class ShellRun:
    line: str
    exit_code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"`{self.line}` exited {self.exit_code}\nstdout:\n{self.stdout[-3000:]}\nstderr:\n{self.stderr[-3000:]}"


class Shell:
    """One user's machine: a home, a working directory and a sandbox world of their own."""

    def __init__(self, root: Path, world_template: Path, *, sandbox_env: bool) -> None:
        self.home = root / "home"
        self.cwd = root / "work"
        data = self.home / ".local" / "share"
        self.cwd.mkdir(parents=True)
        data.mkdir(parents=True)
        # Where `--sandbox` keeps its world by default, as a first run would build it.
        state_dir = data / "ackaudit" / "sandbox"
        shutil.copytree(world_template, state_dir)
        state = open_sandbox(state_dir)
        state.settings["task_delay"] = 0.2       # ACK tasks finish quickly; the behaviour is the same
        state.save()
        state.close()
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            "HOME": str(self.home), "XDG_DATA_HOME": str(data), "XDG_CONFIG_HOME": str(self.home / ".config"),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "LANG": "C.UTF-8", "NO_COLOR": "1", "ACKAUDIT_POLL_INTERVAL": "0.05",
        }
        # A suite run under faketime keeps its clock in the commands it starts.
        self.env.update({k: v for k, v in os.environ.items() if k.startswith("FAKETIME") or k == "LD_PRELOAD"})
        if sandbox_env:
            self.env["ACKAUDIT_SANDBOX"] = "1"

    def run(self, line: str) -> ShellRun:
        done = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        return ShellRun(line, done.returncode, done.stdout, done.stderr)
