"""SLS search statements evaluated by the store: tokens, phrases, wildcards, logic, numbers."""

from __future__ import annotations

import pytest

from ackaudit.engine import QueryError


@pytest.mark.parametrize("query, expected", [
    ("kind: Command and k8s.pod.namespace: default and process.name: rm", ["nginx-1"]),
    ("* and k8s.pod.name: nginx-1", ["nginx-1", "nginx-1", "nginx-1"]),
    ("* and process.name: curl", ["coredns-1"]),
    ("kind:Command and k8s.pod.name:nginx-2", ["nginx-2"]),
    ("KIND: command AND Process.Name: LS", ["nginx-2"]),
    ("kubeObject.operation.kind: PodExec", ["nginx-1"]),
    ("kubeobject.operation.podexecoptions.container: nginx", ["nginx-1"]),
])
def test_field_search(audit, query, expected):
    assert audit.pods(query) == expected


def test_empty_search_and_star_match_everything(audit):
    assert len(audit.search("")) == len(audit.search("*")) == 5


def test_hyphen_dot_and_underscore_do_not_split_tokens(engine):
    t0 = engine.T0
    engine.append(engine.command(t0, pod="nginx-1"), engine.command(t0, pod="nginx"),
                  engine.command(t0, pod="web", cmdline="python my_app.py"))
    assert engine.pods("k8s.pod.name: nginx") == ["nginx"]
    assert engine.pods("k8s.pod.name: nginx-1") == ["nginx-1"]
    assert engine.pods("process.cmdline: my_app.py") == ["web"]
    assert engine.pods("process.cmdline: my_app") == []


def test_value_matches_any_token_of_the_field(audit):
    assert audit.pods("process.cmdline: tmp") == ["nginx-1"]
    assert audit.pods("process.cmdline: a.txt") == ["nginx-1"]
    assert audit.pods("process.cmdline: example.com") == ["coredns-1"]


def test_phrases_need_consecutive_tokens(audit):
    assert audit.pods('"refused by"') == ["coredns-1"]
    assert audit.pods('msg: "refused by peer"') == ["coredns-1"]
    assert audit.pods('msg: "refused peer"') == []
    assert audit.pods('process.cmdline: "rm -rf"') == ["nginx-1"]


def test_a_value_of_several_tokens_is_a_phrase_even_unquoted(audit):
    assert audit.pods("process.cmdline: /tmp/a.txt") == ["nginx-1"]
    assert audit.pods("process.cmdline: /a.txt/tmp") == []


def test_full_text_search_covers_every_field(audit):
    assert audit.pods("refused") == ["coredns-1"]
    assert audit.pods("passwd") == ["nginx-1"]
    assert audit.pods("podexec") == ["nginx-1"]
    assert audit.pods("nothing-like-this") == []


def test_wildcards(audit):
    assert audit.pods("k8s.pod.name: nginx*") == ["nginx-1", "nginx-1", "nginx-2", "nginx-1"]
    assert audit.pods("k8s.pod.name: nginx-?") == ["nginx-1", "nginx-1", "nginx-2", "nginx-1"]
    assert audit.pods("k8s.pod.name: ngi*2") == ["nginx-2"]
    assert audit.pods("k8s.pod.name: nginx?") == []
    assert audit.pods("process.name: c*") == ["coredns-1", "nginx-1"]


def test_leading_wildcard_is_rejected(audit):
    with pytest.raises(QueryError) as e:
        audit.search("k8s.pod.name: *nginx")
    assert e.value.code == "ParameterInvalid"


def test_quoted_wildcards_and_keywords_are_literal(engine):
    engine.append(
        engine.command(engine.T0, pod="a", cmdline="echo abc*"),
        engine.command(engine.T0, pod="b", cmdline="echo abcdef"),
        engine.command(engine.T0, pod="c", cmdline="cat and dog or not"),
    )
    assert engine.pods('process.cmdline: "abc*"') == ["a"]
    assert engine.pods("process.cmdline: abc*") == ["a", "b"]
    assert engine.pods('process.cmdline: "and dog or"') == ["c"]


def test_not_and_or_precedence(audit):
    # not > and > or: "a or b and not c" == "a or (b and (not c))"
    assert audit.pods("process.name: rm or kind: command and not k8s.pod.name: nginx-2") == \
        ["nginx-1", "coredns-1", "nginx-1"]
    assert audit.pods("(process.name: rm or process.name: curl) and not k8s.pod.namespace: kube-system") == \
        ["nginx-1"]
    assert audit.pods("kind: command not process.name: rm") == ["nginx-2", "coredns-1", "nginx-1"]
    assert audit.pods("not kind: command") == ["nginx-1"]
    assert audit.pods("NOT (kind: command OR kind: kubernetes)") == []


