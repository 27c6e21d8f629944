"""A short-lived memory, on disk, of which SLS project holds each cluster's audit logstore.

Discovering the project takes a few ACK calls and sometimes a Kubernetes read (services/cluster.py);
the answer is kept for `ACKAUDIT_PROJECT_CACHE_TTL` seconds (default 300, 0 turns it off) in
`$XDG_CACHE_HOME/ackaudit/projects/` (`~/.cache/ackaudit/projects/`), one small JSON file per
cluster. The file's name is a hash of everything that identifies where the answer came from: the
access key (or the sandbox world's folder), the region, the ACK and SLS endpoints and the cluster, so
the sandbox and a real account, or two accounts, never share an entry, and no key appears in it.
Files are written atomically (a private temporary file renamed over the old one). An entry that is
missing, expired, from the future, unreadable or corrupt is simply not used: the cache can only
save time, never change an answer or fail a command. Whoever uses an entry checks it still holds
(cluster.py looks the logstore up in the remembered project) and forgets it when it does not.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FORMAT = 1


@dataclass(frozen=True)
class Entry:
    project: str
    source: str        # where discovery found it ("addon logtail-ds config", the ConfigMap...)
    saved_at: float    # epoch seconds

    def age(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.saved_at)


def cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "ackaudit" / "projects"


def entry_path(key: tuple[str, ...], env: Mapping[str, str] = os.environ) -> Path:
    digest = hashlib.sha256("\0".join(key).encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return cache_dir(env) / f"{digest}.json"


def load(key: tuple[str, ...], ttl: float, *, now: float | None = None,
         env: Mapping[str, str] = os.environ) -> Entry | None:
    """The entry for `key` if it is younger than `ttl` seconds and readable; else None."""
    if ttl <= 0:
        return None
    now = time.time() if now is None else now
    try:
        data = json.loads(entry_path(key, env).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        project, source, saved_at = data["project"], data["source"], float(data["saved_at"])
    except (OSError, ValueError, KeyError, TypeError, UnicodeError):
        return None
    if not (isinstance(project, str) and project and isinstance(source, str)):
        return None
    if not saved_at <= now + 5 or now - saved_at >= ttl:    # expired, or a clock that went back
        return None
    return Entry(project, source, saved_at)


def store(key: tuple[str, ...], project: str, source: str, *, now: float | None = None,
          env: Mapping[str, str] = os.environ) -> None:
    """Remember the answer; any failure to write is ignored (the cache is only an optimisation)."""
    path = entry_path(key, env)
    body = json.dumps({"format": FORMAT, "project": project, "source": source,
                       "saved_at": time.time() if now is None else now})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body)
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass


def forget(key: tuple[str, ...], env: Mapping[str, str] = os.environ) -> None:
    try:
        entry_path(key, env).unlink()
    except OSError:
        pass
