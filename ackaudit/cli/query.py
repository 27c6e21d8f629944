"""`ackaudit query`."""

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ackaudit.cli import _events, _output
from ackaudit.cli._context import cloud
from ackaudit.cli._globals import OutputFormat, command, settings
from ackaudit.cli._options import AllowPartialOpt, FromOpt, OptionalClusterOpt, SinceOpt, SourceOpt, ToOpt
from ackaudit.errors import Gap, UsageError

C = "cab2c17507494d8cdae1b9324d1d83793"    # the sandbox's audited cluster, in the examples

NoRedactOpt = Annotated[bool, typer.Option("--no-redact", help="Show secrets found in command lines.")]


def event_source(cluster: str | None, source_file: str | None) -> tuple[Any, Any]:
    """(EventSource, ClusterContext or None) for --cluster or --source (which needs no cluster)."""
    if source_file:
        from ackaudit.services.archive import FileSource

        return FileSource(source_file), None
    if not cluster:
        raise UsageError("which cluster? pass --cluster ID (or set ACKAUDIT_CLUSTER)")
    from ackaudit.services.cluster import ClusterContext
    from ackaudit.services.investigate import LogstoreSource

    ctx = ClusterContext(cloud(), cluster)
    return LogstoreSource(ctx.cloud.sls, ctx.project[0], ctx.logstore, cluster, ctx.audit_not_enabled), ctx


def lookup_window(src: Any, since: str | None, default: str = "30d") -> Any:
    """The window a session or event lookup searches: --since (or `default`); a whole file by default."""
    from ackaudit.services.investigate import Window, is_file, window_for

    from_time, to_time = window_for(src, since=since, from_=None, to=None, default=default, now=time.time())
    whole_file = is_file(src) and since is None
    return Window(from_time, to_time, None if whole_file else (since or default))


def decorate(events: list[dict[str, Any]], catalogue: dict[str, Any], redact: bool) -> list[dict[str, Any]]:
    """Mark risky programs and mask secrets (unless --no-redact), in place order."""
    from dataclasses import asdict

    from ackaudit.audit.redact import redact_event
    from ackaudit.audit.risky import risk_of

    out = []
    for event in events:
        risk = risk_of(event, catalogue)
        event = redact_event(event) if redact else dict(event)
        event["risk"] = asdict(risk) if risk else None
        out.append(event)
    return out


