"""The `ackaudit` command tree. Each command lives in its own module; this one only assembles them.

Typer's rich-formatted help is turned off (rich_markup_mode=None): it costs about 100 ms on every
`--help` and completion, and the plain help reads the same.
"""

import re
from typing import Annotated, Any

import typer
import typer.core

from ackaudit import __version__
from ackaudit.cli import _globals
from ackaudit.cli._globals import NoColorOpt, OutputOpt, ProfileOpt, RegionOpt, SandboxOpt, VerboseOpt

# Click's base error class, found through a public name whichever Click Typer ships with.
_CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_QUOTED = re.compile(r"'([^']{61,})'")


def _cut_values(message: str) -> str:
    """Click's usage errors quote the bad value; a 100 000-character value is cut, not echoed."""
    from ackaudit.errors import shown

    return _QUOTED.sub(lambda m: shown(m[1]), message)


class _Group(typer.core.TyperGroup):
    """The root group: usage errors raised while parsing any command's arguments keep their
    wording but never echo a huge value in full."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except _CLICK_ERROR as exc:
            exc.message = _cut_values(exc.message)
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _CLICK_ERROR as exc:
            exc.message = _cut_values(exc.message)
            raise


app = typer.Typer(
    cls=_Group,
    name="ackaudit",
    help="Who entered which container on ACK, and what they did there.\n\n"
         "Enable and check ACK container operation audit, question its records, and alert on them. "
         "Add --sandbox to any command to try it against the bundled local emulator.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"ackaudit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output: OutputOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = False,
    sandbox: SandboxOpt = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    _globals.settings().merge(profile=profile, region=region, output=output, no_color=no_color,
                              verbose=verbose, sandbox=sandbox)


def _register() -> None:
    from ackaudit.cli import (
        alerts,
        clusters,
        doctor,
        event,
        export,
        lifecycle,
        query,
        report,
        retention,
        sandbox,
        session,
        status,
    )

    for module in (clusters, doctor, lifecycle, status, retention, query, session, event, report, export):
        module.register(app)
    app.add_typer(alerts.app, name="alerts")
    app.add_typer(sandbox.app, name="sandbox")


_register()


def main(argv: list[str] | None = None) -> None:
    _globals.reset()
    try:
        app(args=argv, prog_name="ackaudit")
    except KeyboardInterrupt:            # while the command line is parsed, outside any command
        import sys

        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
