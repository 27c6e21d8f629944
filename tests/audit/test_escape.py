"""Escaping hostile audit text for terminals, JSON, Markdown and CSV."""

import json
import re
import sys
import unicodedata

import pytest

from ackaudit.audit import escape
from ackaudit.audit.escape import csv_cell, csv_value, json_text, md_code, md_text, unsafe, visible

HOSTILE = ["\x1b]0;owned\x07", "\x1b[2J", "a\u202eexe.txt", "\u2066x\u2069", "zero\u200bwidth", "\x9b31m",
           "bell\x07", "nul\x00", "del\x7f", "bom\ufeff", "cr\roverwrite"]


@pytest.mark.parametrize("text", HOSTILE)
def test_visible_leaves_no_control_bidi_or_invisible_character(text):
    shown = visible(text)
    assert all(ch.isprintable() and ch not in "\u200b\ufeff" for ch in shown), repr(shown)
    assert "\\" in shown


INVISIBLE = ["soft\u00adhyphen", "cgj\u034f", "filler\u3164\u115f\u1160\uffa0", "mongolian\u180e",
             "deprecated\u206a\u206f", "annotation\ufff9\ufffb", "tag\U000e0041\U000e007f",
             "vs17\U000e0100", "private\ue000\U000f0000", "unassigned\u0378\U0010fffe", "lone\ud800",
             "line\u2028para\u2029", "arabic\u0600"]


@pytest.mark.parametrize("text", INVISIBLE)
def test_invisible_characters_of_every_kind_are_escaped(text):
    shown = visible(text)
    assert all(not unsafe(ch) for ch in shown) and shown.isascii(), repr(shown)
    document = json.dumps({"v": text}, ensure_ascii=False)
    safe = json_text(document)
    assert safe.isascii() and json.loads(safe) == {"v": text}
    safe.encode("utf-8")                               # a lone surrogate no longer breaks the write


def test_what_people_write_stays_as_it_is():
    for text in ("café naïve", "中文 日本語 한국어", "emoji \U0001f600\ufe0f \u2764\ufe0e", "Ελληνικά Русский",
                 "מילים עבריות", "ελ \u3000 wide space"):
        assert visible(text) == text and json_text(json.dumps(text, ensure_ascii=False)) == \
            json.dumps(text, ensure_ascii=False)


def test_the_fast_path_ranges_hold_no_unsafe_character():
    # The characters that `visible` does not look at one by one must all be safe.
    for pattern in (escape._CANDIDATE, escape._CANDIDATE_IN_JSON):
        ranges = re.findall(r"(.)-(.)", pattern.pattern[2:-1], flags=re.DOTALL)
        assert ranges
        for low, high in ranges:
            for code in range(ord(low), ord(high) + 1):
                char = chr(code)
                assert pattern is escape._CANDIDATE_IN_JSON and code < 0x20 or not unsafe(char), \
                    (hex(code), unicodedata.category(char), sys.version)


def test_visible_keeps_ordinary_text_and_says_what_was_there():
    assert visible("ls -la /tmp 中文 é") == "ls -la /tmp 中文 é"
    assert visible("a\nb\tc\x1bd\u202e") == "a\\nb\\tc\\x1bd\\u202e"


def test_json_stays_faithful_and_becomes_terminal_safe():
    value = {"cmd": "".join(HOSTILE)}
    text = json_text(json.dumps(value, ensure_ascii=False))
    assert json.loads(text) == value
    assert all(ch.isprintable() for ch in text)


def test_markdown_text_cannot_make_links_html_or_break_tables():
    for hostile in ("[x](http://evil)", "![i](http://evil/a.png)", "<img src=x>", "a | b", "http://evil",
                    "www.evil.test", "&lt;", "*em* _em_ ~~s~~", "`code`"):
        escaped = md_text(hostile)
        assert "](" not in escaped.replace("\\](", "") and "<img" not in escaped.replace("\\<img", "")
        assert "| " not in escaped.replace("\\| ", "")
        assert "http://" not in escaped and "www." not in escaped.lower()
    assert md_code("a`b|c\nd") == "``a`b\\|c\\nd``"


@pytest.mark.parametrize("value", ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "'quoted", "''", "plain", ""])
def test_csv_cells_are_neutralised_and_come_back_exactly(value):
    cell = csv_cell(value)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert csv_value(cell) == value
