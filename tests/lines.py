"""Read a child process's output line by line with a deadline: a child that hangs or dies makes the
test fail with what it printed, instead of blocking the suite on a readline that never returns."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import IO


def lines_within(stream: IO[str], seconds: float) -> Iterator[str]:
    """Each line of `stream` as it arrives; AssertionError on end of stream or after `seconds`."""
    arrived: queue.Queue[str] = queue.Queue()

    def read() -> None:
        try:
            for line in iter(stream.readline, ""):
                arrived.put(line)
        except (ValueError, OSError):      # the test closed the stream while this thread read it
            pass
        arrived.put("")

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + seconds
    seen: list[str] = []
    while True:
        try:
            line = arrived.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no further line within {seconds:.0f} s; so far: {''.join(seen)[-2000:]!r}") from None
        if line == "":
            raise AssertionError(f"the stream ended; it printed: {''.join(seen)[-2000:]!r}")
        seen.append(line)
        yield line
