"""The overview of container operation audit for one time window: who entered which containers,
what they ran, what was risky, and which sessions deserve a look first.

Everything is counted by a few SLS SQL statements over the event source (a logstore, or an
exported file read by the same engine), never by downloading every event: only the risky-command
candidates and the sessions to review come back as rows. SQL answers every value as a string and
names columns in lower case, so each statement aliases its columns and the numbers are parsed here.
Risk is decided by `audit.risky.risk_of`, the same rule `query` and `session` apply: SQL only
narrows the commands down to those that may be risky.

Displayed times use the report's zone (the cluster region's, e.g. Asia/Shanghai for cn-*): "night"
means 00:00-06:00 there. The zone's UTC offset is taken at the end of the window.

`Report.to_json()` is a documented contract (`report -o json`). Its keys:
- `cluster_id` (or null), `source` (where the events came from), `generated_at` (ISO 8601 UTC),
  `redacted` (whether secrets in command lines are masked), `complete` (false when SLS could not
  finish a statement), `warnings` (list of strings);
- `window`: `from`, `to` (ISO 8601 UTC), `timezone` (IANA name), `utc_offset` ("+08:00");
- `totals`: `sessions` (PodExec events: containers entered), `pods` (distinct pods entered),
  `users` (distinct users who entered), `commands`, `programs` (distinct program names),
  `risky_commands`, `first_activity`, `last_activity` (ISO 8601 UTC or null);
- `activity`: `unit` (`hour`, `day` or `week`) and `buckets`: `{start` (ISO UTC), `label` (local
  time), `sessions}` covering the whole window;
- `top_users`: `{username, aliuid, service_account, sessions, commands, risky_commands, pods,
  last_seen}`; `top_namespaces`: `{namespace, sessions, pods, users}`; `top_pods`: `{namespace,
  pod, sessions, users}`; `top_programs`: `{program, runs, sessions, users, risky}`;
- `risky_programs`: `{program, category, reason, runs, sessions, users}`, most run first;
- `risky_commands`: `{time, username, aliuid, namespace, pod, container, program, cmdline,
  category, reason, traceId, eventId, command}` (`command` shows the event: `ackaudit event ID ...`), newest first, at most 50; `risky_commands_more`: how many
  more there are;
- `sessions_to_review`: `{trace_id, username, aliuid, namespace, pod, started, ended, commands,
  risky_commands, unusual_hour, local_start, reasons, command}` (`command` opens the session),
  ranked by risky commands, then night hours; at most 10; `sessions_to_review_more`.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from ackaudit.audit.escape import command_line
from ackaudit.audit.fields import KIND_COMMAND
from ackaudit.audit.query import COMMAND_EVENTS, EXEC_EVENTS, term
from ackaudit.audit.redact import redact_text
from ackaudit.audit.risky import RiskyProgram, risk_of
from ackaudit.audit.timeparse import iso
from ackaudit.errors import shown
from ackaudit.services.investigate import EventSource, Fetcher, normalise_time

TOP = 10
RISKY_SHOWN = 50
SESSIONS_SHOWN = 10
# Rows one statement may return: enough for any realistic week, small enough for one response.
GROUP_ROWS = 1_000
RISKY_ROWS = 20_000
SQL_MAX_ROWS = 1_000_000           # SLS SQL returns at most this many rows, whatever the LIMIT
NIGHT_END_HOUR = 6
SESSION_DEFAULT_DAYS = 30          # how far back `ackaudit session` searches unless told
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"

HOUR, DAY, WEEK = 3600, 86400, 7 * 86400
# Epoch day 0 was a Thursday: shifting by three days makes weeks start on Monday.
_WEEK_PHASE = 3 * DAY

# Columns as SLS SQL names the indexed JSON leaves.
_USER, _ALIUID = '"k8s.user.username"', '"k8s.user.aliuid"'
_NAMESPACE, _POD = '"k8s.pod.namespace"', '"k8s.pod.name"'
_PROGRAM, _CMDLINE = '"process.name"', '"process.cmdline"'
_POD_KEY = f"concat({_NAMESPACE}, '/', {_POD})"
ALL_EVENTS = f"({COMMAND_EVENTS} or {EXEC_EVENTS})"

# Programs that `risk_of` may flag for what they do rather than for their name (decoding, hidden
# names, reading credentials): SQL keeps every command that could match; `risk_of` decides.
_BEHAVIOUR_PROGRAMS = ("base64", "base32", "xxd")
_CREDENTIAL_PATHS = ("/etc/shadow", "/etc/gshadow", "/run/secrets/kubernetes.io/serviceaccount")

# Where Alibaba Cloud regions are, for "night" and local times; cn-* is China Standard Time.
_REGION_ZONES = {
    "cn-hongkong": "Asia/Hong_Kong", "ap-southeast-1": "Asia/Singapore", "ap-southeast-2": "Australia/Sydney",
    "ap-southeast-3": "Asia/Kuala_Lumpur", "ap-southeast-5": "Asia/Jakarta", "ap-southeast-6": "Asia/Manila",
    "ap-southeast-7": "Asia/Bangkok", "ap-northeast-1": "Asia/Tokyo", "ap-northeast-2": "Asia/Seoul",
    "ap-south-1": "Asia/Kolkata", "eu-central-1": "Europe/Berlin", "eu-west-1": "Europe/London",
    "us-west-1": "America/Los_Angeles", "us-east-1": "America/New_York", "me-east-1": "Asia/Dubai",
    "me-central-1": "Asia/Riyadh", "na-south-1": "America/Mexico_City",
}


@dataclass(frozen=True)
class ReportZone:
    name: str
    offset: int                    # seconds east of UTC

    @property
    def utc_offset(self) -> str:
        sign = "-" if self.offset < 0 else "+"
        hours, minutes = divmod(abs(self.offset) // 60, 60)
        return f"{sign}{hours:02d}:{minutes:02d}"

    def local(self, epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, timezone(timedelta(seconds=self.offset)))


def zone_named(name: str, at: float) -> ReportZone:
    """The zone `name` (IANA, e.g. Asia/Shanghai; or UTC) with its offset at `at`."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from ackaudit.errors import UsageError

    try:
        info = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):     # OSError: a name too long for a file name
        raise UsageError(f"unknown time zone {shown(name)}", hint="use an IANA name such as Asia/Shanghai or UTC") from None
    offset = datetime.fromtimestamp(at, info).utcoffset() or timedelta(0)
    return ReportZone(name, int(offset.total_seconds()))