def register(app: typer.Typer) -> None:
    @command(app, "query", examples=[f"ackaudit query --cluster {C} --pod payments/payments-api-hpsrdhdvdm-6mqbh --since 7d",
                                     f"ackaudit query --cluster {C} --process rm --since 7d -o jsonl",
                                     f"ackaudit query --cluster {C} --risky --user 2901746385019274 --since 7d",
                                     f"ackaudit query --cluster {C} --where 'process.cwd: \"/tmp\"' --limit 0",
                                     f"ackaudit query --cluster {C} --trace 24b1236b --since 7d --oldest-first",
                                     f"ackaudit query --cluster {C} --follow"])
    def query(
        cluster: OptionalClusterOpt = None,
        pod: Annotated[str | None, typer.Option("--pod", help="Pod as ns/name (or name with --namespace).",
                                                show_default=False)] = None,
        namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace.",
                                                      show_default=False)] = None,
        process: Annotated[list[str] | None, typer.Option("--process", help="Program name (repeatable).",
                                                          show_default=False)] = None,
        user: Annotated[str | None, typer.Option("--user", help="Kubernetes username or Alibaba Cloud UID.",
                                                 show_default=False)] = None,
        container: Annotated[str | None, typer.Option("--container", help="Container name.",
                                                      show_default=False)] = None,
        node: Annotated[str | None, typer.Option("--node", help="Node name.", show_default=False)] = None,
        image: Annotated[str | None, typer.Option("--image", help="Container image (or part of it, e.g. "
                                                  "nginx:1.25).", show_default=False)] = None,
        kind: Annotated[str, typer.Option("--kind", help="exec (entering a container), command, or all.")] = "all",
        risky: Annotated[bool, typer.Option("--risky", help="Only programs on the risky list (the built-in "
                                            "one, or --risky-programs), matched by name. The RISK column "
                                            "also flags risky behaviour such as base64 -d or curl | sh.")] = False,
        risky_programs: Annotated[Path | None, typer.Option("--risky-programs", help="Your own risky-program "
                                                            "list: JSON like the bundled one, or one name per line.",
                                                            show_default=False)] = None,
        trace: Annotated[str | None, typer.Option("--trace", help="Only this session: its traceId, or a unique prefix of "
                                                  "it (at least 6 characters).",
                                                  show_default=False)] = None,
        where: Annotated[str | None, typer.Option("--where", help="A raw SLS search expression, AND-ed with "
                                                  "the rest.", show_default=False)] = None,
        since: SinceOpt = None,
        from_: FromOpt = None,
        to: ToOpt = None,
        limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many events (0: all).")] = 100,
        oldest_first: Annotated[bool, typer.Option("--oldest-first", help="Oldest events first.")] = False,
        follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C.")] = False,
        allow_partial: AllowPartialOpt = False,
        no_redact: NoRedactOpt = False,
        source: SourceOpt = None,
    ) -> None:
        """Find audit events by pod, program, user, container, node, image and time."""
        from ackaudit.audit.query import Filters, build_search, parse_pod
        from ackaudit.audit.risky import builtin_catalogue, load_catalogue
        from ackaudit.services.investigate import (
            Window,
            is_file,
            resolve_id,
            run_query,
            window_for,
            window_text,
        )

        ns, pod_name = parse_pod(pod, namespace)
        catalogue = load_catalogue(str(risky_programs)) if risky_programs else builtin_catalogue()
        filters = Filters(namespace=ns, pod=pod_name, processes=list(process or []), user=user,
                          container=container, node=node, image=image, kind=kind,
                          risky_programs=sorted(catalogue) if risky or risky_programs else None,
                          trace_id=trace, where=where)
        search = build_search(filters)
        if follow and source:
            raise UsageError("--follow watches a cluster; an exported file does not grow")
        if follow and to is not None:
            raise UsageError("--follow prints events as they arrive: it has no end (--to)",
                             hint="drop --to to follow from --from or --since, or drop --follow for a fixed window")
        src, _ = event_source(cluster, source)
        from_time, to_time = window_for(src, since=since, from_=from_, to=to, default="24h", now=time.time())
        if trace:
            filters.trace_id = resolve_id(src, "traceId", trace, Window(from_time, to_time), required=False)
            search = build_search(filters)
        if from_ is None and to is None:
            whole_file = is_file(src) and since is None
            label = f"all of {source}" if whole_file else f"the last {since or '24h'}"
            _output.info(f"events from {window_text(from_time, to_time)} ({label})")
        else:
            _output.info(f"events from {window_text(from_time, to_time)}")
        result = run_query(src, search, from_time, to_time, limit=limit, oldest_first=oldest_first)
        events = decorate(result.events, catalogue, not no_redact)
        if follow:  # like tail -f: the newest events so far, oldest first, then what arrives
            initial = events if oldest_first else events[::-1]
            _follow(src, search, initial, catalogue, not no_redact, to_time)
            return
        _emit_events(events)
        _report_completeness(result, limit, allow_partial)


def _emit_events(events: list[dict[str, Any]]) -> None:
    if settings().fmt is OutputFormat.csv:
        _output.write_csv([_events.csv_row(e) for e in events], _events.CSV_FIELDS)
        return
    _output.emit(events, human=lambda _: _show_table(events))


def _show_table(events: list[dict[str, Any]]) -> None:
    width = _output.output_width()
    left_out = _output.fitted_table(_events.table_rows(events), _events.TABLE, empty="no events match", width=width)
    if left_out:
        names = ", ".join(c.header for c in left_out)
        _output.info(f"{names} left out to fit {width} columns; a wider terminal, or -o json / -o csv, shows them")
    if any(e.get("risk") for e in events):
        _output.info(_events.MARK_LEGEND)


def _report_completeness(result: Any, limit: int, allow_partial: bool) -> None:
    shown = len(result.events)
    if result.total is not None and result.total > shown:
        _output.info(f"showing {shown} of {result.total} matching events; --limit 0 shows all")
    if not result.partial:
        for warning in result.warnings:
            _output.warn(warning)
        return
    _output.finish_partial([Gap(w) for w in result.warnings], allow_partial, what="the list of events above")


def _follow(src: Any, search: str, initial: list[dict[str, Any]], catalogue: Any, redact: bool,
            since: int) -> None:
    import sys

    from ackaudit.services.investigate import follow

    fmt = settings().fmt
    if fmt is OutputFormat.csv:          # one header, then a row per event as it arrives
        write_row = _output.csv_writer(_events.CSV_FIELDS)

    def show(event: dict[str, Any]) -> None:
        if fmt is OutputFormat.csv:
            write_row(_events.csv_row(event))
        elif fmt in (OutputFormat.json, OutputFormat.jsonl):
            print(_output.json_dumps(event))
        else:
            print(_events.stream_line(event))
        sys.stdout.flush()

    seen = {e["eventId"] for e in initial if e.get("eventId")}
    for event in initial:
        show(event)
    _output.info("following new events; Ctrl-C stops")
    for event in follow(src, search, since, seen=seen):
        show(decorate([event], catalogue, redact)[0])
