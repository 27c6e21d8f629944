"""How the report runs its statements: several at once, by priority, and none after it failed."""

from __future__ import annotations

import threading
import time

import pytest

from ackaudit.audit.risky import builtin_catalogue
from ackaudit.errors import AuthError
from ackaudit.services.report import FIRST, LAST, NEXT, _Slots, build_report, zone_named


class FailingSource:
    """Every statement waits a little; the first one fails. Records when each request starts."""

    description = "a source whose first statement is refused"
    statements_at_once = 2

    def __init__(self) -> None:
        self.started: list[float] = []
        self._lock = threading.Lock()

    def get(self, query, from_time, to_time, **kwargs):
        with self._lock:
            self.started.append(time.monotonic())
            first = len(self.started) == 1
        time.sleep(0.05)
        if first:
            raise AuthError("refused")
        raise AssertionError("only the first statement matters here")


def test_no_statement_starts_after_the_report_failed():
    source = FailingSource()
    with pytest.raises((AuthError, AssertionError)):
        build_report(source, 0, 86400, catalogue=builtin_catalogue(), zone=zone_named("UTC", 0), now=86400)
    failed_at = time.monotonic()
    time.sleep(0.5)                         # panel threads that were waiting for a slot wake up here
    assert source.started and max(source.started) <= failed_at


def test_waiting_statements_get_a_slot_by_priority_then_in_order():
    slots, order, ready = _Slots(1), [], threading.Event()

    def take(name, priority, holder=False):
        with slots.held(priority):
            order.append(name)
            if holder:
                ready.wait(5)

    first = threading.Thread(target=take, args=("holder", NEXT, True))
    first.start()
    time.sleep(0.05)
    waiting = [threading.Thread(target=take, args=(name, priority))
               for name, priority in (("last", LAST), ("next-1", NEXT), ("first", FIRST), ("next-2", NEXT))]
    for thread in waiting:
        thread.start()
        time.sleep(0.05)                    # in this order
    ready.set()
    for thread in [first, *waiting]:
        thread.join(5)
    assert order == ["holder", "first", "next-1", "next-2", "last"]
