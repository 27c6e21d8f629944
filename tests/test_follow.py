"""--follow's promise: every new event once, including ones that reach the logstore late."""

import itertools
import json
from dataclasses import dataclass

from ackaudit.engine import EventStore
from ackaudit.services.investigate import follow

P, L = "p", "l"


@dataclass
class StoreSource:
    store: EventStore
    description: str = "test store"

    def get(self, query, from_time, to_time, *, offset=0, line=100, reverse=False):
        result = self.store.query(P, L, query, from_time, to_time, offset=offset, line=line, reverse=reverse)

        @dataclass
        class Page:
            rows: list
            complete: bool = True

        return Page(result.rows)


def event(i, t):
    return {"__time__": t, "kind": "Command", "eventId": f"e{i}", "traceId": "t",
            "time": f"2026-11-28T00:00:{i:02d}Z", "process": json.dumps({"name": "ls", "pid": i})}


def test_follow_yields_each_new_event_once_even_when_late():
    store = EventStore(None)
    store.append(P, L, [event(0, 1000)])
    clock = [1010]
    arrivals = {0: [event(1, 1005)],                    # new since the start
                1: [event(2, 995), event(3, 1011)],     # e2 reached the logstore late, with an old time
                2: [], 3: [event(4, 1030)]}
    polls = []

    def sleep(_):
        polls.append(1)
        if len(polls) > 10:     # every event arrived by the 3rd poll: a follow still waiting is wrong
            raise AssertionError(f"follow is still polling after {len(polls) - 1} polls")
        store.append(P, L, arrivals.get(len(polls), []))
        clock[0] += 10

    store.append(P, L, arrivals[0])
    events = follow(StoreSource(store), "*", 1000, seen={"e0"}, clock=lambda: clock[0], sleep=sleep)
    got = [e["eventId"] for e in itertools.islice(events, 4)]
    assert got == ["e1", "e2", "e3", "e4"]
    store.close()
