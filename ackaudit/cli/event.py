"""`ackaudit event`."""

import json
from typing import Annotated, Any

import typer

from ackaudit.cli import _output
from ackaudit.cli._globals import OutputFormat, command, settings
from ackaudit.cli._options import OptionalClusterOpt, SinceOpt, SourceOpt
from ackaudit.cli.query import C, NoRedactOpt, event_source, lookup_window


def register(app: typer.Typer) -> None:
    @command(app, "event", examples=[f"ackaudit event 3e33e192 --cluster {C}",
                                     f"ackaudit event 3e33e192 --cluster {C} -o json"])
    def event(
        event_id: Annotated[str, typer.Argument(metavar="EVENT_ID", help="The eventId of the event, or a unique prefix of it (at least 6 characters).",
                                                show_default=False)],
        cluster: OptionalClusterOpt = None,
        since: SinceOpt = None,
        source: SourceOpt = None,
        no_redact: NoRedactOpt = False,
    ) -> None:
        """Show every field of one audit event, and the session it belongs to.

        Searches the last 30 days unless --since says otherwise.
        """
        from ackaudit.audit.escape import command_line
        from ackaudit.audit.redact import redact_event, redact_text
        from ackaudit.audit.risky import builtin_catalogue, risk_of
        from ackaudit.services.investigate import raw_event, resolve_id, to_event

        src, ctx = event_source(cluster, source)
        window = lookup_window(src, since)
        event_id = resolve_id(src, "eventId", event_id, window)
        raw = raw_event(src, event_id, window)
        flat = to_event(raw)
        risk = risk_of(flat, builtin_catalogue())
        if not no_redact:
            flat = redact_event(flat)
        decoded = {k: _decode(v) for k, v in raw.items()}
        if not no_redact:
            decoded = _map_strings(decoded, redact_text)
        where = ("--cluster", str(ctx.cluster_id)) if ctx else ("--source", source or "")
        trace_id = flat.get("traceId")
        session_cmd = command_line("session", str(trace_id), where) if trace_id not in (None, "") else None
        data = {"event": flat, "raw": decoded, "risk": risk.__dict__ if risk else None, "session": session_cmd}
        if settings().fmt is not OutputFormat.table:
            _output.emit(data, rows=[flat])
            return
        _output.kv_block([(k, v) for k, v in flat.items()], title=f"event {event_id}")
        if risk:
            _output.warn(f"{risk.name} is a risky program: {risk.reason}")
        for key, value in decoded.items():
            if isinstance(value, (dict, list)):
                print(f"\n{_output.text_cell(key)}:\n" + _output.json_dumps(value, indent=2))
        if session_cmd:
            _output.info(f"\nthe whole session: {session_cmd}")


def _map_strings(value: Any, fn: Any) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
