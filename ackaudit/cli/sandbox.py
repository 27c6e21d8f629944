"""`ackaudit sandbox ...`: the bundled local emulator of ACK + SLS + Kubernetes."""

from pathlib import Path
from typing import Annotated

import typer

from ackaudit.cli import _output
from ackaudit.cli._globals import command
from ackaudit.errors import UsageError, shown

app = typer.Typer(help="Run or reset the bundled local emulator of the ACK, SLS and Kubernetes APIs.",
                  no_args_is_help=True, rich_markup_mode=None)

StateDirOpt = Annotated[str | None, typer.Option(
    "--state-dir", help="Where the sandbox keeps its world (default: $XDG_DATA_HOME/ackaudit/sandbox). "
                        "A new, empty or sandbox world's folder; any other folder is refused.",
    show_default=False)]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the generated world (same seed, same world).")]


def _state_dir(state_dir: str | None) -> Path:
    from ackaudit.cloud.session import sandbox_dir
    from ackaudit.sandbox.worlddir import check_state_dir

    if state_dir is not None and not state_dir.strip():
        raise UsageError("--state-dir is empty", hint="name the sandbox's folder, or leave the option out")
    directory = sandbox_dir() if state_dir is None else Path(state_dir)
    check_state_dir(directory, option="--state-dir" if state_dir is not None else "the sandbox folder")
    return directory


def _check_port(port: int) -> None:
    """A busy port is refused before a world is built."""
    import socket

    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)    # as the server does
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}",
                             hint="choose another --port, or --port 0 for any free one") from None


def _parse_now(text: str | None) -> float | None:
    import time

    from ackaudit.audit.timeparse import parse_time

    if text is None:
        return None
    try:
        return float(parse_time(text, now=time.time()))
    except UsageError as exc:
        raise UsageError(f"--now {shown(text)} is not a time", hint=exc.hint) from None


@command(app, "start", examples=["ackaudit sandbox start",
                                 "ackaudit sandbox start --port 8765 --state-dir /tmp/world --seed 7"])
def start(
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free).")] = 0,
    state_dir: StateDirOpt = None,
    seed: SeedOpt = 1,
) -> None:
    """Run the sandbox in the foreground and print the settings that point tools at it."""
    from ackaudit.sandbox import open_sandbox, worlddir
    from ackaudit.sandbox.server import SandboxServer

    directory = _state_dir(state_dir)
    running = worlddir.serving(directory)
    if running is not None:
        raise UsageError(f"a sandbox server (pid {running['pid']}, {running.get('url')}) already serves {directory}",
                         hint="use its settings, or stop it first")
    _check_port(port)
    state = open_sandbox(directory, seed=seed)
    try:
        try:
            server = SandboxServer(state, port=port)
        except OSError as exc:
            raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}",
                             hint="choose another --port, or --port 0 for any free one") from None
        env = server.client_env()
        worlddir.announce(directory, server.url)
        try:
            _output.emit({"url": server.url, "state_dir": str(directory), "env": env},
                         human=lambda _: print("\n".join(f"export {k}={v}" for k, v in env.items()), flush=True))
            _output.info(f"sandbox listening on {server.url} (state in {directory}); Ctrl-C stops it")
            _output.info(f"HTTP_PROXY mode: export HTTP_PROXY={server.url} NO_PROXY=127.0.0.1,localhost")
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                _output.info("sandbox stopped")
        finally:
            worlddir.withdraw(directory)
    finally:
        state.close()


@command(app, "reset", examples=["ackaudit sandbox reset", "ackaudit sandbox reset --seed 7",
                                 "ackaudit sandbox reset --now 2026-11-28T12:00:00+08:00"])
def reset(
    state_dir: StateDirOpt = None,
    seed: SeedOpt = 1,
    now: Annotated[str | None, typer.Option(
        "--now", help="The instant the seeded history ends at (ISO 8601, epoch seconds, or a duration ago "
                      "like 2d; default: now). Same seed and --now give the same world.",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Reset even while a `sandbox start` serves this world (it then needs a restart).")] = False,
) -> None:
    """Throw away the sandbox's world and build a fresh one (only the world's own files are deleted)."""
    from ackaudit.audit.timeparse import iso
    from ackaudit.sandbox import open_sandbox, worlddir

    directory = _state_dir(state_dir)
    instant = _parse_now(now)
    running = worlddir.serving(directory)
    if running is not None:
        if not force:
            raise UsageError(f"a sandbox server (pid {running['pid']}, {running.get('url')}) is serving {directory}",
                             hint="stop it (Ctrl-C) first, or pass --force to reset the world under it")
        _output.warn(f"a sandbox server (pid {running['pid']}) is serving {directory}: it keeps its old "
                     "world, and may write over the new one, until you restart it")
    existed = worlddir.remove_world(directory)
    state = open_sandbox(directory, seed=seed, now=instant)
    built_at = state.meta["now"]
    state.close()
    _output.emit({"state_dir": str(directory), "replaced": existed, "seed": seed, "now": iso(built_at)},
                 human=lambda _: _output.success(f"fresh sandbox world (seed {seed}, history up to "
                                                 f"{iso(built_at)}) in {directory}"))
