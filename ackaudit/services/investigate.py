"""Questions about audit events: query, follow, one session, one event.

Results are complete or say they are not: every page up to the limit is fetched, an incomplete
page (SLS `progress: Incomplete`) is asked again, and what still stays incomplete is reported.
The window's end is fixed when a query starts, so events arriving meanwhile cannot shift pages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from ackaudit.audit.fields import flatten_event
from ackaudit.environment import incomplete_retries
from ackaudit.errors import ApiError, CloudError, NotFoundError, UsageError, shown

PAGE = 100   # SLS returns at most 100 lines per search page


class Page(Protocol):
    rows: list[dict[str, str]]
    complete: bool


class EventSource(Protocol):
    """Where events come from: a cluster's logstore, or (later) an exported file."""

    description: str

    def get(self, query: str, from_time: int, to_time: int, *, offset: int = 0, line: int = PAGE,
            reverse: bool = False) -> Page: ...


@dataclass
class LogstoreSource:
    sls: Any
    project: str
    logstore: str
    cluster_id: str | None = None
    missing: Callable[[], Exception] | None = None   # the error for "no such logstore"

    @property
    def description(self) -> str:
        return f"{self.project}/{self.logstore}"

    def get(self, query: str, from_time: int, to_time: int, *, offset: int = 0, line: int = PAGE,
            reverse: bool = False) -> Page:
        from ackaudit.services.cluster import MISSING_LOGSTORE_CODES, audit_not_enabled

        try:
            return self.sls.get_logs(self.project, self.logstore, query, from_time, to_time, offset=offset,
                                     line=line, reverse=reverse)
        except ApiError as exc:
            if exc.code in MISSING_LOGSTORE_CODES:
                if self.missing is not None:
                    raise self.missing() from None
                raise audit_not_enabled(self.cluster_id, self.project, self.logstore) from None
            raise


class IncompleteError(CloudError):
    pass


def _incomplete_retries() -> int:
    # The SLS SDK already asks again 5 times, 0.5 s apart, inside one call; these are on top.
    return incomplete_retries()


def _incomplete_backoff() -> float:
    # The same first delay as the other retries (ACKAUDIT_RETRY_BASE, default 0.5 s), doubled per attempt.
    from ackaudit.cloud.calls import default_policy

    return default_policy().base


@dataclass
class Fetcher:
    source: EventSource
    partial: bool = False
    warnings: list[str] = field(default_factory=list)

    def complete(self, query: str, from_time: int, to_time: int, **kwargs: Any) -> Page:
        page = self.source.get(query, from_time, to_time, **kwargs)
        for attempt in range(_incomplete_retries()):
            if page.complete:
                return page
            time.sleep(min(2.0, _incomplete_backoff() * 2 ** attempt))
            page = self.source.get(query, from_time, to_time, **kwargs)
        if not page.complete:
            self.partial = True
            message = f"results from {self.source.description} stayed incomplete after retrying"
            if message not in self.warnings:
                self.warnings.append(message)
        return page


def normalise_time(event: dict[str, Any]) -> dict[str, Any]:
    """`time` as ISO 8601 UTC (milliseconds), whatever the raw form; from __time__ when absent."""
    raw = event.get("time")
    stamp = None
    if isinstance(raw, str) and raw:
        try:
            stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=timezone.utc)
        except ValueError:
            stamp = None
    if stamp is None and event.get("__time__") is not None:
        try:
            stamp = datetime.fromtimestamp(int(event["__time__"]), tz=timezone.utc)
        except (TypeError, ValueError, OverflowError, OSError):
            stamp = None
    if stamp is not None:
        event["time"] = stamp.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return event


def to_event(row: dict[str, str]) -> dict[str, Any]:
    return normalise_time(flatten_event(row))


_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z")


