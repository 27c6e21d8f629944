"""Durations, points in time and query windows as typed on the command line."""

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ackaudit.audit.timeparse import iso, parse_duration, parse_time, window
from ackaudit.errors import ExitCode, UsageError

NOW = datetime(2026, 11, 28, 16, 42, 2, 750000, tzinfo=timezone.utc).timestamp()
NOW_SECONDS = int(NOW)


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("30m", 1800), ("6h", 21600), ("7d", 604800), ("2w", 1209600), ("1h30m", 5400),
    ("1d12h", 129600), ("1w2d3h4m5s", 788645), (" 15m ", 900),
])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["7 days", "7", "h", "", "1.5h", "30m1h", "1h1h", "-5m", "0s", "7D", "1y", "5 m"])
def test_bad_durations_are_usage_errors(text):
    with pytest.raises(UsageError) as caught:
        parse_duration(text)
    assert caught.value.exit_code == ExitCode.USAGE and caught.value.hint


@given(st.lists(st.integers(min_value=0, max_value=500), min_size=5, max_size=5))
def test_duration_is_the_sum_of_its_parts(parts):
    text = "".join(f"{n}{unit}" for n, unit in zip(parts, "wdhms", strict=True) if n)
    if not text:
        return
    expected = parts[0] * 604800 + parts[1] * 86400 + parts[2] * 3600 + parts[3] * 60 + parts[4]
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("2026-11-28", "2026-11-28T00:00:00Z"),
    ("2026-11-28T16:42:02Z", "2026-11-28T16:42:02Z"),
    ("2026-11-28T16:42:02", "2026-11-28T16:42:02Z"),              # no zone: UTC, not local time
    ("2026-11-28 16:42", "2026-11-28T16:42:00Z"),
    ("2026-11-28T16:42:02.999999Z", "2026-11-28T16:42:02Z"),
    ("2026-11-29T00:42:02+08:00", "2026-11-28T16:42:02Z"),
    ("2026-11-29T00:42:02+0800", "2026-11-28T16:42:02Z"),
    ("2026-11-28T11:42:02-05", "2026-11-28T16:42:02Z"),
    ("2026-11-28t16:42:02z", "2026-11-28T16:42:02Z"),
    ("1795883722", "2026-11-28T16:35:22Z"),
    ("1795883722.9", "2026-11-28T16:35:22Z"),
    ("now", "2026-11-28T16:42:02Z"),
    ("2h", "2026-11-28T14:42:02Z"),
    ("1d", "2026-11-27T16:42:02Z"),
])
def test_times(text, expected):
    assert iso(parse_time(text, now=NOW)) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-11-31", "2026-13-01", "2026-11-28T25:00:00Z",
                                  "28/11/2026", "2026-11-28T16:42:02+25:00", "1795883722000", "", "2 hours ago"])
def test_bad_times_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_time(text, now=NOW)


def test_epoch_milliseconds_get_a_hint():
    with pytest.raises(UsageError) as caught:
        parse_time("1795883722000", now=NOW)
    assert "milliseconds" in caught.value.hint


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(timezone.utc)))
def test_iso_output_parses_back(stamp):
    seconds = int(stamp.timestamp() // 1)
    assert parse_time(iso(seconds), now=NOW) == seconds


def test_window_default_reaches_back_from_now():
    assert window(since=None, from_=None, to=None, default="24h", now=NOW) == (NOW_SECONDS - 86400, NOW_SECONDS)


def test_window_since():
    assert window(since="6h", from_=None, to=None, default="24h", now=NOW) == (NOW_SECONDS - 21600, NOW_SECONDS)


def test_window_since_an_absolute_time():
    start, end = window(since="2026-11-28", from_=None, to=None, default="24h", now=NOW)
    assert (iso(start), end) == ("2026-11-28T00:00:00Z", NOW_SECONDS)


def test_window_from_and_to():
    start, end = window(since=None, from_="2026-11-27", to="2026-11-28T12:00:00+08:00", default="24h", now=NOW)
    assert (iso(start), iso(end)) == ("2026-11-27T00:00:00Z", "2026-11-28T04:00:00Z")


def test_window_from_alone_ends_now():
    assert window(since=None, from_="3h", to=None, default="24h", now=NOW) == (NOW_SECONDS - 10800, NOW_SECONDS)


def test_window_to_alone_reaches_back_the_default():
    start, end = window(since=None, from_=None, to="2026-11-28", default="7d", now=NOW)
    assert (iso(start), iso(end)) == ("2026-11-21T00:00:00Z", "2026-11-28T00:00:00Z")


@pytest.mark.parametrize("kwargs", [dict(since="1h", from_="2h", to=None), dict(since="1h", from_=None, to="now")])
def test_since_excludes_from_and_to(kwargs):
    with pytest.raises(UsageError, match="--since"):
        window(default="24h", now=NOW, **kwargs)


def test_window_backwards_is_a_usage_error():
    with pytest.raises(UsageError, match="starts after it ends"):
        window(since=None, from_="2026-11-28", to="2026-11-27", default="24h", now=NOW)


@pytest.mark.parametrize("from_, to", [(None, "0"), (None, "1970-01-01"), ("2026-11-28", "2026-11-28T00:00:00Z")])
def test_an_empty_window_is_a_usage_error(from_, to):
    with pytest.raises(UsageError, match="the window is empty"):
        window(since=None, from_=from_, to=to, default="24h", now=NOW)


def test_window_bad_default_is_a_usage_error():
    with pytest.raises(UsageError):
        window(since=None, from_=None, to=None, default="a day", now=NOW)


def test_iso_truncates_to_the_second():
    assert iso(NOW) == "2026-11-28T16:42:02Z"
    assert iso(0) == "1970-01-01T00:00:00Z"


def test_a_bad_since_is_explained_as_a_duration():
    with pytest.raises(UsageError, match="--since '7 days' is not a duration") as caught:
        window(since="7 days", from_=None, to=None, default="24h", now=NOW)
    assert "30m" in caught.value.hint


@pytest.mark.parametrize("since", ["0", "7", "1795883722"])
def test_since_refuses_bare_numbers_with_a_hint(since):
    with pytest.raises(UsageError) as caught:
        window(since=since, from_=None, to=None, default="24h", now=NOW)
    assert "needs a unit" in caught.value.message and f"{since}d" in caught.value.hint


@pytest.mark.parametrize("since", ["3000000d", "999999999999d", "99999999999999999999999w", "30000d"])
def test_since_out_of_range_is_a_usage_error(since):
    with pytest.raises(UsageError) as caught:
        window(since=since, from_=None, to=None, default="24h", now=NOW)
    assert since[:10] in caught.value.message


@pytest.mark.parametrize("text", ["0001-01-01", "1969-12-31T23:59:59Z", "9999-12-31", "3000000d"])
def test_times_outside_epoch_range_are_usage_errors(text):
    with pytest.raises(UsageError, match="out of range"):
        parse_time(text, now=NOW)


def test_long_values_are_cut_in_messages():
    with pytest.raises(UsageError) as caught:
        parse_time("x" * 100_000, now=NOW)
    assert len(caught.value.message) < 200 and "100000 characters" in caught.value.message
