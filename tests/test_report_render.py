"""The report's Markdown and HTML renderings, time zones and buckets, and writing the file."""

import re
from datetime import datetime, timezone

import pytest

from ackaudit.errors import UsageError
from ackaudit.services.report import DAY, HOUR, WEEK, Report, bucket_unit, region_zone, zone_named
from ackaudit.services.report_render import (
    EMPTY,
    md_code,
    md_text,
    to_html,
    to_markdown,
    unicode_bar,
)

HOSTILE = '<img src=x onerror="alert(1)"> | `tick` *bold* & </td>'
SHANGHAI = zone_named("Asia/Shanghai", 1_795_000_000)


def make_report(value: str = "plain", *, empty: bool = False, redacted: bool = True) -> Report:
    """A report in which every text that comes from the audit log is `value`."""
    count = 0 if empty else 3
    user = {"username": value, "aliuid": value, "service_account": False, "sessions": count, "commands": count,
            "risky_commands": 1, "pods": 1, "last_seen": "2026-11-26T19:10:56Z"}
    return Report(
        cluster_id="c1", source=value, generated_at="2026-11-28T00:00:00Z",
        window={"from": "2026-11-21T00:00:00Z", "to": "2026-11-28T00:00:00Z", "timezone": SHANGHAI.name,
                "utc_offset": SHANGHAI.utc_offset},
        zone=SHANGHAI, redacted=redacted,
        totals={"sessions": count, "pods": count, "users": count, "commands": count, "programs": count,
                "risky_commands": count, "first_activity": None if empty else "2026-11-26T19:07:47Z",
                "last_activity": None if empty else "2026-11-26T19:10:56Z"},
        activity={"unit": "day", "buckets": [{"start": "2026-11-25T16:00:00Z", "label": value, "sessions": count}]},
        top_users=[] if empty else [user],
        top_namespaces=[] if empty else [{"namespace": value, "sessions": 3, "pods": 1, "users": 1}],
        top_pods=[] if empty else [{"namespace": value, "pod": value, "sessions": 3, "users": 1}],
        top_programs=[] if empty else [{"program": value, "runs": 3, "sessions": 1, "users": 1, "risky": True}],
        risky_programs=[] if empty else [{"program": value, "category": value, "reason": value, "runs": 3,
                                          "sessions": 1, "users": 1}],
        risky_commands=[] if empty else [{"time": "2026-11-26T19:08:19.034Z", "username": value, "aliuid": value,
                                          "namespace": value, "pod": value, "container": value, "program": value,
                                          "cmdline": value, "category": value, "reason": value,
                                          "traceId": value, "eventId": value}],
        risky_commands_more=0 if empty else 7,
        sessions_to_review=[] if empty else [{
            "trace_id": value, "username": value, "aliuid": value, "namespace": value, "pod": value,
            "started": "2026-11-26T19:07:47Z", "ended": "2026-11-26T19:10:56Z", "commands": 3, "risky_commands": 1,
            "unusual_hour": True, "local_start": "03:07", "reasons": [value], "command": f"ackaudit session {value}"}],
        sessions_to_review_more=0,
        warnings=[value] if not empty else [],
    )


def test_html_escapes_every_value_from_the_log():
    page = to_html(make_report(HOSTILE))
    assert "<img" not in page and "</td>\n" not in page and 'onerror="' not in page
    assert page.count(html_escaped(HOSTILE)) >= 15


def html_escaped(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def test_markdown_table_rows_keep_their_columns_whatever_the_values():
    text = to_markdown(make_report(HOSTILE))
    tables, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    assert len(tables) >= 9
    for table in tables:
        columns = {len(re.findall(r"(?<!\\)\|", row)) for row in table}
        assert len(columns) == 1, table
    assert "<img" not in re.sub(r"`+[^`]*`+", "", text.replace("\\<img", ""))


def test_markdown_escaping_helpers():
    assert md_text("a|b *c* <d>") == r"a\|b \*c\* \<d\>"
    assert md_code("ls | grep x") == r"`ls \| grep x`"
    assert md_code("echo `id`") == "`` echo `id` ``"
    assert md_code("two\nlines") == r"`two\nlines`"        # the newline shown, not obeyed
    assert md_code("") == ""


def test_an_empty_report_says_so_and_nothing_else():
    report = make_report(empty=True)
    assert report.empty
    for text in (to_markdown(report), to_html(report)):
        assert EMPTY in text
        assert "Sessions worth a look" not in text and "Risky commands" not in text


def test_the_redaction_note_follows_the_setting():
    assert "masked" in to_markdown(make_report())
    assert "secrets included" in to_markdown(make_report(redacted=False))
    assert "secrets included" in to_html(make_report(redacted=False))


def test_times_are_shown_in_the_report_zone_with_its_offset():
    text = to_markdown(make_report())
    assert "2026-11-27 03:07:47" in text                    # 19:07:47 UTC in Shanghai
    assert "Started (UTC+08:00)" in text
    assert "and 7 more risky commands" in text


def test_unicode_bars_scale_to_the_largest():
    assert unicode_bar(10, 10, 20) == "█" * 20
    assert unicode_bar(5, 10, 20) == "█" * 10
    assert unicode_bar(1, 80, 10) == "▏"
    assert unicode_bar(0, 10, 20) == "" and unicode_bar(3, 0, 20) == ""


def test_bucket_units_follow_the_window():
    assert bucket_unit(0, 2 * DAY) == ("hour", HOUR)
    assert bucket_unit(0, 2 * DAY + 1) == ("day", DAY)
    assert bucket_unit(0, 92 * DAY) == ("day", DAY)
    assert bucket_unit(0, 93 * DAY) == ("week", WEEK)


def test_region_zones():
    at = datetime(2026, 7, 1, tzinfo=timezone.utc).timestamp()
    assert region_zone("cn-hangzhou", at) == zone_named("Asia/Shanghai", at)
    assert region_zone("cn-wulanchabu", at).utc_offset == "+08:00"
    assert region_zone("ap-south-1", at).utc_offset == "+05:30"
    assert region_zone("eu-central-1", at).utc_offset == "+02:00"        # summer time in July
    assert region_zone("xx-unknown-1", at).name == "UTC"
    assert region_zone(None, at).utc_offset == "+00:00"
    with pytest.raises(UsageError):
        zone_named("Nowhere/Atlantis", at)
