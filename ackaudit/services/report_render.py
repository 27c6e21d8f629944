"""The overview report as a file to share: Markdown (for tickets and wikis) or one self-contained
HTML page (no external assets, no scripts, printable).

Every value from the audit log is untrusted text (a command line can hold `<script>` or `|`):
HTML escapes each one, Markdown puts command lines in code spans and escapes the rest. Times are
shown in the report's zone, which the header names.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import datetime
from importlib import resources
from string import Template
from typing import Any

from ackaudit.audit import escape
from ackaudit.services.report import Report

TITLE = "Container operation audit report"
EMPTY = "No container was entered and no command was recorded in this window."
NO_SESSIONS = "None: no session ran a risky command or entered a container between 00:00 and 06:00."
_BLOCKS = " ▏▎▍▌▋▊▉█"


def local_time(report: Report, iso_utc: str | None, *, seconds: bool = True) -> str:
    """An ISO 8601 UTC time from the report, in the report's zone (without the offset)."""
    if not iso_utc:
        return ""
    moment = datetime.fromisoformat(iso_utc.replace("Z", "+00:00"))
    local = report.zone.local(moment.timestamp())
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def unicode_bar(value: int, largest: int, width: int) -> str:
    """A bar of `width` characters at most, in eighths of a character."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / largest * width * 8))
    full, rest = divmod(eighths, 8)
    return "█" * full + (_BLOCKS[rest] if rest else "")


def user_label(user: dict[str, Any]) -> str:
    return user["username"] + (" (service account)" if user.get("service_account") else "")


def window_line(report: Report) -> str:
    w = report.window
    return (f"{local_time(report, w['from'], seconds=False)} to {local_time(report, w['to'], seconds=False)} "
            f"({w['timezone']}, UTC{w['utc_offset']})")


def redaction_line(report: Report) -> str:
    if report.redacted:
        return "Secrets found in command lines are masked as ******."
    return "Command lines are shown as recorded, secrets included: share this report with care."


def time_header(report: Report, name: str) -> str:
    """A column header for local times: the offset, so a pasted table still says what zone it is."""
    return f"{name} (UTC{report.zone.utc_offset})"


def activity_heading(report: Report) -> str:
    return {"hour": "Containers entered per hour", "day": "Containers entered per day",
            "week": "Containers entered per week"}[report.activity["unit"]]


# -- Markdown -----------------------------------------------------------------------------------------
md_text = escape.md_text
md_code = escape.md_code


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    rule = ["---:" if i in right else "---" for i in range(len(headers))]
    return ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule) + " |",
            *("| " + " | ".join(cells) + " |" for cells in rows)]


def to_markdown(report: Report) -> str:
    t = report.totals
    parts = [f"# {TITLE}", ""]
    if report.cluster_id:
        parts.append(f"- **Cluster:** {md_code(report.cluster_id)}")
    parts += [f"- **Events:** {md_code(report.source)}", f"- **Window:** {md_text(window_line(report))}",
              f"- **Generated:** {report.generated_at}", "", f"> {md_text(redaction_line(report))}"]
    parts += ["", *(f"> **Warning:** {md_text(w)}" for w in report.warnings)] if report.warnings else []
    if report.empty:
        return "\n".join([*parts, "", EMPTY]) + "\n"
    parts += ["", "## Summary", "", *_md_table(["", ""], [
        ["Containers entered (exec sessions)", str(t["sessions"])], ["Pods entered", str(t["pods"])],
        ["Users who entered", str(t["users"])], ["Commands run", str(t["commands"])],
        ["Distinct programs", str(t["programs"])], ["Risky commands", str(t["risky_commands"])],
        [time_header(report, "First activity"), local_time(report, t["first_activity"])],
        [time_header(report, "Last activity"), local_time(report, t["last_activity"])]], right=[1])]
    buckets = report.activity["buckets"]
    largest = max((b["sessions"] for b in buckets), default=0)
    parts += ["", f"## {activity_heading(report)}", "", *_md_table(["Period", "Sessions", ""], [
        [md_text(b["label"]), str(b["sessions"]), unicode_bar(b["sessions"], largest, 30)] for b in buckets],
        right=[1])]
    parts += ["", "## Sessions worth a look", ""]
    if report.sessions_to_review:
        parts += _md_table(["#", time_header(report, "Started"), "User", "Pod", "Commands", "Risky", "Why", "Open with"], [
            [str(i), local_time(report, s["started"]), md_text(s["username"]),
             md_text(f"{s['namespace']}/{s['pod']}"), str(s["commands"]), str(s["risky_commands"]),
             md_text("; ".join(s["reasons"])), md_code(s["command"])]
            for i, s in enumerate(report.sessions_to_review, start=1)], right=[0, 4, 5])
        parts += _md_more(report.sessions_to_review_more, "session", "sessions")
    else:
        parts.append(NO_SESSIONS)
    parts += ["", "## Top users", "", *_md_table(
        ["User", "Alibaba Cloud UID", "Sessions", "Commands", "Risky", "Pods", time_header(report, "Last seen")],
        [[md_text(user_label(u)), md_text(u["aliuid"] or "-"), str(u["sessions"]), str(u["commands"]),
          str(u["risky_commands"]), str(u["pods"]), local_time(report, u["last_seen"])] for u in report.top_users],
        right=[2, 3, 4, 5])]
    parts += ["", "## Top namespaces", "", *_md_table(["Namespace", "Sessions", "Pods", "Users"], [
        [md_text(n["namespace"]), str(n["sessions"]), str(n["pods"]), str(n["users"])]
        for n in report.top_namespaces], right=[1, 2, 3])]
    parts += ["", "## Top pods entered", "", *_md_table(["Pod", "Sessions", "Users"], [
        [md_text(f"{p['namespace']}/{p['pod']}"), str(p["sessions"]), str(p["users"])] for p in report.top_pods],
        right=[1, 2])]
    parts += ["", "## Top programs", "", *_md_table(["Program", "Runs", "Sessions", "Users", "Risky"], [
        [md_code(p["program"]), str(p["runs"]), str(p["sessions"]), str(p["users"]), "yes" if p["risky"] else ""]
        for p in report.top_programs], right=[1, 2, 3])]
    parts += ["", "## Risky programs", ""]
    parts += _md_table(["Program", "Category", "Runs", "Sessions", "Users", "Why it is risky"], [
        [md_code(p["program"]), md_text(p["category"]), str(p["runs"]), str(p["sessions"]), str(p["users"]),
         md_text(p["reason"])] for p in report.risky_programs], right=[2, 3, 4]) if report.risky_programs \
        else ["None."]
    parts += ["", "## Risky commands (newest first)", ""]
    if report.risky_commands:
        parts += _md_table([time_header(report, "Time"), "User", "Pod", "Command line", "Risk", "Session", "Event",
                            "See the event with"], [
            [local_time(report, c["time"]), md_text(c["username"]), md_text(f"{c['namespace']}/{c['pod']}"),
             md_code(c["cmdline"]), md_text(c["category"]), md_code(c["traceId"]), md_code(c["eventId"]),
             md_code(c.get("command", ""))] for c in report.risky_commands])
        parts += _md_more(report.risky_commands_more, "risky command", "risky commands")
    else:
        parts.append("None.")
    return "\n".join(parts) + "\n"


def _md_more(count: int, one: str, many: str) -> list[str]:
    return ["", f"_…and {count} more {one if count == 1 else many} not listed._"] if count else []


# -- HTML ---------------------------------------------------------------------------------------------
def e(value: Any) -> str:
    """HTML text: control and bidi characters shown as escapes, then HTML-escaped (quotes too)."""
    return html.escape(escape.visible(value), quote=True)


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, numeric: Sequence[int] = (),
                row_class: Callable[[int], str] | None = None, row_id: Callable[[int], str] | None = None) -> str:
    """`rows` hold HTML already escaped by the caller; headers are plain text."""
    head = "".join(f'<th class="num">{e(h)}</th>' if i in numeric else f"<th>{e(h)}</th>"
                   for i, h in enumerate(headers))
    body = []
    for index, cells in enumerate(rows):
        klass = row_class(index) if row_class else ""
        ident = row_id(index) if row_id else ""
        tds = "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(cells))
        attrs = (f' id="{e(ident)}"' if ident else "") + (f' class="{klass}"' if klass else "")
        body.append(f"<tr{attrs}>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _time_cell(report: Report, iso_utc: str | None) -> str:
    return f'<span class="time">{e(local_time(report, iso_utc))}</span>'


def _html_more(count: int, one: str, many: str) -> str:
    return f'<p class="more">…and {count} more {e(one if count == 1 else many)} not listed.</p>' if count else ""


def activity_svg(report: Report) -> str:
    """The sessions per period as an inline SVG bar chart (prints without background colours)."""
    buckets = report.activity["buckets"]
    largest = max((b["sessions"] for b in buckets), default=0) or 1
    width, height, top, bottom, left = 1100, 170, 18, 34, 36
    step = (width - 2 * left) / max(1, len(buckets))
    bar_width = max(1.0, min(step - 2, 90))
    every = max(1, -(-len(buckets) * 80 // width))         # label every n-th bar so labels never overlap
    shapes = []
    for i, b in enumerate(buckets):
        bar = round((height - top - bottom) * b["sessions"] / largest)
        middle = left + i * step + step / 2
        y = height - bottom - bar
        shapes.append(f'<rect class="bar" x="{middle - bar_width / 2:.1f}" y="{y}" width="{bar_width:.1f}" '
                      f'height="{bar}"><title>{e(b["label"])}: {b["sessions"]}</title></rect>')
        if b["sessions"] and step >= 18:
            shapes.append(f'<text class="v" x="{middle:.1f}" y="{y - 4}" text-anchor="middle">{b["sessions"]}</text>')
        if i % every == 0:
            label = b["label"] if report.activity["unit"] == "hour" else b["label"][5:]
            shapes.append(f'<text x="{middle:.1f}" y="{height - bottom + 16}" text-anchor="middle">{e(label)}</text>')
    axis = f'<line x1="{left}" y1="{height - bottom}" x2="{width - left}" y2="{height - bottom}" stroke="#d9e2ec"/>'
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{e(activity_heading(report))}"'
            f' xmlns="http://www.w3.org/2000/svg">{axis}{"".join(shapes)}</svg>')


def to_html(report: Report) -> str:
    template = Template(resources.files("ackaudit.data").joinpath("report.html.tmpl").read_text(encoding="utf-8"))
    title = f"{TITLE}: {report.cluster_id}" if report.cluster_id else TITLE
    return template.substitute(title=e(title), body="\n".join(_html_body(report)))


def _html_body(report: Report) -> list[str]:
    t = report.totals
    meta = [("Cluster", report.cluster_id)] if report.cluster_id else []
    meta += [("Events", report.source), ("Window", window_line(report)), ("Generated", report.generated_at)]
    out = [f"<h1>{e(TITLE)}</h1>",
           *(f'<p class="meta"><b>{e(k)}:</b> {e(v)}</p>' for k, v in meta),
           f'<p class="note">{e(redaction_line(report))}</p>',
           *(f'<p class="note warn"><b>Warning:</b> {e(w)}</p>' for w in report.warnings)]
    if report.empty:
        return [*out, f"<p>{e(EMPTY)}</p>"]
    cards = [("Containers entered", t["sessions"], ""), ("Pods entered", t["pods"], ""),
             ("Users", t["users"], ""), ("Commands", t["commands"], ""), ("Programs", t["programs"], ""),
             ("Risky commands", t["risky_commands"], " risk" if t["risky_commands"] else "")]
    out.append("<h2>Summary</h2>")
    out.append('<div class="cards">' + "".join(
        f'<div class="card{klass}"><div class="n">{n}</div><div class="l">{e(label)}</div></div>'
        for label, n, klass in cards) + "</div>")
    out.append(f'<p class="meta">First activity <b>{e(local_time(report, t["first_activity"]))}</b>, '
               f'last <b>{e(local_time(report, t["last_activity"]))}</b></p>')
    out += [f"<h2>{e(activity_heading(report))}</h2>", activity_svg(report)]
    out.append("<h2>Sessions worth a look</h2>")
    if report.sessions_to_review:
        out.append(_html_table(["#", time_header(report, "Started"), "User", "Pod", "Commands", "Risky", "Why", "Open with"], [
            [str(i), _time_cell(report, s["started"]), e(s["username"]), e(f"{s['namespace']}/{s['pod']}"),
             str(s["commands"]), str(s["risky_commands"]), _reasons(s), f"<code>{e(s['command'])}</code>"]
            for i, s in enumerate(report.sessions_to_review, start=1)], numeric=[0, 4, 5],
            row_class=lambda i: "risky" if report.sessions_to_review[i]["risky_commands"] else ""))
        out.append(_html_more(report.sessions_to_review_more, "session", "sessions"))
    else:
        out.append(f"<p>{e(NO_SESSIONS)}</p>")
    out.append("<h2>Top users</h2>")
    out.append(_html_table(["User", "Alibaba Cloud UID", "Sessions", "Commands", "Risky", "Pods",
                            time_header(report, "Last seen")], [
        [e(u["username"]) + (' <span class="tag">service account</span>' if u["service_account"] else ""),
         e(u["aliuid"] or "-"), str(u["sessions"]), str(u["commands"]), str(u["risky_commands"]), str(u["pods"]),
         _time_cell(report, u["last_seen"])] for u in report.top_users], numeric=[2, 3, 4, 5]))
    namespaces = _html_table(["Namespace", "Sessions", "Pods", "Users"], [
        [e(n["namespace"]), str(n["sessions"]), str(n["pods"]), str(n["users"])] for n in report.top_namespaces],
        numeric=[1, 2, 3])
    pods = _html_table(["Pod", "Sessions", "Users"], [
        [e(f"{p['namespace']}/{p['pod']}"), str(p["sessions"]), str(p["users"])] for p in report.top_pods],
        numeric=[1, 2])
    out.append(f'<div class="two"><div><h2>Top namespaces</h2>{namespaces}</div>'
               f"<div><h2>Top pods entered</h2>{pods}</div></div>")
    programs = _html_table(["Program", "Runs", "Sessions", "Users", ""], [
        [f"<code>{e(p['program'])}</code>", str(p["runs"]), str(p["sessions"]), str(p["users"]),
         '<span class="tag risk">risky</span>' if p["risky"] else ""] for p in report.top_programs],
        numeric=[1, 2, 3])
    risky_programs = _html_table(["Program", "Category", "Runs", "Sessions", "Why it is risky"], [
        [f"<code>{e(p['program'])}</code>", f'<span class="tag risk">{e(p["category"])}</span>', str(p["runs"]),
         str(p["sessions"]), e(p["reason"])] for p in report.risky_programs],
        numeric=[2, 3]) if report.risky_programs else "<p>None.</p>"
    out.append(f"<h2>Top programs</h2>{programs}<h2>Risky programs</h2>{risky_programs}")
    out.append("<h2>Risky commands (newest first)</h2>")
    if report.risky_commands:
        out.append(_html_table([time_header(report, "Time"), "User and pod", "Command line", "Risk",
                                "Session and event"], [
            [_time_cell(report, c["time"]), f'{e(c["username"])}<br><span class="sub">{e(c["namespace"])}/'
             f'{e(c["pod"])}</span>', f"<code>{e(c['cmdline'])}</code>",
             f'<span class="tag risk">{e(c["category"])}</span>', _event_cell(c)]
            for c in report.risky_commands], row_id=lambda i: _anchor(report.risky_commands[i])))
        out.append(_html_more(report.risky_commands_more, "risky command", "risky commands"))
    else:
        out.append("<p>None.</p>")
    out.append(f"<footer>{e(TITLE)} · generated by ackaudit at {e(report.generated_at)}</footer>")
    return out


def _anchor(command: dict[str, Any]) -> str:
    return f"event-{command['eventId']}" if command.get("eventId") else ""


def _event_cell(command: dict[str, Any]) -> str:
    """The session, the event (a link to its own row, to share), and the command that shows it, which
    one click selects for copying."""
    anchor = _anchor(command)
    event = (f'<a class="id" href="#{e(anchor)}" title="link to this event">{e(command["eventId"])}</a>'
             if anchor else "")
    show = f'<code class="cmd" title="click to select, then copy">{e(command["command"])}</code>' \
        if command.get("command") else ""
    return (f'<span class="sub">session</span> <code class="id">{e(command["traceId"])}</code><br>'
            f'<span class="sub">event</span> {event}<br>{show}')


def _reasons(session: dict[str, Any]) -> str:
    tags = []
    if session["risky_commands"]:
        tags.append(f'<span class="tag risk">{session["risky_commands"]} risky</span>')
    if session["unusual_hour"]:
        tags.append(f'<span class="tag night">night {e(session["local_start"])}</span>')
    return " ".join(tags)
