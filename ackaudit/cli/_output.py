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

from ackaudit.cli._globals import OutputFormat, settings


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    style: str | None = None
    max_width: int | None = None
    no_wrap: bool = False
    min_width: int | None = None


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
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
        return
    records = list(rows) if rows is not None else (data if isinstance(data, list) else [data])
    if fmt is OutputFormat.jsonl:
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        return
    if fmt is OutputFormat.csv:
        write_csv(records, [c.key for c in columns] if columns else None)
        return
    if human is not None:
        human(stdout_console())
    else:
        table(records, columns or [Column(k, k) for k in _keys(records)])


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


def write_csv(records: Sequence[Mapping[str, Any]], keys: Sequence[str] | None = None,
              stream: Any = None) -> None:
    stream = stream or sys.stdout
    keys = list(keys) if keys else _keys(records)
    import csv

    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(keys)
    for record in records:
        writer.writerow([_cell(record.get(k)) for k in keys])


def table(records: Sequence[Mapping[str, Any]], columns: Sequence[Column], *, title: str | None = None,
          empty: str = "nothing to show") -> None:
    if not records:
        info(empty)
        return
    from rich import box
    from rich.table import Table

    t = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    # On a terminal, columns wrap to fit it; in a pipe, one record stays on one line (for grep).
    tty = sys.stdout.isatty()
    for c in columns:
        t.add_column(c.header, style=c.style, max_width=c.max_width if tty else None,
                     min_width=c.min_width if tty else None, no_wrap=c.no_wrap or not tty, overflow="fold")
    for record in records:
        t.add_row(*[_cell(record.get(c.key)) for c in columns])
    stdout_console().print(t)


def kv_block(pairs: Sequence[tuple[str, Any]], *, title: str | None = None) -> None:
    """Aligned `key: value` lines for one object (status, event detail)."""
    console = stdout_console()
    if title:
        console.print(f"[bold]{_escape(title)}[/bold]")
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        console.print(f"  {_escape(key).ljust(width)}  {_escape(_cell(value))}")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# -- messages (stderr) ------------------------------------------------------------------------
def info(message: str) -> None:
    print(message, file=sys.stderr)


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
        stderr_console().print(f"[{style}]{_escape(prefix)}[/{style}]{_escape(message)}", soft_wrap=True)
    else:
        print(prefix + message, file=sys.stderr)


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
