"""`quote_value` makes any user text a literal: it cannot change a query's structure, and it
matches exactly the rows whose field holds that text (as SLS tokens)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ackaudit.engine import EventStore
from ackaudit.engine.search import (
    DELIMITERS,
    And,
    IsEmpty,
    Match,
    parse_search,
    quote_value,
    split_query,
    tokenize,
)

ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
# Pieces that matter to the query language, the tokenizer and SQL, plus non-ASCII text.
HOSTILE = st.lists(st.sampled_from(
    ["a", "B", "0", "nginx-1", " ", '"', "\\", "\\\\", '\\"', "*", "?", ":", "|", "(", ")", "[", "]", "=", ">",
     ",", ";", "/", "@", "&", "\n", "\t", "'", "''", "--", "%", "_", ".", "and", "OR", "not", "select", "drop",
     "é", "中文", "😀", "ß"]), max_size=12).map("".join)


def literal_tokens(text: str) -> tuple:
    """The tokens a quoted value must produce: the text split on delimiters, nothing else."""
    tokens, current = [], []
    for ch in text:
        if ch in DELIMITERS:
            if current:
                tokens.append(("".join(current),))
                current = []
        else:
            current.append(ch)
    if current:
        tokens.append(("".join(current),))
    return tuple(tokens)


def contains_phrase(text: str, value: str) -> bool:
    words, phrase = tokenize(text), tokenize(value)
    return bool(phrase) and any(words[i:i + len(phrase)] == phrase for i in range(len(words) - len(phrase) + 1))


@given(ANY_TEXT)
def test_a_quoted_value_parses_back_to_exactly_its_text(text):
    quoted = quote_value(text)
    expected = IsEmpty("f") if text == "" else Match("f", literal_tokens(text))
    assert parse_search(f"f: {quoted}") == expected
    assert parse_search(f"f: {quoted} and g: x") == And(expected, Match("g", (("x",),)))
    assert split_query(f"f: {quoted} | select 1") == (f"f: {quoted}", "select 1")


_logstores = itertools.count()


@pytest.fixture(scope="module")
def shared_store():
    store = EventStore()
    yield store
    store.close()


@settings(max_examples=100, deadline=None)
@given(value=HOSTILE, other=HOSTILE)
def test_a_quoted_value_matches_only_rows_that_hold_it(shared_store, value, other):
    logstore = f"l{next(_logstores)}"
    shared_store.append("p", logstore, [{"__time__": 1, "f": value, "id": "has"},
                                        {"__time__": 2, "f": other, "id": "other"}])
    hits = {r["id"] for r in shared_store.query("p", logstore, f"f: {quote_value(value)}", 0, 10).rows}
    if value == "":
        assert hits == ({"has", "other"} if other == "" else {"has"})
    else:
        assert ("has" in hits) == bool(tokenize(value))
        assert ("other" in hits) == contains_phrase(other, value)
    shared_store.drop_logstore("p", logstore)


@settings(max_examples=40, deadline=None)
@given(value=HOSTILE)
def test_a_quoted_value_in_full_text_search_is_literal_too(shared_store, value):
    logstore = f"l{next(_logstores)}"
    shared_store.append("p", logstore, [{"__time__": 1, "f": value, "id": "has"},
                                        {"__time__": 2, "f": "unrelated words", "id": "other"}])
    hits = {r["id"] for r in shared_store.query("p", logstore, quote_value(value), 0, 10).rows}
    # Full text covers every field of a row, `id` included.
    expected = {row_id for row_id, fields in (("has", (value, "has")), ("other", ("unrelated words", "other")))
                if any(contains_phrase(text, value) for text in fields)}
    assert hits == expected
    shared_store.drop_logstore("p", logstore)
