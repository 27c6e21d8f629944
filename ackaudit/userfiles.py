"""Files the user names for ackaudit to read (`--risky-programs`, `--exclude`, `--kubeconfig`).

Each is read whole, but never more than `LIMIT` bytes: a device that never ends (`/dev/zero`,
`/dev/full`) is refused after that much instead of filling the memory. Pipes (`<(...)`) are read
like files. Every failure is one usage error, `cannot read WHAT 'PATH': reason`, with a huge path
cut (`errors.shown_path`) and the reason without the path repeated in it.
"""

from __future__ import annotations

from ackaudit.errors import UsageError, shown_path

LIMIT = 4 << 20   # bytes; a risky list, an exclusion file or a kubeconfig is a few kilobytes


def read_text(path: str, what: str, *, limit: int = LIMIT) -> str:
    """The UTF-8 text of `path`; `what` names it in errors ("--exclude", "kubeconfig")."""

    def refused(reason: str) -> UsageError:
        return UsageError(f"cannot read {what} {shown_path(path)}: {reason}")

    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise refused(exc.strerror or type(exc).__name__) from None
    if len(data) > limit:
        raise refused(f"larger than {limit >> 20} MiB (is it the right file?)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refused(f"not UTF-8 text (byte {exc.start + 1})") from None