def region_zone(region: str | None, at: float) -> ReportZone:
    """The time zone where a region's clusters run: China Standard Time for cn-*, UTC if unknown."""
    region = (region or "").lower()
    name = _REGION_ZONES.get(region) or ("Asia/Shanghai" if region.startswith("cn-") else "UTC")
    return zone_named(name, at)


@dataclass
class Report:
    cluster_id: str | None
    source: str
    generated_at: str
    window: dict[str, Any]
    zone: ReportZone
    redacted: bool
    totals: dict[str, Any]
    activity: dict[str, Any]
    top_users: list[dict[str, Any]]
    top_namespaces: list[dict[str, Any]]
    top_pods: list[dict[str, Any]]
    top_programs: list[dict[str, Any]]
    risky_programs: list[dict[str, Any]]
    risky_commands: list[dict[str, Any]]
    risky_commands_more: int
    sessions_to_review: list[dict[str, Any]]
    sessions_to_review_more: int
    complete: bool = True
    warnings: list[str] = field(default_factory=list)
    session_options: tuple[str, ...] = ()      # what `ackaudit session ID` needs here (not in the JSON)

    @property
    def empty(self) -> bool:
        return not self.totals["sessions"] and not self.totals["commands"]

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON data (see the module docstring for the keys)."""
        return {
            "cluster_id": self.cluster_id, "source": self.source, "generated_at": self.generated_at,
            "window": dict(self.window), "redacted": self.redacted, "complete": self.complete,
            "warnings": list(self.warnings), "totals": dict(self.totals), "activity": self.activity,
            "top_users": self.top_users, "top_namespaces": self.top_namespaces, "top_pods": self.top_pods,
            "top_programs": self.top_programs, "risky_programs": self.risky_programs,
            "risky_commands": self.risky_commands, "risky_commands_more": self.risky_commands_more,
            "sessions_to_review": self.sessions_to_review, "sessions_to_review_more": self.sessions_to_review_more,
        }


# Panels are built at the same time, each in a thread of its own; at most this many statements run at
# once (a source may ask for fewer: see FileSource.statements_at_once).
PARALLEL_STATEMENTS = 4
# Which waiting statement runs first when a slot frees: the risky commands and the sessions (the
# longest chain: the sessions' details wait for the risky commands), then the rest, then the
# statement holding most memory, so it overlaps with small ones.
FIRST, NEXT, LAST = 0, 1, 2


class _Slots:
    """At most `size` holders at a time; waiting callers get in by priority, then in the order they
    asked."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiting: list[tuple[int, int]] = []
        self._tickets = itertools.count()
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def held(self, priority: int) -> Iterator[None]:
        with self._changed:
            ticket = (priority, next(self._tickets))
            heapq.heappush(self._waiting, ticket)
            while not (self._free and self._waiting[0] == ticket):
                self._changed.wait()
            heapq.heappop(self._waiting)
            self._free -= 1
            self._changed.notify_all()          # the next in line, if a slot is still free
        try:
            yield
        finally:
            with self._changed:
                self._free += 1
                self._changed.notify_all()