def test_several_alternatives_on_one_field_match_as_each_would_alone(audit):
    # One field's alternatives are compiled into one regular expression; the answer is the OR's.
    assert audit.pods("process.name: rm or process.name: curl or process.name: cat") == \
        ["nginx-1", "coredns-1", "nginx-1"]
    # Interleaved with other fields, phrases, wildcards, a field the store lacks and a NOT.
    assert audit.pods("process.cmdline: \"rm -rf\" or k8s.pod.name: coredns-1 or process.cmdline: ls* "
                      "or nosuch: x or process.cmdline: \"etc passwd\"") == ["nginx-1", "nginx-2", "coredns-1", "nginx-1"]
    assert audit.pods("not (process.name: rm or process.name: ls) and kind: command") == ["coredns-1", "nginx-1"]
    # Whole tokens only, case-insensitive, as for one alternative.
    assert audit.pods("process.name: r or process.name: CA or process.name: CURL") == ["coredns-1"]
    # Regular-expression characters in a value stay literal.
    assert audit.pods("process.cmdline: \"x?y=1\" or process.cmdline: \"a.txt|ls\"") == ["coredns-1"]


def test_implicit_and_between_terms(audit):
    assert audit.pods("kind: command nginx-1") == ["nginx-1", "nginx-1"]
    assert audit.pods("kind: command (process.name: rm or process.name: ls)") == ["nginx-1", "nginx-2"]


def test_not_matches_rows_that_lack_the_field(audit):
    assert audit.pods("not msg: refused") == ["nginx-1", "nginx-1", "nginx-2", "nginx-1"]


def test_numeric_comparisons_and_ranges(audit):
    assert audit.pods("latency > 100") == ["coredns-1"]
    assert audit.pods("latency >= 5") == ["coredns-1", "nginx-1"]
    assert audit.pods("latency < 5") == []
    assert audit.pods("latency <= 5") == ["nginx-1"]
    assert audit.pods("latency = 120") == ["coredns-1"]
    assert audit.pods("latency in [1 10]") == ["nginx-1"]
    assert audit.pods("latency in [5 120]") == ["coredns-1", "nginx-1"]
    assert audit.pods("latency in (5 120)") == []
    assert audit.pods("latency in (5 120]") == ["coredns-1"]


def test_key_star_means_the_key_exists(audit):
    assert audit.pods("latency: *") == ["coredns-1", "nginx-1"]
    assert audit.pods("kubeObject: *") == ["nginx-1"]


def test_quoted_empty_value_matches_empty_fields(engine):
    engine.append(engine.command(engine.T0, pod="a", note=""), engine.command(engine.T0, pod="b", note="x"))
    assert engine.pods('note: ""') == ["a"]


def test_value_without_tokens_matches_nothing(audit):
    assert audit.pods('process.cmdline: ",/"') == []
    assert audit.pods('"//"') == []


def test_escaped_quote_and_backslash_in_quoted_value(engine):
    engine.append(
        engine.command(engine.T0, pod="a", cmdline='echo "hi"x'),
        engine.command(engine.T0, pod="b", cmdline="type C:\\dir\\file"),
    )
    assert engine.pods('process.cmdline: "hi\\"x"') == ["a"]       # '"' is a delimiter: tokens hi, x
    assert engine.pods('process.cmdline: "hi\\"y"') == []
    assert engine.pods('process.cmdline: "\\"hi\\""') == ["a"]
    assert engine.pods('process.cmdline: "c:\\\\dir\\\\file"') == ["b"]


def test_tag_and_topic_fields(engine):
    engine.append(engine.command(engine.T0, pod="a", __topic__="audit", **{"__tag__:__path__": "/var/log/a"}),
                  engine.command(engine.T0, pod="b"))
    assert engine.pods("__topic__: audit") == ["a"]
    assert engine.pods("__tag__:__path__: /var/log/a") == ["a"]
    row = engine.search("__topic__: audit")[0]
    assert row["__topic__"] == "audit" and row["__tag__:__path__"] == "/var/log/a"


@pytest.mark.parametrize("query, position", [
    ("kind:", 5),
    ("(kind: a", 8),
    ("kind: a and", 11),
    ("kind: a )", 8),
    ('kind: "open', 6),
    ("latency > abc", 10),
    ("and kind: a", 0),
])
def test_syntax_errors_name_the_position(audit, query, position):
    with pytest.raises(QueryError) as e:
        audit.search(query)
    assert e.value.code == "ParameterInvalid"
    assert f"position {position}" in e.value.message
