"""Per-invocation context: the cloud session, the `-v` trace, and the guard around each command."""

import functools
import sys
from collections.abc import Callable
from typing import Any

import typer

from ackaudit.cli import _output
from ackaudit.cli._errors import classify, debug_enabled
from ackaudit.cli._globals import settings
from ackaudit.errors import StdoutClosed

_cloud: Any = None


def cloud() -> Any:
    """The cloud session for this invocation (built on first use)."""
    global _cloud
    if _cloud is None:
        from ackaudit.cloud.session import Cloud, CloudOptions

        s = settings()
        _cloud = Cloud(CloudOptions(profile=s.profile, region=s.region, sandbox=s.sandbox))
    return _cloud


def _close_cloud() -> None:
    global _cloud
    if _cloud is not None:
        _cloud.close()
        _cloud = None


def _prepare() -> None:
    from ackaudit import environment
    from ackaudit.cloud import calls, endpoints

    environment.check_all()
    endpoints.check_overrides()

    calls.clear_listeners()
    _output.reset_warnings()
    calls.quiet_sdk_logging(settings().verbose)
    verbose = settings().verbose
    if verbose:
        calls.add_listener(_output.trace_call)

    def show_note(level: str, text: str) -> None:
        if level == "warning":
            _output.warn(text)
        elif verbose:
            _output.trace_note(text)

    calls.add_note_listener(show_note)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command inside the error boundary: one line per failure, the right exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            _prepare()
            with _output.guarded_stdout():
                try:
                    return fn(*args, **kwargs)
                finally:
                    sys.stdout.flush()          # a full disk or a closed pipe shows here, not at exit
        except typer.Exit:
            raise
        except StdoutClosed:
            _output.discard_stdout()
            raise typer.Exit(_output.STDOUT_CLOSED_EXIT) from None
        except KeyboardInterrupt as exc:
            failure = classify(exc)
            _output.error(failure.message)
            raise typer.Exit(failure.exit_code) from None
        except Exception as exc:
            if debug_enabled():
                raise
            failure = classify(exc)
            _output.error(failure.message, failure.hint, failure.request_id)
            raise typer.Exit(failure.exit_code) from None
        finally:
            _close_cloud()

    return wrapper