class _Stopped(Exception):
    """A statement asked for after the report stopped (never seen outside build_report)."""


@dataclass
class _Sql:
    """Runs `search | statement` over the window, asking again while SLS answers incomplete; at most
    `at_once` at a time, whichever threads ask."""
    fetcher: Fetcher
    from_time: int
    to_time: int
    at_once: int = PARALLEL_STATEMENTS
    _slots: _Slots = field(init=False)
    _stopped: threading.Event = field(init=False, default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._slots = _Slots(self.at_once)

    def stop(self) -> None:
        """No statement starts from now on: the report failed or is done, and a panel thread still
        waiting for a slot must not send requests after it (its answer would go nowhere)."""
        self._stopped.set()

    def rows(self, search: str, statement: str, priority: int = NEXT) -> list[dict[str, str]]:
        if self._stopped.is_set():
            raise _Stopped()
        with self._slots.held(priority):
            if self._stopped.is_set():
                raise _Stopped()
            return self.fetcher.complete(f"{search} | {statement}", self.from_time, self.to_time).rows

    def one(self, search: str, statement: str, priority: int = NEXT) -> dict[str, str]:
        rows = self.rows(search, statement, priority)
        return rows[0] if rows else {}


def build_report(source: EventSource, from_time: int, to_time: int, *, catalogue: dict[str, RiskyProgram],
                 zone: ReportZone, now: float, redact: bool = True, cluster_id: str | None = None,
                 session_locator: Sequence[str] = ()) -> Report:
    """The overview of [from_time, to_time). `session_locator` is the options `ackaudit session` needs
    to find the events again (`--cluster ID` or `--source FILE`), as words."""
    from concurrent.futures import ThreadPoolExecutor

    fetcher = Fetcher(source)
    # A file's engine runs here, on this machine's cores; SLS runs statements on its own.
    sql = _Sql(fetcher, from_time, to_time, getattr(source, "statements_at_once", PARALLEL_STATEMENTS))
    warnings: list[str] = []
    locator = _session_options(session_locator, from_time, now)
    # Every panel at once: a report takes about as long as its slowest statement rather than the sum.
    # The panels that need the risky commands run their own statements first, then wait for them.
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ackaudit-report")
    try:
        risky_future = pool.submit(_risky_rows, sql, catalogue, warnings)
        risky = risky_future.result
        panels = {
            # First in line for a statement slot: the sessions need a statement after the risky
            # commands, the longest chain of the report.
            "sessions": pool.submit(_sessions_to_review, sql, risky, zone, locator, warnings),
            "totals": pool.submit(_totals, sql, lambda: len(risky())),
            "activity": pool.submit(_activity, sql, zone),
            "top_users": pool.submit(_top_users, sql, risky, warnings),
            "top_namespaces": pool.submit(_top_namespaces, sql),
            "top_pods": pool.submit(_top_pods, sql),
            "top_programs": pool.submit(_top_programs, sql, catalogue),
        }
        risky_rows = risky()
        built = {name: future.result() for name, future in panels.items()}
    finally:
        sql.stop()
        pool.shutdown(wait=False, cancel_futures=True)
    return Report(
        cluster_id=cluster_id, source=source.description, generated_at=iso(now),
        window={"from": iso(from_time), "to": iso(to_time), "timezone": zone.name, "utc_offset": zone.utc_offset},
        zone=zone, redacted=redact, totals=built["totals"], activity=built["activity"],
        top_users=built["top_users"], top_namespaces=built["top_namespaces"], top_pods=built["top_pods"],
        top_programs=built["top_programs"], risky_programs=_risky_programs(risky_rows),
        risky_commands=[_risky_command(r, redact, locator) for r in risky_rows[:RISKY_SHOWN]],
        risky_commands_more=max(0, len(risky_rows) - RISKY_SHOWN),
        **built["sessions"],
        complete=not fetcher.partial, warnings=warnings + fetcher.warnings, session_options=locator,
    )


# -- parsing SQL answers --------------------------------------------------------------------------
def _int(value: str | None) -> int:
    if value in (None, "", "null"):
        return 0
    try:
        return int(float(value))
    except ValueError:
        return 0


def _text(value: str | None) -> str:
    return "" if value in (None, "null") else str(value)


def _iso_or_none(epoch: int) -> str | None:
    return iso(epoch) if epoch else None


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# -- sections -----------------------------------------------------------------------------------
def _totals(sql: _Sql, risky_count: Callable[[], int]) -> dict[str, Any]:
    entered = sql.one(EXEC_EVENTS, f"select count(1) as sessions, count(distinct {_POD_KEY}) as pods, "
                                   f"count(distinct {_USER}) as users, min(__time__) as first_time, "
                                   "max(__time__) as last_time")
    ran = sql.one(COMMAND_EVENTS, f"select count(1) as commands, count(distinct {_PROGRAM}) as programs, "
                                  "min(__time__) as first_time, max(__time__) as last_time")
    firsts = [t for t in (_int(entered.get("first_time")), _int(ran.get("first_time"))) if t]
    lasts = [t for t in (_int(entered.get("last_time")), _int(ran.get("last_time"))) if t]
    return {"sessions": _int(entered.get("sessions")), "pods": _int(entered.get("pods")),
            "users": _int(entered.get("users")), "commands": _int(ran.get("commands")),
            "programs": _int(ran.get("programs")), "risky_commands": risky_count(),
            "first_activity": _iso_or_none(min(firsts)) if firsts else None,
            "last_activity": _iso_or_none(max(lasts)) if lasts else None}


def bucket_unit(from_time: int, to_time: int) -> tuple[str, int]:
    """Hours for up to two days, days up to three months, weeks beyond."""
    span = to_time - from_time
    if span <= 2 * DAY:
        return "hour", HOUR
    if span <= 92 * DAY:
        return "day", DAY
    return "week", WEEK


def _bucket_start(epoch: int, size: int, zone: ReportZone) -> int:
    """The start (epoch seconds) of the local hour, day or Monday-started week holding `epoch`."""
    phase = _WEEK_PHASE if size == WEEK else 0
    shifted = epoch + zone.offset
    return shifted - (shifted + phase) % size - zone.offset


def _activity(sql: _Sql, zone: ReportZone) -> dict[str, Any]:
    unit, size = bucket_unit(sql.from_time, sql.to_time)
    phase = _WEEK_PHASE if size == WEEK else 0
    shifted = f"(__time__ + {zone.offset})"
    rows = sql.rows(EXEC_EVENTS, f"select {shifted} - ({shifted} + {phase}) % {size} - {zone.offset} as bucket, "
                                 f"count(1) as sessions group by bucket order by bucket limit {GROUP_ROWS}")
    counts = {_int(r.get("bucket")): _int(r.get("sessions")) for r in rows}
    buckets = []
    start = _bucket_start(sql.from_time, size, zone)
    while start < sql.to_time:
        buckets.append({"start": iso(start), "label": _bucket_label(start, unit, zone),
                        "sessions": counts.get(start, 0)})
        start += size
    return {"unit": unit, "buckets": buckets}


def _bucket_label(start: int, unit: str, zone: ReportZone) -> str:
    local = zone.local(start)
    if unit == "hour":
        return local.strftime("%m-%d %H:00")
    return local.strftime("%Y-%m-%d %a")


def _top_users(sql: _Sql, risky_rows: Callable[[], list[_RiskyCommand]], warnings: list[str]) -> list[dict[str, Any]]:
    entered = sql.rows(EXEC_EVENTS, f"select {_USER} as username, arbitrary({_ALIUID}) as aliuid, count(1) as "
                                    f"sessions, count(distinct {_POD_KEY}) as pods, max(__time__) as last_time "
                                    f"group by username order by sessions desc limit {GROUP_ROWS}")
    ran = sql.rows(COMMAND_EVENTS, f"select {_USER} as username, arbitrary({_ALIUID}) as aliuid, count(1) as "
                                   f"commands, max(__time__) as last_time group by username "
                                   f"order by commands desc limit {GROUP_ROWS}")
    if len(entered) >= GROUP_ROWS or len(ran) >= GROUP_ROWS:
        warnings.append(f"{GROUP_ROWS} or more users in this window: the top users are ranked among the "
                        f"{GROUP_ROWS} who entered most containers and the {GROUP_ROWS} who ran most commands")
    risky = Counter(r.username for r in risky_rows())
    users: dict[str, dict[str, Any]] = {}
    for row in [*entered, *ran]:
        name = _text(row.get("username"))
        user = users.setdefault(name, {"username": name, "aliuid": "", "service_account":
                                       name.startswith(SERVICE_ACCOUNT_PREFIX), "sessions": 0, "commands": 0,
                                       "risky_commands": risky.get(name, 0), "pods": 0, "last_seen": 0})
        user["aliuid"] = user["aliuid"] or _text(row.get("aliuid"))
        user["sessions"] += _int(row.get("sessions"))
        user["commands"] += _int(row.get("commands"))
        user["pods"] = max(user["pods"], _int(row.get("pods")))
        user["last_seen"] = max(user["last_seen"], _int(row.get("last_time")))
    ranked = sorted(users.values(), key=lambda u: (-u["sessions"], -u["commands"], u["username"]))[:TOP]
    return [{**u, "last_seen": _iso_or_none(u["last_seen"])} for u in ranked]


def _top_namespaces(sql: _Sql) -> list[dict[str, Any]]:
    rows = sql.rows(EXEC_EVENTS, f"select {_NAMESPACE} as pod_namespace, count(1) as sessions, "
                                 f"count(distinct {_POD}) as pods, count(distinct {_USER}) as users "
                                 f"group by pod_namespace order by sessions desc, pod_namespace limit {TOP}")
    return [{"namespace": _text(r.get("pod_namespace")), "sessions": _int(r.get("sessions")),
             "pods": _int(r.get("pods")), "users": _int(r.get("users"))} for r in rows]


def _top_pods(sql: _Sql) -> list[dict[str, Any]]:
    rows = sql.rows(EXEC_EVENTS, f"select {_NAMESPACE} as pod_namespace, {_POD} as pod_name, count(1) as sessions, "
                                 f"count(distinct {_USER}) as users group by pod_namespace, pod_name "
                                 f"order by sessions desc, pod_namespace, pod_name limit {TOP}")
    return [{"namespace": _text(r.get("pod_namespace")), "pod": _text(r.get("pod_name")),
             "sessions": _int(r.get("sessions")), "users": _int(r.get("users"))} for r in rows]


def _top_programs(sql: _Sql, catalogue: dict[str, RiskyProgram]) -> list[dict[str, Any]]:
    rows = sql.rows(COMMAND_EVENTS, f"select {_PROGRAM} as program, count(1) as runs, count(distinct \"traceId\") "
                                    f"as sessions, count(distinct {_USER}) as users group by program "
                                    f"order by runs desc, program limit {TOP}", LAST)
    return [{"program": _text(r.get("program")), "runs": _int(r.get("runs")), "sessions": _int(r.get("sessions")),
             "users": _int(r.get("users")), "risky": _text(r.get("program")) in catalogue} for r in rows]


def _risk_candidates(catalogue: dict[str, RiskyProgram]) -> str:
    names = ", ".join(_sql_string(n) for n in sorted({*catalogue, *_BEHAVIOUR_PROGRAMS}))
    paths = " or ".join(f"{_CMDLINE} like {_sql_string('%' + p + '%')}" for p in _CREDENTIAL_PATHS)
    return f"{_PROGRAM} in ({names}) or {_PROGRAM} like '.%' or {paths}"


class _RiskyCommand(NamedTuple):
    """One risky command: what the panels count by, and its SQL row if it is among those shown."""
    risk: RiskyProgram
    trace_id: str
    username: str
    row: dict[str, str] | None


def _risky_rows(sql: _Sql, catalogue: dict[str, RiskyProgram], warnings: list[str]) -> list[_RiskyCommand]:
    """Every risky command of the window, newest first, with its risk."""
    rows = sql.rows(COMMAND_EVENTS, f"select \"time\" as event_time, __time__ as log_time, \"traceId\" as trace_id, "
                                    f"\"eventId\" as event_id, {_USER} as username, {_ALIUID} as aliuid, "
                                    f"{_NAMESPACE} as pod_namespace, {_POD} as pod_name, "
                                    f"\"k8s.container.name\" as container, {_PROGRAM} as program, "
                                    f"{_CMDLINE} as cmdline where {_risk_candidates(catalogue)} "
                                    # Within one second, by the event's own time: an order that
                                    # does not hang on which shard or file row an event came from.
                                    f"order by log_time desc, event_time desc, event_id desc limit {RISKY_ROWS}", FIRST)
    if len(rows) >= RISKY_ROWS:
        warnings.append(f"more than {RISKY_ROWS} commands may be risky: the risky counts cover the newest "
                        f"{RISKY_ROWS}; narrow the window for exact numbers")
    out = []
    for row in rows:
        risk = risk_of({"kind": KIND_COMMAND, "process.name": _text(row.get("program")),
                        "process.cmdline": _text(row.get("cmdline"))}, catalogue)
        if risk is not None:
            # Only the newest are shown: the others keep what they are counted by.
            shown = row if len(out) < RISKY_SHOWN else None
            out.append(_RiskyCommand(risk, _text(row.get("trace_id")), _text(row.get("username")), shown))
    return out


def _risky_command(risky: _RiskyCommand, redact: bool, locator: Sequence[str]) -> dict[str, Any]:
    row, risk = risky.row or {}, risky.risk
    when = normalise_time({"time": _text(row.get("event_time")), "__time__": _int(row.get("log_time"))})
    event_id, cmdline = _text(row.get("event_id")), _text(row.get("cmdline"))
    command = command_line("event", event_id, locator) if event_id else ""
    return {"time": when.get("time"), "username": risky.username, "aliuid": _text(row.get("aliuid")),
            "namespace": _text(row.get("pod_namespace")), "pod": _text(row.get("pod_name")),
            "container": _text(row.get("container")), "program": _text(row.get("program")),
            "cmdline": redact_text(cmdline) if redact else cmdline,
            "category": risk.category, "reason": risk.reason, "traceId": risky.trace_id, "eventId": event_id,
            "command": command}


def _risky_programs(risky_rows: list[_RiskyCommand]) -> list[dict[str, Any]]:
    groups: dict[RiskyProgram, list[_RiskyCommand]] = defaultdict(list)
    for row in risky_rows:
        groups[row.risk].append(row)
    out = [{"program": risk.name, "category": risk.category, "reason": risk.reason, "runs": len(rows),
            "sessions": len({r.trace_id for r in rows}), "users": len({r.username for r in rows})}
           for risk, rows in groups.items()]
    return sorted(out, key=lambda p: (-p["runs"], p["program"], p["category"]))


# -- sessions worth a look ---------------------------------------------------------------------------
def _sessions_to_review(sql: _Sql, risky_rows: Callable[[], list[_RiskyCommand]], zone: ReportZone,
                        locator: Sequence[str], warnings: list[str]) -> dict[str, Any]:
    shifted = f"(__time__ + {zone.offset})"
    at_night = f"{shifted} % {DAY} < {NIGHT_END_HOUR * HOUR}"
    # Every session entered at night is ranked: count them first, then ask for that many.
    night_count = _int(sql.one(EXEC_EVENTS, f"select count(distinct \"traceId\") as n where {at_night}", FIRST).get("n"))
    night: set[str] = set()
    if night_count:
        wanted = min(night_count, SQL_MAX_ROWS)
        night = {_text(r.get("trace_id")) for r in sql.rows(
            EXEC_EVENTS, f"select distinct \"traceId\" as trace_id where {at_night} limit {wanted}", FIRST)} - {""}
        if night_count > SQL_MAX_ROWS:
            warnings.append(f"{night_count} sessions started at night; only {SQL_MAX_ROWS} of them could be "
                            "ranked: narrow the window")
    # The risky commands come from another thread: wait for them only once this panel's own
    # statements are done.
    risky = Counter(r.trace_id for r in risky_rows() if r.trace_id)
    candidates = sorted(set(risky) | night, key=lambda t: (-risky.get(t, 0), t not in night, t))
    chosen = candidates[:SESSIONS_SHOWN]
    details = _session_details(sql, chosen)
    sessions = []
    for trace_id in chosen:
        found = details.get(trace_id, {})
        started = _int(found.get("started"))
        local_start = zone.local(started).strftime("%H:%M") if started else ""
        reasons = []
        if risky.get(trace_id):
            reasons.append(f"{risky[trace_id]} risky command" + ("s" if risky[trace_id] > 1 else ""))
        if trace_id in night:
            reasons.append(f"entered at {local_start} {zone.name} (00:00-{NIGHT_END_HOUR:02d}:00)")
        sessions.append({
            "trace_id": trace_id, "username": _text(found.get("username")), "aliuid": _text(found.get("aliuid")),
            "namespace": _text(found.get("pod_namespace")), "pod": _text(found.get("pod_name")),
            "started": _iso_or_none(started), "ended": _iso_or_none(_int(found.get("ended"))),
            "commands": _int(found.get("commands")), "risky_commands": risky.get(trace_id, 0),
            "unusual_hour": trace_id in night, "local_start": local_start, "reasons": reasons,
            "command": command_line("session", trace_id, locator)})
    # Stable order for equal ranks: the earlier session first.
    sessions.sort(key=lambda s: (-s["risky_commands"], not s["unusual_hour"], s["started"] or ""))
    return {"sessions_to_review": sessions, "sessions_to_review_more": len(candidates) - len(chosen)}


def _session_details(sql: _Sql, trace_ids: list[str]) -> dict[str, dict[str, str]]:
    if not trace_ids:
        return {}
    # The sessions' few rows first: the kinds are then tested on those alone.
    search = f"({' or '.join(term('traceId', t) for t in trace_ids)}) and {ALL_EVENTS}"
    rows = sql.rows(search, f"select \"traceId\" as trace_id, count_if(kind = '{KIND_COMMAND}') as commands, "
                            f"min(__time__) as started, max(__time__) as ended, arbitrary({_USER}) as username, "
                            f"arbitrary({_ALIUID}) as aliuid, arbitrary({_NAMESPACE}) as pod_namespace, "
                            f"arbitrary({_POD}) as pod_name group by trace_id limit {GROUP_ROWS}", FIRST)
    return {_text(r.get("trace_id")): r for r in rows}


def _session_options(locator: Sequence[str], from_time: int, now: float) -> tuple[str, ...]:
    """The options `ackaudit session` needs to find a session of the report's window: `locator`, and
    `--since` when the window reaches back further than it searches."""
    days = -(-int(now - from_time) // DAY)
    return (*locator, "--since", f"{days}d") if days > SESSION_DEFAULT_DAYS else tuple(locator)
