"""Which commands deserve a second look.

Two sources of risk:
- the catalogue: programs that are risky whatever their arguments (the 29 names of ACK's
  "risky program" alert, bundled in `data/risky-programs.json`, or the user's own list);
- a few behaviours that are risky whichever program shows them, because intrusions rely on them
  and the catalogue cannot name them: decoding a hidden payload (`base64 -d`), running a program
  from a hidden file name, reading the service account token or the password hashes.
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ackaudit.audit.fields import KIND_COMMAND, OPERATION_POD_EXEC
from ackaudit.errors import UsageError, shown

CUSTOM_CATEGORY = "custom"
_CUSTOM_REASON = "Listed in your risky-program file."
# A program name as the audit log records it: no whitespace, quotes or the ':' of "name: reason".
_PROGRAM_NAME = re.compile(r"[^\s:'\"]+")


@dataclass(frozen=True)
class RiskyProgram:
    name: str
    category: str
    reason: str


def builtin_catalogue() -> dict[str, RiskyProgram]:
    """The bundled catalogue, by program name (a fresh dict: callers may change it)."""
    return dict(_bundled())


@functools.lru_cache(maxsize=1)
def _bundled() -> dict[str, RiskyProgram]:
    text = resources.files("ackaudit.data").joinpath("risky-programs.json").read_text(encoding="utf-8")
    return _from_json(json.loads(text), "the bundled risky-program list")


def load_catalogue(path: str) -> dict[str, RiskyProgram]:
    """A user's catalogue: JSON shaped like the bundled one, or one program per line ("name" or
    "name: reason"; blank lines and # comments are skipped)."""
    from ackaudit.userfiles import read_text

    text = read_text(path, "the risky-program file")
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"{path} is not valid JSON: {exc}") from None
        catalogue = _from_json(document, path)
    else:
        catalogue = _from_lines(text, path)
    if not catalogue:
        raise UsageError(f"{path} names no programs")
    return catalogue


def _from_json(document: Any, source: str) -> dict[str, RiskyProgram]:
    programs = document.get("programs") if isinstance(document, dict) else None
    if not isinstance(programs, list):
        raise UsageError(f'{source} has no "programs" list', hint='expected {"programs": [{"name": "curl", ...}]}')
    catalogue: dict[str, RiskyProgram] = {}
    for position, entry in enumerate(programs, start=1):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not _PROGRAM_NAME.fullmatch(name):
            raise UsageError(f"{source}: program #{position} has no valid \"name\"")
        catalogue[name] = RiskyProgram(name, str(entry.get("category") or CUSTOM_CATEGORY),
                                       str(entry.get("reason") or _CUSTOM_REASON))
    return catalogue


def _from_lines(text: str, source: str) -> dict[str, RiskyProgram]:
    catalogue: dict[str, RiskyProgram] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, _, reason = (part.strip() for part in stripped.partition(":"))
        if not _PROGRAM_NAME.fullmatch(name):
            raise UsageError(f"{source} line {number}: {shown(name)} is not a program name",
                             hint='one program per line: "curl" or "curl: why it is risky"')
        catalogue[name] = RiskyProgram(name, CUSTOM_CATEGORY, reason or _CUSTOM_REASON)
    return catalogue


def risk_of(event: dict[str, Any], catalogue: dict[str, RiskyProgram]) -> RiskyProgram | None:
    """Why this flat event is risky, or None: a catalogued program, run inside the container or
    directly by `kubectl exec`, or a risky behaviour of a command."""
    if event.get("kind") == KIND_COMMAND:
        name = program_name(event)
        return catalogue.get(name) or _behaviour_risk(name, str(event.get("process.cmdline") or "").split())
    if event.get("kubeObject.operation.kind") == OPERATION_POD_EXEC:
        argv = exec_argv(event)
        name = posixpath.basename(argv[0]) if argv else ""
        return (catalogue.get(name) or _behaviour_risk(name, argv)) if name else None
    return None


def program_name(event: dict[str, Any]) -> str:
    """The executable's base name (`/usr/bin/curl` -> `curl`), from process.name or the command line."""
    name = str(event.get("process.name") or "").strip()
    if not name:
        words = str(event.get("process.cmdline") or "").split(maxsplit=1)
        name = words[0] if words else ""
    return posixpath.basename(name)


def exec_argv(event: dict[str, Any]) -> list[str]:
    """The argv `kubectl exec` ran: the exec command list, else its string form split like a shell."""
    command = event.get("kubeObject.operation.podExecOptions.command")
    if isinstance(command, list) and command:
        return [str(word) for word in command]
    text = str(event.get("kubeObject.operation.podExecOptions.commandStr") or "")
    try:
        return shlex.split(text)
    except ValueError:                 # unbalanced quotes: the words are still worth having
        return text.split()


@dataclass(frozen=True)
class _Behaviour:
    category: str
    reason: str
    shows_in: Callable[[str, list[str]], bool]      # (program name, argv) -> does it show?


def _decodes(name: str, argv: list[str]) -> bool:
    flags = set(argv[1:])
    return (name in ("base64", "base32") and bool(flags & {"-d", "--decode", "-D"})) \
        or (name == "xxd" and bool(flags & {"-r", "-revert"}))


def _hidden_program(name: str, argv: list[str]) -> bool:
    return name.startswith(".") and name not in (".", "..")


_CREDENTIAL_FILES = ("/etc/shadow", "/etc/gshadow", "/run/secrets/kubernetes.io/serviceaccount")


def _reads_credentials(name: str, argv: list[str]) -> bool:
    return any(path in word for word in argv[1:] for path in _CREDENTIAL_FILES)


_BEHAVIOURS = (
    _Behaviour("obfuscation", "Decodes hidden content: payloads are shipped encoded to slip past inspection.",
               _decodes),
    _Behaviour("hidden-program", "Runs a program with a hidden file name, typical of dropped payloads.",
               _hidden_program),
    _Behaviour("credential-access", "Reads credentials: the pod's service account token or the password hashes.",
               _reads_credentials),
)


def _behaviour_risk(name: str, argv: list[str]) -> RiskyProgram | None:
    for behaviour in _BEHAVIOURS:
        if behaviour.shows_in(name, argv):
            return RiskyProgram(name, behaviour.category, behaviour.reason)
    return None