def full_time(event: dict[str, Any]) -> dict[str, Any]:
    """`time` as ISO 8601 UTC keeping its own fraction of a second (an export holds events whole):
    already in that form it is kept as it is, else it is converted with microseconds; from __time__
    when absent or unreadable."""
    raw = event.get("time")
    if isinstance(raw, str) and _CANONICAL_TIME.fullmatch(raw):
        return event
    stamp = None
    if isinstance(raw, str) and raw:
        try:
            stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=timezone.utc)
        except ValueError:
            stamp = None
    if stamp is None and event.get("__time__") is not None:
        try:
            stamp = datetime.fromtimestamp(int(event["__time__"]), tz=timezone.utc)
        except (TypeError, ValueError, OverflowError, OSError):
            stamp = None
    if stamp is not None:
        timespec = "microseconds" if stamp.microsecond else "seconds"
        event["time"] = stamp.astimezone(timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")
    return event


def sort_key(event: dict[str, Any]) -> tuple[str, int]:
    return event.get("time") or "", event.get("process.pid") or 0


@dataclass
class QueryResult:
    events: list[dict[str, Any]]
    total: int | None        # how many match in the window (None if it could not be counted)
    query: str
    from_time: int
    to_time: int
    partial: bool
    warnings: list[str]


def count(fetcher: Fetcher, search: str, from_time: int, to_time: int) -> int | None:
    page = fetcher.complete(f"{search} | select count(1) as n", from_time, to_time)
    if not page.rows:
        return None
    value = page.rows[0].get("n") or page.rows[0].get("_col0")
    try:
        return int(float(value)) if value not in (None, "null") else None
    except ValueError:
        return None


def run_query(source: EventSource, search: str, from_time: int, to_time: int, *, limit: int,
              oldest_first: bool = False) -> QueryResult:
    """Up to `limit` events (0: all) matching `search` in [from, to), newest first unless asked."""
    fetcher = Fetcher(source)
    total: int | None = None
    events: list[dict[str, Any]] = []
    seen: set[str] = set()
    offset = 0
    size = getattr(source, "page_size", PAGE)     # a local file serves longer pages than SLS
    while limit == 0 or len(events) < limit:
        line = size if limit == 0 else min(size, max(PAGE, limit - len(events)))
        page = fetcher.complete(search, from_time, to_time, offset=offset, line=line, reverse=not oldest_first)
        if offset == 0:
            # A complete first page that is not full holds every match: one request saved.
            short = len(page.rows) < line and not fetcher.partial
            total = len(page.rows) if short else count(fetcher, search, from_time, to_time)
        for row in page.rows:
            event = to_event(row)
            key = event.get("eventId") or repr(sorted(row.items()))
            if key in seen:
                continue
            seen.add(key)
            events.append(event)
            if limit and len(events) >= limit:
                break
        if len(page.rows) < line:
            break
        offset += line
    return QueryResult(events, total, search, from_time, to_time, fetcher.partial, fetcher.warnings)


def follow(source: EventSource, search: str, since: int, *, seen: set[str], interval: float = 2.0,
           overlap: int = 120, clock: Callable[[], float] = time.time,
           sleep: Callable[[float], None] = time.sleep) -> Iterator[dict[str, Any]]:
    """New events as they arrive, oldest first, each once, until the caller stops iterating.

    Events can land in the logstore late, so each poll looks back `overlap` seconds (also before
    `since`, the end of what the caller already showed) and drops what was already yielded, by
    eventId. Ids older than the look-back are forgotten, so memory stays flat however long it runs.
    """
    fetcher = Fetcher(source)
    newest = since
    recent: dict[str, int] = dict.fromkeys(seen, since)
    while True:
        now = int(clock())
        window_from = newest - overlap
        batch = []
        offset = 0
        while True:
            page = fetcher.complete(search, window_from, now + 1, offset=offset, line=PAGE, reverse=False)
            batch += [to_event(r) for r in page.rows]
            if len(page.rows) < PAGE:
                break
            offset += PAGE
        if fetcher.partial:
            from ackaudit.audit.timeparse import iso
            from ackaudit.cloud import calls

            calls.note("warning", f"SLS stayed incomplete for events between {iso(window_from)} and {iso(now)}: "
                                  "some may be missing from what follows")
            fetcher.partial = False
        for event in sorted(batch, key=sort_key):
            key = event.get("eventId")
            if key is None or key in recent:
                continue
            stamp = int(event.get("__time__") or newest)
            recent[key] = stamp
            newest = max(newest, stamp)
            yield event
        recent = {k: t for k, t in recent.items() if t >= newest - 2 * overlap}
        sleep(interval)


def is_file(source: Any) -> bool:
    """Whether the events come from a file (archive.FileSource, which knows its `span`): a window
    then defaults to the whole file. Asked this way so cluster commands need not load archive.py."""
    return hasattr(source, "span")


def window_for(source: Any, *, since: str | None, from_: str | None, to: str | None, default: str,
               now: float) -> tuple[int, int]:
    """The window of --since/--from/--to; for a file given none of them, the whole file."""
    from ackaudit.audit.timeparse import window

    if is_file(source) and since is None and from_ is None and to is None:
        return (source.span[0], source.span[1] + 1) if source.span else (0, 1)
    return window(since=since, from_=from_, to=to, default=default, now=now)


def window_text(from_time: int, to_time: int) -> str:
    """A search window as people read it: "2026-11-06 00:43 to 2026-12-06 00:43 UTC" (the end is exclusive)."""
    def fmt(ts: int) -> str:
        return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")

    return f"{fmt(from_time)} to {fmt(to_time)} UTC"


@dataclass(frozen=True)
class Window:
    """Where and when a lookup searched, to name it when nothing is found."""
    from_time: int
    to_time: int
    since_text: str | None = None      # "30d" when the window is --since (or its default)

    def describe(self, source: EventSource) -> str:
        span = window_text(self.from_time, self.to_time)
        last = f", the last {self.since_text}" if self.since_text else ""
        return f"{source.description} ({span}{last})"


MIN_PREFIX = 6           # like git's short hashes, long enough to be unique among a month of events
SHOWN_CANDIDATES = 5
_PREFIXABLE = re.compile(r"[0-9A-Za-z_.-]+")   # token characters only: a prefix search cannot misparse
_WHAT = {"traceId": "session", "eventId": "event"}


def resolve_id(source: EventSource, key: str, given: str, window: Window, *, required: bool = True,
               allow_partial: bool = False) -> str:
    """The full `key` (traceId or eventId) that `given` names: the id itself, or the one id in the
    window that starts with it (as git takes a unique prefix of a hash).

    UsageError for a prefix shorter than MIN_PREFIX or shared by several ids (naming a few);
    NotFoundError naming the window when no id matches, unless `required` is False (then `given`
    comes back unchanged, for filters that may simply match nothing). When SLS stays incomplete,
    IncompleteError, unless `allow_partial`: then the one candidate seen, or `given` as it is (the
    caller's own search then says how partial it was)."""
    from ackaudit.audit.query import term

    what = _WHAT.get(key, key)
    value = given.strip()
    if not value:
        raise UsageError(f"the {what} id is empty")
    if len(value) < MIN_PREFIX:
        if not required:
            return value    # a filter: too short to be a prefix, it can only match itself
        raise UsageError(f"{what} id {value!r} is too short: give at least {MIN_PREFIX} characters of it")
    search = term(key, value)
    if _PREFIXABLE.fullmatch(value):
        search = f"({search} or {key}: {value}*)"
    sql = (f'{search} | select "{key}" as id, min(__time__) as first, count(1) as events group by "{key}" '
           f"order by first desc limit {SHOWN_CANDIDATES * 20}")
    fetcher = Fetcher(source)
    page = fetcher.complete(sql, window.from_time, window.to_time)
    found = [(str(r.get("id") or ""), _as_int(r.get("first"))) for r in page.rows]
    exact = [i for i, _ in found if i == value]
    if exact:
        return exact[0]     # the id itself was seen: no other id can make it ambiguous
    if fetcher.partial and allow_partial:
        seen = [i for i, _ in found if i.lower().startswith(value.lower())]
        return seen[0] if len(seen) == 1 else value
    if fetcher.partial:
        raise IncompleteError(f"the search for {what} {shown(value)} in {window.describe(source)} could not complete: "
                              "SLS stayed incomplete after retrying",
                              hint="retry in a moment, or search a shorter window with --since")
    folded = value.lower()
    candidates = [(i, t) for i, t in found if i.lower().startswith(folded)]
    if len(candidates) == 1:
        return candidates[0][0]
    if not candidates:
        if not required:
            return value
        raise NotFoundError(f"no {what} {shown(value)} in {window.describe(source)}", hint=_further_back(source, window))
    listed = ", ".join(f"{i} ({_short_time(t)})" for i, t in candidates[:SHOWN_CANDIDATES])
    more = len(candidates) - SHOWN_CANDIDATES
    tail = f" and {more} more" if more > 0 else ""
    raise UsageError(f"{what} id {value} is ambiguous: {len(candidates)} {what}s start with it",
                     hint=f"give more characters; it could be {listed}{tail}")


def _as_int(value: Any) -> int | None:
    try:
        return int(float(value)) if value not in (None, "", "null") else None
    except ValueError:
        return None


def _short_time(ts: int | None) -> str:
    if ts is None:
        return "?"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _further_back(source: EventSource, window: Window) -> str:
    if window.since_text is None and not isinstance(source, LogstoreSource):
        return "check the id: it is not in this file"
    return "check the id, or look further back with --since (e.g. --since 180d)"


def find_by(source: EventSource, search: str, window: Window, what: str,
            *, allow_partial: bool = False) -> tuple[list[dict[str, Any]], bool]:
    """(every event matching `search` in the window, oldest first; whether the search completed).
    NotFound (3) only when the search completed and found nothing; an incomplete search is "could
    not complete" (1), with or without results, unless `allow_partial` accepts the results it did find."""
    result = run_query(source, search, window.from_time, window.to_time, limit=0, oldest_first=True)
    if result.partial and not (allow_partial and result.events):
        found = f" (found {len(result.events)} events so far)" if result.events else ""
        raise IncompleteError(f"the search for {what} in {window.describe(source)} could not complete: SLS stayed "
                              f"incomplete after retrying{found}",
                              hint="retry in a moment, or search a shorter window with --since"
                                   + (", or accept what was found with --allow-partial" if result.events else ""))
    if not result.events:
        raise NotFoundError(f"no {what} in {window.describe(source)}", hint=_further_back(source, window))
    return sorted(result.events, key=sort_key), not result.partial


def raw_event(source: EventSource, event_id: str, window: Window) -> dict[str, Any]:
    """The raw row of one event (every field, JSON fields still as text)."""
    from ackaudit.audit.query import term

    fetcher = Fetcher(source)
    page = fetcher.complete(term("eventId", event_id), window.from_time, window.to_time, line=10)
    rows = [r for r in page.rows if r.get("eventId") == event_id]
    if not rows and (fetcher.partial or not page.complete):
        raise IncompleteError(f"the search for event {shown(event_id)} in {window.describe(source)} could not complete: "
                              "SLS stayed incomplete after retrying", hint="retry in a moment, or search a "
                              "shorter window with --since")
    if not rows:
        raise NotFoundError(f"no event {shown(event_id)} in {window.describe(source)}", hint=_further_back(source, window))
    return rows[0]
