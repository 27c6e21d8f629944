"""Filters become SLS searches that match values literally: proved against the embedded engine."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ackaudit.audit.query import Filters, build_search, parse_pod
from ackaudit.engine import EventStore
from ackaudit.errors import UsageError

P, L = "proj", "audit"
T0 = 1_790_000_000


def row(i, namespace, pod, process, user="alice"):
    return {"__time__": T0 + i, "kind": "Command", "traceId": f"t{i}", "eventId": f"e{i}",
            "k8s": json.dumps({"pod": {"namespace": namespace, "name": pod}, "user": {"username": user, "aliuid": ""},
                               "container": {"name": "app", "image": "registry/lib/nginx:1.25"}}),
            "process": json.dumps({"name": process, "cmdline": f"{process} -x", "pid": 10 + i})}


@pytest.fixture(scope="module")
def store():
    s = EventStore(None)
    s.append(P, L, [row(0, "payments", "api-0", "rm"), row(1, "payments", "api-1", "curl"),
                    row(2, "web", "front-0", "ls"), row(3, "web", "api-0", "rm", user="system:serviceaccount:ci:bot")])
    yield s
    s.close()


def ids(store, filters):
    return sorted(r["eventId"] for r in store.query(P, L, build_search(filters), T0, T0 + 100).rows)


def test_filters_combine(store):
    assert ids(store, Filters(namespace="payments")) == ["e0", "e1"]
    assert ids(store, Filters(namespace="payments", pod="api-0")) == ["e0"]
    assert ids(store, Filters(processes=["rm"])) == ["e0", "e3"]
    assert ids(store, Filters(processes=["rm", "curl"], namespace="payments")) == ["e0", "e1"]
    assert ids(store, Filters(user="system:serviceaccount:ci:bot")) == ["e3"]
    assert ids(store, Filters(image="nginx:1.25")) == ["e0", "e1", "e2", "e3"]
    assert ids(store, Filters(risky_programs=["rm", "sudo"])) == ["e0", "e3"]
    assert ids(store, Filters(kind="exec")) == []
    assert ids(store, Filters(where='process.name: "ls" or process.name: "curl"', namespace="web")) == ["e2"]


# Names made of what hostile input is made of: quotes, backslashes, operators, wildcards, pipes,
# colons, keywords, spaces and non-ASCII.
hostile = st.lists(st.sampled_from(list('ab-.x"\\*?|:() ') + ["and", "or", "not", "名", "é"]),
                   min_size=1, max_size=12).map(lambda parts: "".join(parts).strip() or "x")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=hostile)
def test_a_hostile_value_matches_only_itself(value):
    s = EventStore(None)
    try:
        s.append(P, L, [row(0, "payments", value, "rm"), row(1, "payments", "api-1", "rm")])
        for filters in (Filters(pod=value), Filters(namespace="payments", pod=value), Filters(processes=[value]),
                        Filters(user=value), Filters(trace_id=value)):
            got = ids(s, filters)   # never a parse error, never a widened match
            assert "e1" not in got or value == "api-1"
        assert "e0" in ids(s, Filters(pod=value)) or not any(c.isalnum() for c in value)
    finally:
        s.close()


def test_pod_forms():
    assert parse_pod("payments/api-0", None) == ("payments", "api-0")
    assert parse_pod("api-0", "payments") == ("payments", "api-0")
    assert parse_pod(None, "payments") == ("payments", None)
    for bad in ("/x", "x/", "a/b/c"):
        with pytest.raises(UsageError):
            parse_pod(bad, None)
    with pytest.raises(UsageError):
        parse_pod("a/b", "c")


def test_where_rejects_sql_and_exec_with_process():
    with pytest.raises(UsageError):
        build_search(Filters(where="* | select 1"))
    with pytest.raises(UsageError):
        build_search(Filters(kind="exec", processes=["rm"]))
    with pytest.raises(UsageError):
        build_search(Filters(kind="nope"))


@pytest.mark.parametrize("escape", ['x) or (*', '*) or (*', 'rm) or (kind: Command', 'x\\'])
def test_where_cannot_escape_the_other_filters(store, escape):
    with pytest.raises(UsageError):
        ids(store, Filters(namespace="web", where=escape))


@given(st.text(alphabet='ab*():" \\|orandt', max_size=12))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_where_is_always_and_ed_with_the_rest(store, where):
    """Whatever --where says, the namespace filter still applies: nothing from another namespace."""
    try:
        search = build_search(Filters(namespace="web", where=where))
    except UsageError:
        return
    rows = store.query(P, L, search, T0, T0 + 100).rows
    assert all(json.loads(r["k8s"])["pod"]["namespace"] == "web" for r in rows)


@pytest.mark.parametrize("where, position", [(")", 0), ("and", 0), ("kind: Command and", 17), ("(a", 2)])
def test_where_syntax_errors_point_into_the_users_text(where, position):
    with pytest.raises(UsageError) as caught:
        build_search(Filters(namespace="web", where=where))
    assert f"at position {position}:" in caught.value.message and caught.value.message.startswith("--where")


@pytest.mark.parametrize("filters, option", [
    (Filters(pod=""), "--pod"), (Filters(namespace=" "), "--namespace"), (Filters(processes=["rm", ""]), "--process"),
    (Filters(user=""), "--user"), (Filters(container=""), "--container"), (Filters(node=""), "--node"),
    (Filters(image=""), "--image"), (Filters(trace_id=""), "--trace"), (Filters(event_id=""), "--event"),
    (Filters(where=""), "--where"),
])
def test_empty_filter_values_are_refused(filters, option):
    with pytest.raises(UsageError, match=f"^{option} is empty"):
        build_search(filters)


@pytest.mark.parametrize("pod", ["payments/", "/api-0", "a/b/c", " / "])
def test_malformed_pods_say_what_is_expected(pod):
    with pytest.raises(UsageError) as caught:
        parse_pod(pod, None)
    assert "--pod" in caught.value.message and "namespace/name" in (caught.value.hint or "")
