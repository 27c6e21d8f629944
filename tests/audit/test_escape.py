"""Escaping hostile audit text for terminals, JSON, Markdown and CSV."""

import json

import pytest

from ackaudit.audit.escape import csv_cell, csv_value, json_text, md_code, md_text, visible

HOSTILE = ["\x1b]0;owned\x07", "\x1b[2J", "a\u202eexe.txt", "\u2066x\u2069", "zero\u200bwidth", "\x9b31m",
           "bell\x07", "nul\x00", "del\x7f", "bom\ufeff", "cr\roverwrite"]


@pytest.mark.parametrize("text", HOSTILE)
def test_visible_leaves_no_control_bidi_or_invisible_character(text):
    shown = visible(text)
    assert all(ch.isprintable() and ch not in "\u200b\ufeff" for ch in shown), repr(shown)
    assert "\\" in shown


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
