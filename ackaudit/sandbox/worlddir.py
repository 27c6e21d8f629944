"""The folder a sandbox world lives in: which folders are worlds, who serves one, how to reset one.

A world's folder holds `world.json`, the events' DuckDB file and a marker file (`MARKER`), written
when the world is built. Nothing else is ever deleted: a reset removes the world's own files only,
and refuses a folder that is not a world (an absent or empty folder is fine). `ackaudit sandbox
start` records its pid and URL in `SERVER_FILE` while it runs, so a reset can tell it is running.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ackaudit.errors import UsageError, shown_path

MARKER = ".ackaudit-sandbox"
SERVER_FILE = "server.json"
EVENTS_FILE = "events.duckdb"
WORLD_FILE = "world.json"
# Everything a world writes (`.world.*.json` are save()'s temporary files).
_WORLD_FILES = (WORLD_FILE, EVENTS_FILE, f"{EVENTS_FILE}.wal", SERVER_FILE, MARKER)
_TEMPORARY = re.compile(r"\.world\..*\.json")


def _world_files(directory: Path) -> list[str]:
    return [name for name in os.listdir(directory) if name in _WORLD_FILES or _TEMPORARY.fullmatch(name)]


def is_world(directory: Path) -> bool:
    """A world's folder: it has the marker, or (a world built before there was a marker) nothing but
    a world's own files, `world.json` among them."""
    names = set(os.listdir(directory))
    if MARKER in names:
        return True
    return WORLD_FILE in names and names == set(_world_files(directory))


def check_state_dir(directory: Path, *, option: str = "--state-dir") -> None:
    """Raise a usage error unless `directory` can hold a world: absent, empty, or a world already."""
    if not str(directory).strip():
        raise UsageError(f"{option} is empty", hint="name the sandbox's folder, or leave the option out")
    text = shown_path(directory)
    try:
        if directory.exists() and not directory.is_dir():
            raise UsageError(f"{text} is not a folder", hint=f"give {option} a new or empty folder")
        if directory.is_dir():
            if os.listdir(directory) and not is_world(directory):
                raise UsageError(f"{text} is not a sandbox world (no {MARKER} in it) and not empty; "
                                 "leaving it alone", hint="name a new or empty folder, or a sandbox world's")
            return
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot use {text} for the sandbox: {exc.strerror or exc}",
                         hint="name a folder you can create and write") from None


def mark(directory: Path) -> None:
    """Record that `directory` holds a sandbox world."""
    (directory / MARKER).write_text("an ackaudit sandbox world: `ackaudit sandbox reset` may replace "
                                    "this folder's world files\n", encoding="utf-8")


def serving(directory: Path) -> dict | None:
    """The running `sandbox start` serving `directory` ({"pid", "url"}), or None."""
    try:
        info = json.loads((directory / SERVER_FILE).read_text(encoding="utf-8"))
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid == os.getpid():
        return info
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass                       # alive, someone else's
    return info


def announce(directory: Path, url: str) -> None:
    (directory / SERVER_FILE).write_text(json.dumps({"pid": os.getpid(), "url": url}), encoding="utf-8")


def withdraw(directory: Path) -> None:
    info = serving(directory)
    if info is not None and int(info["pid"]) == os.getpid():
        (directory / SERVER_FILE).unlink(missing_ok=True)


def remove_world(directory: Path) -> bool:
    """Delete the world's own files in `directory` (checked with `check_state_dir` first); returns
    whether there was a world. Files the world did not write stay."""
    if not directory.is_dir():
        return False
    names = _world_files(directory)
    for name in names:
        (directory / name).unlink(missing_ok=True)
    return WORLD_FILE in names or EVENTS_FILE in names
