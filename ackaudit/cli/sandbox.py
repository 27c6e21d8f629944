"""`ackaudit sandbox ...`: the bundled local emulator of ACK + SLS + Kubernetes."""

from pathlib import Path
from typing import Annotated

import typer

from ackaudit.cli import _output
from ackaudit.cli._globals import command

app = typer.Typer(help="Run or reset the bundled local emulator of the ACK, SLS and Kubernetes APIs.",
                  no_args_is_help=True, rich_markup_mode=None)

StateDirOpt = Annotated[Path | None, typer.Option(
    "--state-dir", help="Where the sandbox keeps its world (default: $XDG_DATA_HOME/ackaudit/sandbox).",
    show_default=False)]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the generated world (same seed, same world).")]


def _state_dir(state_dir: Path | None) -> Path:
    from ackaudit.cloud.session import sandbox_dir

    return state_dir or sandbox_dir()


@command(app, "start", examples=["ackaudit sandbox start",
                                 "ackaudit sandbox start --port 8765 --state-dir /tmp/world --seed 7"])
def start(
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free).")] = 0,
    state_dir: StateDirOpt = None,
    seed: SeedOpt = 1,
) -> None:
    """Run the sandbox in the foreground and print the settings that point tools at it."""
    from ackaudit.sandbox import open_sandbox
    from ackaudit.sandbox.server import SandboxServer

    directory = _state_dir(state_dir)
    state = open_sandbox(directory, seed=seed)
    server = SandboxServer(state, port=port)
    env = server.client_env()
    _output.emit({"url": server.url, "state_dir": str(directory), "env": env},
                 human=lambda _: print("\n".join(f"export {k}={v}" for k, v in env.items()), flush=True))
    _output.info(f"sandbox listening on {server.url} (state in {directory}); Ctrl-C stops it")
    _output.info(f"HTTP_PROXY mode: export HTTP_PROXY={server.url} NO_PROXY=127.0.0.1,localhost")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        _output.info("sandbox stopped")
    finally:
        state.close()


@command(app, "reset", examples=["ackaudit sandbox reset", "ackaudit sandbox reset --seed 7"])
def reset(state_dir: StateDirOpt = None, seed: SeedOpt = 1) -> None:
    """Throw away the sandbox's world and build a fresh one."""
    from ackaudit.sandbox import open_sandbox

    directory = _state_dir(state_dir)
    existed = directory.exists()
    if existed:
        import shutil

        shutil.rmtree(directory)
    open_sandbox(directory, seed=seed).close()
    _output.emit({"state_dir": str(directory), "replaced": existed, "seed": seed},
                 human=lambda _: _output.success(f"fresh sandbox world (seed {seed}) in {directory}"))
