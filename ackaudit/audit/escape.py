"""Audit data is hostile input: anyone who can exec into a container writes command lines, and pod
names and usernames come from the cluster. Every output that a person reads goes through here.

- `visible(text)`: terminal-safe text. Control characters (C0, DEL, C1: ESC sequences can move the
  cursor, retitle the window or hide text), bidirectional overrides and isolates (U+202A-202E,
  U+2066-2069, U+200E/200F, U+061C: "Trojan Source" reordering) and invisible characters (zero-width
  spaces and joiners, U+2060, U+FEFF) are shown as `\\xNN` / `\\uNNNN` escapes, so what is printed is
  what was recorded, visibly.
- `json_text(text)`: JSON output stays faithful (it parses back to the recorded value), but the same
  characters are written as `\\uNNNN` escapes so that a JSON document shown in a terminal is safe too.
- `md_text` / `md_code`: Markdown that hostile text cannot break out of (table rows, links, HTML).
- `csv_cell` / `csv_value`: the OWASP CSV-injection rule, reversibly (see `csv_cell`); `csv_line`: a
  row quoted wherever a reader could split it.
- `command_line`: an `ackaudit` command to paste into a shell, whatever the id in it holds.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections.abc import Sequence
from typing import Any

# What a terminal would act on or not show: C0/C1 controls, format characters (bidi overrides,
# zero-width joiners, soft hyphens, tags), surrogates, private-use and unassigned code points, line
# and paragraph separators, and the characters that draw nothing (Hangul fillers, the combining
# grapheme joiner, supplementary variation selectors). Variation selectors 1-16 stay: emoji and CJK
# text use them. Decided by Unicode category, so nothing new in a category slips through; code
# points assigned after Python's Unicode version count as unassigned and are escaped too.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_DRAWS_NOTHING = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180e\u3164\uffa0") \
    | frozenset(map(chr, range(0xE0100, 0xE01F0)))
_UNSAFE_ASCII = re.compile("[\x00-\x1f\x7f]")
# Every character outside a few ranges known to hold only visible characters is looked at (the
# ranges are a fast path for Latin and CJK text; a test checks that they hold nothing unsafe).
_CANDIDATE = re.compile("[^\x20-\x7e\xa0-\xac\xae-\u02ff\u4e00-\u9fff\uac00-\ud7a3]")
_CANDIDATE_IN_JSON = re.compile("[^\x00-\x7e\xa0-\xac\xae-\u02ff\u4e00-\u9fff\uac00-\ud7a3]")

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def unsafe(char: str) -> bool:
    """Whether a terminal would act on `char` or show nothing for it."""
    return unicodedata.category(char) in _UNSAFE_CATEGORIES or char in _DRAWS_NOTHING


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    if not unsafe(char):
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if not unsafe(char):
        return char
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000                                         # JSON spells it as a surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def visible(text: Any) -> str:
    """`text` with every control, bidi and invisible character shown as an escape; one line."""
    text = "" if text is None else str(text)
    if text.isascii():
        return _UNSAFE_ASCII.sub(_escape_char, text) if _UNSAFE_ASCII.search(text) else text
    return _CANDIDATE.sub(_escape_char, text)


def json_text(text: str) -> str:
    """A JSON document with the characters above as \\uNNNN escapes (they only occur in strings;
    json.dumps already escapes C0)."""
    return text if text.isascii() and "\x7f" not in text else _CANDIDATE_IN_JSON.sub(_json_escape, text)


# -- Markdown ----------------------------------------------------------------------------------------
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~!&:@])")
_WWW = re.compile(r"(?i)\b(www)\.")


def md_text(value: Any) -> str:
    """Plain text for Markdown and its tables: every character Markdown could read as syntax
    (emphasis, links, images, HTML, entities, autolinks, table pipes) backslash-escaped, on one line."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", visible(value))
    return _WWW.sub(r"\1\\.", escaped)          # no www.example.com autolink either


def md_code(value: Any) -> str:
    """A code span that survives any content: a fence longer than any backtick run inside, table
    pipes escaped. Inside a code span nothing is a link or HTML."""
    text = visible(value)
    if not text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded.replace('|', chr(92) + '|')}{fence}"


def longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


# -- CSV ---------------------------------------------------------------------------------------------
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"


def csv_cell(text: str) -> str:
    """A csv cell a spreadsheet will not run: a value starting with `=`, `+`, `-`, `@`, a tab or a
    carriage return gets a leading `'` (OWASP's rule). A value that already starts with `'` gets
    one too, so the rule can be undone exactly: `csv_value` strips one leading `'`."""
    return _QUOTE + text if text.startswith(_FORMULA_START) or text.startswith(_QUOTE) else text


def csv_value(cell: str) -> str:
    """The value `csv_cell` was given."""
    return cell[1:] if cell.startswith(_QUOTE) else cell


_CSV_SPECIAL = re.compile(r'[,"\r\n]')


def csv_line(cells: Sequence[str]) -> str:
    """One csv row, ending in a newline: what the csv module writes with its minimal quoting, except
    that a cell holding a carriage return is quoted too. (The csv module quotes only the line ending
    it writes: a bare CR left unquoted splits the row in spreadsheets and csv readers, and the part
    after it would be a new cell that no formula rule looked at.)"""
    if len(cells) == 1 and cells[0] == "":
        return '""\n'                           # else an empty line, which readers skip
    return ",".join('"' + c.replace('"', '""') + '"' if _CSV_SPECIAL.search(c) else c for c in cells) + "\n"


# -- shell -------------------------------------------------------------------------------------------

def command_line(verb: str, operand: str, options: Sequence[str] = ()) -> str:
    """`ackaudit VERB OPERAND OPTIONS...` as a line to paste into a shell. Every word is quoted where
    a shell would read it otherwise (the operand is an id from the audit data: `a;rm -rf ~` must stay
    one word), and an operand starting with a dash goes last, after `--`, so it is not an option."""
    words = ["ackaudit", verb, *options, "--", operand] if operand.startswith("-") else \
        ["ackaudit", verb, operand, *options]
    return " ".join(shlex.quote(word) for word in words)
