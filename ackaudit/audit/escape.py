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
from collections.abc import Sequence
from typing import Any

_INVISIBLE = (
    "\u061c\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
_UNSAFE_IN_JSON = re.compile(f"[\x7f-\x9f{_INVISIBLE}]")   # json.dumps already escapes C0


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: Any) -> str:
    """`text` with every control, bidi and invisible character shown as an escape; one line."""
    text = "" if text is None else str(text)
    return _UNSAFE.sub(_escape_char, text) if _UNSAFE.search(text) else text


def json_text(text: str) -> str:
    """A JSON document with the characters above as \\uNNNN escapes (they only occur in strings)."""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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
