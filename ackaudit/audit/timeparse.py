"""Times and durations as users type them on the command line (`--since 6h`, `--from 2026-11-28`).

Everything ends up as integer epoch seconds, the unit SLS queries take. A time without a zone is
UTC, never the machine's local zone: the same command must mean the same window on a laptop in
Hangzhou and on a CI runner in Frankfurt.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

from ackaudit.errors import UsageError, shown

_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
# Units largest first, each at most once: "1h30m" but not "30m1h" or "1h1h".
_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_ISO = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?)?"
    r"(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_EPOCH = re.compile(r"\d+(?:\.\d+)?")
# Epoch seconds reach 11 digits only in the year 5138: a bigger number is milliseconds pasted by mistake.
_LARGEST_EPOCH_SECONDS = 10**11
# Times before 1970 are negative epoch seconds, which SLS refuses; no duration is longer than this.
_LONGEST_DURATION = _LARGEST_EPOCH_SECONDS
_DURATION_HELP = "use a number and a unit: 90s, 30m, 6h, 7d, 2w, or combined like 1h30m"
_TIME_HELP = ("use ISO 8601 (2026-11-28, 2026-11-28T16:42:02Z, 2026-11-28T16:42:02+08:00), epoch seconds, "
              "'now', or a duration ago (2h)")


def parse_duration(text: str) -> int:
    """A duration like "30m", "6h", "7d", "2w", "90s" or "1h30m", in seconds."""
    cleaned = text.strip()
    match = _DURATION.fullmatch(cleaned)
    if not cleaned or match is None:
        if _EPOCH.fullmatch(cleaned):
            raise UsageError(f"{shown(text)} is not a duration: a number needs a unit",
                             hint=f"e.g. {cleaned}d, {cleaned}h or {cleaned}m; " + _DURATION_HELP)
        raise UsageError(f"{shown(text)} is not a duration", hint=_DURATION_HELP)
    # Digits are bounded before they are multiplied: "999999999999999999999w" stays cheap.
    if any(amount is not None and len(amount) > 12 for amount in match.groups()):
        raise UsageError(f"{shown(text)} is out of range", hint=_DURATION_HELP)
    seconds = sum(int(amount) * _UNIT_SECONDS[unit]
                  for amount, unit in zip(match.groups(), _UNIT_SECONDS, strict=True) if amount is not None)
    if seconds == 0:
        raise UsageError(f"{shown(text)} is not a duration: it must be longer than zero", hint=_DURATION_HELP)
    if seconds >= _LONGEST_DURATION:
        raise UsageError(f"{shown(text)} is out of range", hint="a duration reaches back at most to 1970")
    return seconds


def parse_time(text: str, *, now: float) -> int:
    """A point in time as epoch seconds: ISO 8601, epoch seconds, "now", or a duration ago ("2h")."""
    cleaned = text.strip()
    if cleaned.lower() == "now":
        return math.floor(now)
    if _EPOCH.fullmatch(cleaned):
        seconds = float(cleaned)
        if seconds >= _LARGEST_EPOCH_SECONDS:
            raise UsageError(f"{shown(text)} is too large for epoch seconds",
                             hint="epoch milliseconds? divide by 1000")
        return math.floor(seconds)
    if _DURATION.fullmatch(cleaned) and cleaned:
        return _in_range(text, math.floor(now) - parse_duration(cleaned))
    match = _ISO.fullmatch(cleaned)
    if match is None:
        raise UsageError(f"{shown(text)} is not a time", hint=_TIME_HELP)
    try:
        return _in_range(text, math.floor(_iso_to_datetime(match).timestamp()))
    except (ValueError, OverflowError) as exc:   # well-formed but impossible, like 2026-02-30
        raise UsageError(f"{shown(text)} is not a time: {exc}", hint=_TIME_HELP) from None


def _in_range(text: str, seconds: int) -> int:
    """Epoch seconds SLS accepts: from 1970 to (far) in the future."""
    if not 0 <= seconds < _LARGEST_EPOCH_SECONDS:
        raise UsageError(f"{shown(text)} is out of range: times run from 1970-01-01 on", hint=_TIME_HELP)
    return seconds


def _iso_to_datetime(match: re.Match[str]) -> datetime:
    year, month, day = (int(part) for part in match["date"].split("-"))
    microseconds = int((match["fraction"] or "").ljust(6, "0")[:6])
    return datetime(year, month, day, int(match["hour"] or 0), int(match["minute"] or 0),
                    int(match["second"] or 0), microseconds, tzinfo=_zone(match["zone"]))


def _zone(text: str | None) -> timezone:
    if text is None or text.upper() == "Z":
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"UTC offset {text} out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def window(*, since: str | None, from_: str | None, to: str | None, default: str,
           now: float) -> tuple[int, int]:
    """The [from, to) window in epoch seconds of --since, or --from/--to (`default` back from `to`).

    --since reaches back from now and cannot be mixed with --from/--to. Without --from the window
    starts `default` (a duration) before its end; without --to it ends now.
    """
    if since is not None and (from_ is not None or to is not None):
        raise UsageError("--since cannot be combined with --from/--to", hint="use either --since or --from/--to")
    if since is not None:
        return since_start(since, now=now), math.floor(now)
    end = parse_time(to, now=now) if to is not None else math.floor(now)
    start = parse_time(from_, now=now) if from_ is not None else max(0, end - parse_duration(default))
    if start > end:
        raise UsageError(f"the window starts after it ends ({iso(start)} > {iso(end)})",
                         hint="--from must be earlier than --to")
    if start == end:     # [t, t) holds nothing, and SLS refuses it (InvalidTimeRange)
        raise UsageError(f"the window is empty: it starts and ends at {iso(start)}",
                         hint="--from must be earlier than --to (and --to later than 1970-01-01)")
    return start, end


def since_start(since: str, *, now: float) -> int:
    """The start of `--since`: a duration back from now, or an ISO 8601 time. A bare number is
    refused, not read as epoch seconds: `--since 7` would mean 1970, not 7 days."""
    cleaned = since.strip()
    if _ISO.fullmatch(cleaned):
        return parse_time(cleaned, now=now)
    try:
        seconds = parse_duration(cleaned)
    except UsageError as exc:
        raise UsageError(f"--since {exc.message}", hint=exc.hint) from None
    start = math.floor(now) - seconds
    if start < 0:
        raise UsageError(f"--since {shown(since)} reaches back before 1970-01-01",
                         hint="use a shorter duration (SLS keeps audit logs at most 3650 days)")
    return start


def iso(ts: float | int) -> str:
    """Epoch seconds as ISO 8601 UTC to the second, e.g. "2026-11-28T16:42:02Z"."""
    return datetime.fromtimestamp(math.floor(ts), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
