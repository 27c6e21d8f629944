"""`python -m ackaudit` and the `ackaudit` command. Ctrl-C while the CLI is still loading ends like
Ctrl-C anywhere else: one line, exit 130, no traceback."""

import sys


def run() -> None:
    try:
        from ackaudit.cli import main
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    main()


if __name__ == "__main__":
    run()
