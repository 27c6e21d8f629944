"""Global options, accepted before or after the command (`ackaudit -o json clusters` and
`ackaudit clusters -o json`), as kubectl does.

The root callback records what it was given; `command()` adds the same options to every command's
signature and merges them (the command-level value wins). Only public Typer API is used.
"""

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import Enum
from typing import Annotated, Any

import typer


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


@dataclass
class Settings:
    profile: str | None = None
    region: str | None = None
    output: OutputFormat | None = None
    no_color: bool = False
    verbose: bool = False
    sandbox: bool = False

    def merge(self, **given: Any) -> None:
        for f in fields(self):
            value = given.get(f.name)
            if value not in (None, False):
                setattr(self, f.name, value)

    @property
    def fmt(self) -> OutputFormat:
        return self.output or OutputFormat.table


_settings = Settings()


def settings() -> Settings:
    return _settings


def reset() -> None:
    global _settings
    _settings = Settings()


ProfileOpt = Annotated[str | None, typer.Option(
    "--profile", help="aliyun CLI profile to use (default: ALIBABA_CLOUD_PROFILE, then the file's current).",
    show_default=False)]
RegionOpt = Annotated[str | None, typer.Option(
    "--region", help="Region id, e.g. cn-hangzhou (default: ALIBABA_CLOUD_REGION_ID, then the profile's).",
    show_default=False)]
OutputOpt = Annotated[OutputFormat | None, typer.Option(
    "--output", "-o", help="Output format: table, json, jsonl or csv.", show_default=False,
    case_sensitive=False)]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour (also honoured: NO_COLOR).")]
VerboseOpt = Annotated[bool, typer.Option(
    "--verbose", "-v", help="One line per cloud call on stderr: service, action, duration, request id.")]
SandboxOpt = Annotated[bool, typer.Option(
    "--sandbox", help="Run against the bundled local sandbox (also: ACKAUDIT_SANDBOX=1).")]

GLOBAL_OPTIONS: dict[str, Any] = {
    "profile": (ProfileOpt, None),
    "region": (RegionOpt, None),
    "output": (OutputOpt, None),
    "no_color": (NoColorOpt, False),
    "verbose": (VerboseOpt, False),
    "sandbox": (SandboxOpt, False),
}


def with_global_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Return `fn` with the global options appended to its signature, merged into `settings()`."""
    # eval_str: command modules use `from __future__ import annotations`; resolve their aliases in
    # their own module, since Typer will read this wrapper's signature, not theirs.
    sig = inspect.signature(fn, eval_str=True)
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
             for name, (annotation, default) in GLOBAL_OPTIONS.items() if name not in sig.parameters]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings().merge(**{name: kwargs.pop(name, None) for name in GLOBAL_OPTIONS})
        return fn(*args, **kwargs)

    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.kind == p.POSITIONAL_OR_KEYWORD else p
              for p in sig.parameters.values()]
    new_sig = sig.replace(parameters=params + extra)
    wrapper.__signature__ = new_sig  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in new_sig.parameters.values()}
    return wrapper


def command(app: typer.Typer, name: str, *, examples: list[str], **kwargs: Any) -> Callable[..., Any]:
    """Register a command with the global options and an Examples section in its help."""
    epilog = ("Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in examples)
              + "\n\nThe ids in the examples are the sandbox's: add --sandbox to try them.")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        from ackaudit.cli._context import guarded

        app.command(name, epilog=epilog, **kwargs)(with_global_options(guarded(fn)))
        return fn

    return decorate
