"""The only module that prints. Data goes to stdout; progress, warnings, errors and hints to stderr.

Rich is imported only when something is drawn, so `--help` stays fast. Colour and spinners appear
only on a terminal, never with NO_COLOR or --no-color.
"""

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ackaudit.audit.escape import csv_cell, csv_line, json_text, visible
from ackaudit.cli._globals import OutputFormat, settings
from ackaudit.errors import OutputError, StdoutClosed

# A closed stdout (`ackaudit query | head -1`) ends the command quietly with the status a process
# killed by SIGPIPE reports in the shell (128 + 13), as git and other Unix tools do.
STDOUT_CLOSED_EXIT = 141


class _GuardedStream:
    """sys.stdout, with write failures turned into one clear error: a closed pipe into StdoutClosed,
    anything else (a full disk, a device error) into OutputError. What remains unwritten is then
    discarded, so Python's own flush at exit cannot print a traceback."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        try:
            return self._inner.write(text)
        except OSError as exc:
            raise _write_failed(exc) from None

    def flush(self) -> None:
        try:
            self._inner.flush()
        except OSError as exc:
            raise _write_failed(exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _write_failed(exc: OSError) -> Exception:
    discard_stdout()
    if isinstance(exc, BrokenPipeError):
        return StdoutClosed()
    return OutputError(f"cannot write to stdout: {exc.strerror or exc}")


def discard_stdout() -> None:
    """Point stdout at /dev/null: the reader is gone or the device is full."""
    try:
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else None
    except (OSError, ValueError):
        fd = None
    if fd is None:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


@contextmanager
def guarded_stdout() -> Iterator[None]:
    inner = sys.stdout
    if isinstance(inner, _GuardedStream):
        yield
        return
    sys.stdout = _GuardedStream(inner)
    try:
        yield
    finally:
        if sys.stdout.__class__ is _GuardedStream:
            sys.stdout = inner


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    style: str | None = None
    max_width: int | None = None
    no_wrap: bool = False
    min_width: int | None = None
    # For tables fitted to a width (`fitted_table`): `keep` ranks the columns (1 is kept longest, 0
    # is never left out); the `elide` column is shortened with "…" instead (it must not be cut
    # mid-value otherwise: ids, times and users are shown whole or not at all).
    keep: int = 0
    elide: bool = False


def _color_enabled(stream: Any) -> bool:
    if settings().no_color or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def _console(stream: Any) -> Any:
    from rich.console import Console

    color = _color_enabled(stream)
    # Piped output is read by programs and wide terminals: do not fold it at 80 columns.
    width = None if getattr(stream, "isatty", lambda: False)() else int(os.environ.get("COLUMNS") or 4096)
    return Console(file=stream, no_color=not color, color_system="auto" if color else None,
                   highlight=False, soft_wrap=False, emoji=False, width=width)


def terminal_width() -> int | None:
    """The width of the terminal stdout writes to, or None when it is not a terminal."""
    if not sys.stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns


class _LazyConsole:
    """A console made on first use: rich takes tens of milliseconds to import, and many renderers
    print plain lines only."""

    def __init__(self, stream: Any) -> None:
        self._stream, self._console = stream, None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            self._console = _console(self._stream)
        return getattr(self._console, name)


def stdout_console() -> Any:
    return _console(sys.stdout)


def stderr_console() -> Any:
    return _console(sys.stderr)


# -- data -----------------------------------------------------------------------------------
def emit(data: Any, *, human: Callable[[Any], None] | None = None,
         rows: Sequence[Mapping[str, Any]] | None = None, columns: Sequence[Column] | None = None) -> None:
    """Print a command's result in the chosen format.

    `data` is the JSON contract (dict or list). For table output, `human(console)` draws it, or
    `rows` + `columns` make a table. For jsonl/csv, `rows` (default: `data` when it is a list)
    are written one per line.
    """
    fmt = settings().fmt
    if fmt is OutputFormat.json:
        sys.stdout.write(json_dumps(data, indent=2) + "\n")
        return
    records = list(rows) if rows is not None else (data if isinstance(data, list) else [data])
    if fmt is OutputFormat.jsonl:
        for record in records:
            sys.stdout.write(json_dumps(record) + "\n")
        return
    if fmt is OutputFormat.csv:
        write_csv(records, [c.key for c in columns] if columns else None)
        return
    if human is not None:
        human(_LazyConsole(sys.stdout))
    else:
        table(records, columns or [Column(k, k) for k in _keys(records)])


def json_dumps(value: Any, *, indent: int | None = None) -> str:
    """JSON as ackaudit prints it: faithful to the data, with control, bidi and invisible characters
    as \\u escapes so that it is safe in a terminal too."""
    return json_text(json.dumps(value, indent=indent, ensure_ascii=False, default=str))


def _keys(records: Iterable[Mapping[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for record in records:
        keys.update(dict.fromkeys(record))
    return list(keys)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def text_cell(value: Any) -> str:
    """A value as a person reads it: control and bidi characters shown as escapes."""
    return visible(_cell(value))


def write_csv(records: Sequence[Mapping[str, Any]], keys: Sequence[str] | None = None,
              stream: Any = None) -> None:
    write = csv_writer(keys or _keys(records), stream)
    for record in records:
        write(record)


def csv_writer(keys: Sequence[str], stream: Any = None) -> Callable[[Mapping[str, Any]], None]:
    """Write the header now; the returned function writes one record. Cells are neutralised against
    spreadsheet formulas (see ackaudit.audit.escape.csv_cell)."""
    out = stream or sys.stdout
    keys = list(keys)
    out.write(csv_line(keys))

    def write(record: Mapping[str, Any]) -> None:
        out.write(csv_line([csv_cell(_cell(record.get(k))) for k in keys]))

    return write


def table(records: Sequence[Mapping[str, Any]], columns: Sequence[Column], *, title: str | None = None,
          empty: str = "nothing to show") -> None:
    if not records:
        info(empty)
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    # On a terminal, columns wrap to fit it; in a pipe, one record stays on one line (for grep).
    tty = sys.stdout.isatty()
    for c in columns:
        t.add_column(c.header, style=c.style, max_width=c.max_width if tty else None,
                     min_width=c.min_width if tty else None, no_wrap=c.no_wrap or not tty, overflow="fold")
    for record in records:
        t.add_row(*[Text(text_cell(record.get(c.key))) for c in columns])   # Text: never read as markup
    stdout_console().print(t)


_GAP = 2                  # between two columns
ELIDED_MIN = 20           # the elided column is not squeezed below this while a column can go instead


def output_width() -> int | None:
    """The width tables must fit: the terminal's, or COLUMNS in a pipe; None: a pipe, no limit."""
    width = terminal_width()
    if width is not None:
        return width
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else None


