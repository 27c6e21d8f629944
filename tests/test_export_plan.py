"""The export's field plans against the per-row reference (tests/export_reference.py), on rows that
stray from the usual shape: other casings, flat columns, broken JSON, odd times and values."""

import json

import export_reference
import pytest

from ackaudit.audit.risky import builtin_catalogue
from ackaudit.sandbox.generate import generate_events
from ackaudit.services.export_plan import CsvLines, EventMaker, jsonl_text

START = 1_795_000_000

ODD_ROWS = [
    # the usual shape, then the same in other casings and with both spellings of a key
    {"__time__": str(START), "kind": "Command", "time": "2026-11-20T00:00:00.123456Z",
     "process": json.dumps({"name": "mysql", "cmdline": "mysql -psecret -h db", "pid": "12"})},
    {"__TIME__": str(START), "Kind": "Command", "TIME": "2026-11-20T00:00:00Z",
     "PROCESS": json.dumps({"NAME": "curl", "CmdLine": "curl -H 'Authorization: Bearer abcdefghijk' x",
                            "ParentPid": 7, "USER": {"UID": "0"}})},
    {"kind": "Command", "Kind": "Kubernetes", "process": '{"name": "ls"}', "Process": '{"name": "rm"}'},
    # flat columns (as SQL returns them) win over the JSON field
    {"__time__": f"{START}.7", "k8s.pod.name": "flat", "k8s": json.dumps({"pod": {"name": "nested",
                                                                                "namespace": "ns"}})},
    # broken, empty, non-object JSON; non-canonical and missing times
    {"__time__": str(START), "k8s": "{not json", "host": "", "process": "[1, 2]", "time": "2026-11-20 01:02:03+08:00"},
    {"__time__": str(START), "kubeObject": " {\"operation\": {\"kind\": \"PodExec\"}} ", "time": "garbage"},
    {"__time__": str(START), "process": '{"name": "sh"} trailing', "time": ""},
    {"__time__": "", "kind": "Command", "process": json.dumps({"pid": "not a number", "user": "root"})},
    # typed values in odd forms
    {"__time__": str(START), "kind": "Kubernetes",
     "kubeObject": json.dumps({"operation": {"kind": "PodExec", "podExecOptions": {
         "command": ["sh", "-c", "redis-cli -a hunter2 ping"], "commandStr": "sh -c redis-cli -a hunter2 ping",
         "stdin": "TRUE", "tty": 1}}})},
    {"__time__": str(START), "kind": "Kubernetes",
     "kubeObject": json.dumps({"operation": {"kind": "PodExec", "podExecOptions": {
         "command": ["base64", {"x": 1}, 3], "commandStr": "x'"}}})},
    {"__time__": str(START), "kind": "Kubernetes",
     "kubeObject.operation.kind": "PodExec", "kubeObject.operation.podExecOptions.command": '["cat", "/etc/shadow"]',
     "kubeObject.operation.podExecOptions.stdin": "false", "k8s.user.groups": "not json"},
    {"__time__": str(START), "kind": "Command", "process": json.dumps({"name": "=cmd", "cmdline": "+x -y @z",
                                                                      "cwd": "'quoted", "pid": True})},
    {"__time__": str(START), "kind": "Command", "k8s": json.dumps({"pod": {"labels": {"a": "b"}, "name": None},
                                                                   "user": ["not", "an object"]}),
     "host": json.dumps({"hostip": 10, "nodename": {"nested": "object"}})},
    {"__time__": str(START), "kind": "Command", "process": json.dumps({"name": "x\u2028y\u00e9\ud7ff", "cmdline": "\t\r\n"})},
    {"__time__": str(START), "kind": "Command", "process": json.dumps({"name": "a,b", "cmdline": 'say "hi"',
                                                                      "cwd": "line\nbreak", "parentName": "cr\r"})},
    {"__time__": str(START), "kind": "Command", "process": json.dumps({"name": " spaced ", "cmdline": "",
                                                                      "cwd": "semi;colon|pipe", "pid": -1})},
    {},
]


def _reference(rows, redact):
    return list(export_reference.events(iter(rows), redact=redact, catalogue=builtin_catalogue()))


@pytest.mark.parametrize("redact", (True, False))
def test_odd_rows_make_the_same_events_lines_and_cells(redact):
    want = _reference(ODD_ROWS, redact)
    maker = EventMaker(redact=redact, catalogue=builtin_catalogue())
    got = maker.events(ODD_ROWS) + maker.events(ODD_ROWS)       # the second time from the caches
    assert got == want + want
    assert [list(e) for e in got[:len(want)]] == [list(e) for e in want]     # the same field order
    lines = "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in want)
    assert jsonl_text(got[:len(want)]) == lines
    columns = export_reference.csv_columns(["time", "risk", "kind"])
    import csv
    import io

    # Read back by a standard CSV reader, the lines give back exactly the cells (a lone carriage
    # return inside a cell is quoted too, so no reader splits the row there).
    text = CsvLines(columns).header() + CsvLines(columns).text(got[:len(want)])
    cells = [[export_reference.csv_cell(export_reference._csv_cell(k, event.get(k))) for k in columns]
             for event in want]
    assert list(csv.reader(io.StringIO(text, newline=""))) == [columns] + cells
    assert text.count("\n") == len(want) + 1 + sum(c.count("\n") for row in cells for c in row)


def test_generated_rows_make_the_same_events():
    rows = list(generate_events(3000, seed=11, start=START, end=START + 86400))
    for redact in (True, False):
        want = _reference(rows, redact)
        maker = EventMaker(redact=redact, catalogue=builtin_catalogue())
        got = [event for start in range(0, len(rows), 700) for event in maker.events(rows[start:start + 700])]
        assert got == want
