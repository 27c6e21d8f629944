"""Histogram buckets: contiguous, at most 60, with an interval people read easily."""

from __future__ import annotations

MAX_BUCKETS = 60
_MINUTE, _HOUR, _DAY = 60, 3600, 86400
NICE_INTERVALS = (1, 2, 5, 10, 15, 30, _MINUTE, 2 * _MINUTE, 5 * _MINUTE, 10 * _MINUTE, 15 * _MINUTE,
                  30 * _MINUTE, _HOUR, 2 * _HOUR, 3 * _HOUR, 6 * _HOUR, 12 * _HOUR, _DAY)


def bucket_interval(from_time: int, to_time: int) -> int:
    """The smallest nice interval (seconds) that covers [from, to) in at most 60 buckets."""
    span = max(to_time - from_time, 1)
    for interval in NICE_INTERVALS:
        if -(-span // interval) <= MAX_BUCKETS:
            return interval
    days = -(-span // (MAX_BUCKETS * _DAY))
    return days * _DAY


def buckets(from_time: int, to_time: int, counts: dict[int, int]) -> list[tuple[int, int, int]]:
    """(from, to, count) for every bucket; `counts` maps a bucket number to its row count."""
    if to_time <= from_time:
        return []
    interval = bucket_interval(from_time, to_time)
    out = []
    start, number = from_time, 0
    while start < to_time:
        end = min(start + interval, to_time)
        out.append((start, end, counts.get(number, 0)))
        start, number = end, number + 1
    return out
