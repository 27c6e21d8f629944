"""Commands whose behaviour is not built yet say so plainly (exit 1) instead of pretending."""

from __future__ import annotations

from ackaudit.errors import NotImplementedYet


def not_yet(name: str) -> None:
    raise NotImplementedYet(f"`ackaudit {name}` is not implemented yet",
                            hint="see the README's list of what works today")
