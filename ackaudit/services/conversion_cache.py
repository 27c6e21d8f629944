"""The typed parquet a jsonl or csv `--source` was converted to, kept for the next command on the
same file.

Converting a million-event jsonl export takes about ten seconds; every later `query`, `session`,
`event` or `report --source` on the same file then starts from the copy kept here, in
`$XDG_CACHE_HOME/ackaudit/conversions/` (`~/.cache/ackaudit/conversions/`): about 70 MB per million
events. An entry is named by a hash of what identifies the file's content without reading it (its
real path, device, inode, size, modification and change times) and of ackaudit's version, so an
edited, replaced or moved file, or a new ackaudit, converts again. Entries are written atomically
(a private temporary file renamed into place). The folder keeps at most `ACKAUDIT_SOURCE_CACHE_MB`
megabytes (default 1024; 0 keeps nothing): the least recently used entries are removed first, but
never one used in the last ten minutes (another command may be reading it). Only files named as
entries are ever removed. Any failure to read or write the cache only costs the conversion.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

FORMAT = 1
IN_USE_SECONDS = 600
_ENTRY = re.compile(r"[0-9a-f]{40}\.parquet")


def budget_mb(env: Mapping[str, str] = os.environ) -> float:
    from ackaudit.environment import source_cache_mb

    return source_cache_mb(env)


def cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "ackaudit" / "conversions"


def identity(path: str, kind: str) -> str | None:
    """The file's identity as an entry name, or None for anything but a regular file."""
    from ackaudit import __version__

    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    if not os.path.isfile(real):
        return None
    key = json.dumps([FORMAT, __version__, kind, real, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                      st.st_ctime_ns])
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40] + ".parquet"


def lookup(name: str | None, env: Mapping[str, str] = os.environ) -> Path | None:
    """The kept conversion named `name`, marked as just used; None when there is none."""
    if name is None or budget_mb(env) <= 0:
        return None
    entry = cache_dir(env) / name
    try:
        if not entry.is_file():
            return None
        os.utime(entry)
    except OSError:
        return None
    return entry


def keep(name: str | None, converted: Path, env: Mapping[str, str] = os.environ) -> Path | None:
    """Copy `converted` in as `name`; the entry, or None when it is not kept."""
    budget = budget_mb(env)
    if name is None or budget <= 0 or converted.stat().st_size > budget * 1024 * 1024:
        return None
    folder = cache_dir(env)
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(converted, tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, folder / name)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return None
    prune(budget, keep_name=name, env=env)
    return folder / name


def forget(name: str | None, env: Mapping[str, str] = os.environ) -> None:
    if name is not None:
        with contextlib.suppress(OSError):
            (cache_dir(env) / name).unlink()


def prune(budget: float, *, keep_name: str | None = None, now: float | None = None,
          env: Mapping[str, str] = os.environ) -> None:
    """Remove the least recently used entries until the folder fits `budget` megabytes, sparing
    `keep_name` and whatever was used in the last IN_USE_SECONDS."""
    now = time.time() if now is None else now
    entries = []
    try:
        for item in os.scandir(cache_dir(env)):
            if _ENTRY.fullmatch(item.name) and item.is_file(follow_symlinks=False):
                st = item.stat(follow_symlinks=False)
                entries.append((st.st_mtime, st.st_size, item.path, item.name))
    except OSError:
        return
    total = sum(e[1] for e in entries)
    for mtime, size, path, name in sorted(entries):
        if total <= budget * 1024 * 1024:
            break
        if name == keep_name or now - mtime < IN_USE_SECONDS:
            continue
        with contextlib.suppress(OSError):
            os.unlink(path)
            total -= size