def fit_columns(columns: Sequence[Column], cells: Sequence[Mapping[str, str]],
                width: int | None) -> tuple[list[Column], dict[str, int], list[Column]]:
    """Which columns fit in `width`, and how wide each is: (shown, widths, left out). Columns are
    left out whole, the lowest-ranked first, until the elided column has ELIDED_MIN cells; the
    others keep their full width."""
    from rich.cells import cell_len

    natural = {c.key: max([cell_len(c.header), *(cell_len(row.get(c.key, "")) for row in cells)])
               for c in columns}
    elided = [c for c in columns if c.elide]
    shown = list(columns)
    if width is None:
        return shown, natural, []

    def used(cols: Sequence[Column]) -> int:
        return sum(natural[c.key] for c in cols if not c.elide) + _GAP * (len(cols) - 1)

    optional = sorted((c for c in columns if c.keep), key=lambda c: c.keep, reverse=True)
    room = min((natural[c.key] for c in elided), default=0)
    for column in optional:
        if used(shown) + min(ELIDED_MIN, room) <= width:
            break
        shown.remove(column)
    widths = dict(natural)
    for c in elided:
        widths[c.key] = max(min(natural[c.key], width - used(shown)), min(natural[c.key], 10))
    return shown, widths, [c for c in columns if c not in shown]


def fitted_table(records: Sequence[Mapping[str, Any]], columns: Sequence[Column], *,
                 empty: str = "nothing to show", width: int | None = None) -> list[Column]:
    """A table that fits `width` (see fit_columns): no cell is folded or cut mid-value; only the
    elided column is shortened, with "…". Returns the columns left out."""
    if not records:
        info(empty)
        return []
    from rich.cells import cell_len, set_cell_size
    from rich.text import Text

    cells = [{c.key: text_cell(record.get(c.key)) for c in columns} for record in records]
    shown, widths, left_out = fit_columns(columns, cells, width)

    def fitted(text: str, c: Column) -> str:
        if cell_len(text) > widths[c.key]:             # only the elided column can be too long
            return set_cell_size(text, widths[c.key] - 1) + "…"
        return set_cell_size(text, widths[c.key])

    def line(values: Sequence[str], styles: Sequence[str | None]) -> Text:
        out = Text(no_wrap=True, overflow="ignore")
        for i, (value, style) in enumerate(zip(values, styles, strict=True)):
            out.append((" " * _GAP if i else "") + "", None)
            out.append(value, style)
        out.rstrip()
        return out

    console = stdout_console()
    total = sum(widths[c.key] for c in shown) + _GAP * (len(shown) - 1)
    console.print(line([fitted(c.header, c) for c in shown], ["bold"] * len(shown)), crop=False)
    console.print("─" * total, style="dim", crop=False)
    for row in cells:
        console.print(line([fitted(row[c.key], c) for c in shown], [c.style for c in shown]), crop=False)
    return left_out


def kv_block(pairs: Sequence[tuple[str, Any]], *, title: str | None = None) -> None:
    """Aligned `key: value` lines for one object (status, event detail)."""
    console = stdout_console()
    if title:
        console.print(styled((title, "bold")))
    width = max((len(visible(k)) for k, _ in pairs), default=0)
    for key, value in pairs:
        console.print(styled(f"  {visible(key).ljust(width)}  ", _cell(value)))


def styled(*parts: Any) -> Any:
    """One line of rich Text from plain parts and `(text, style)` pairs, every part shown with
    `visible`. Text is never parsed as markup, so no value can end in a backslash that escapes the
    markup after it (`[bold]abc\\[/bold]`), which `rich.markup.escape` does not fully prevent."""
    from rich.text import Text

    return Text.assemble(*[(visible(p[0]), p[1]) if isinstance(p, tuple) else visible(p) for p in parts])


def _escape(text: Any) -> str:
    """Text for rich's markup: control and bidi characters shown as escapes, markup escaped."""
    from rich.markup import escape

    return escape(visible(text))


markup = _escape


# -- messages (stderr) ------------------------------------------------------------------------
def info(message: str) -> None:
    print("\n".join(visible(line) for line in message.split("\n")), file=sys.stderr)


_warned: set[str] = set()


def reset_warnings() -> None:
    _warned.clear()


def warn(message: str) -> None:
    """A warning on stderr, printed once per run however many parts of the code notice it."""
    if message in _warned:
        return
    _warned.add(message)
    _styled("warning: ", "yellow", message)


def success(message: str) -> None:
    _styled("", "green", message)


def error(message: str, hint: str | None = None, request_id: str | None = None) -> None:
    line = message if request_id is None else f"{message} (request id {request_id})"
    _styled("error: ", "red", line)
    if hint:
        _styled("hint: ", "dim", hint)


def finish_partial(gaps: Sequence[Any], allow_partial: bool, *, what: str = "the answer above") -> None:
    """Warn about each part that could not be read; then, unless --allow-partial, exit with the
    code of what went wrong (4 when a read was refused, 1 otherwise)."""
    import typer

    for gap in gaps:
        warn(gap.message)
    if not gaps or allow_partial:
        return
    code = 4 if any(int(g.exit_code) == 4 for g in gaps) else 1
    error(f"{what} is incomplete: {len(gaps)} part{'s' if len(gaps) > 1 else ''} could not be read",
          hint="retry in a moment (-v shows each call), or accept a partial answer with --allow-partial")
    raise typer.Exit(code)


def _styled(prefix: str, style: str, message: str) -> None:
    if _color_enabled(sys.stderr):
        stderr_console().print(styled((prefix, style), message), soft_wrap=True)
    else:
        print(prefix + visible(message), file=sys.stderr)


def trace_call(record: Any) -> None:
    """The `-v` line for one cloud call."""
    rid = f" request-id={record.request_id}" if record.request_id else ""
    retry = f" attempt={record.attempt}" if record.attempt > 1 else ""
    print(f"· {record.service} {record.action} {record.seconds * 1000:.0f}ms {record.outcome}{rid}{retry}",
          file=sys.stderr)


def trace_note(text: str) -> None:
    """A `-v` detail line that is not a call (e.g. where the SLS project was found)."""
    print(f"· {text}", file=sys.stderr)


@contextmanager
def progress(message: str) -> Iterator[Callable[[str], None]]:
    """A spinner with a status line on a terminal; plain lines on stderr otherwise.
    Yields `update(text)`."""
    if _color_enabled(sys.stderr) and sys.stderr.isatty():
        console = stderr_console()
        with console.status(_escape(message)) as status:
            yield lambda text: status.update(_escape(text))
        return
    info(message)
    last: list[str] = []

    def update(text: str) -> None:
        if not last or last[-1] != text:
            last.append(text)
            info(text)

    yield update


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def confirm(question: str, *, yes: bool, expect: str | None = None) -> None:
    """Ask before a destructive step. `--yes` skips the question; without a terminal and without
    --yes, refuse instead of hanging. With `expect`, the answer must be that exact text."""
    from ackaudit.errors import AckAuditError, UsageError

    if yes:
        return
    if not is_interactive():
        raise UsageError(f"{question.rstrip('?: ')}: confirmation needed and there is no terminal to ask",
                         hint="rerun with --yes to confirm")
    prompt = f"{question} Type {expect!r} to confirm: " if expect else f"{question} [y/N]: "
    print(prompt, end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip()
    ok = answer == expect if expect else answer.lower() in ("y", "yes")
    if not ok:
        raise AckAuditError("not confirmed; nothing was changed")
