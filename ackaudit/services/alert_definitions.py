"""The bundled alert definitions (`ackaudit/data/alerts/*.json`): two rules and their templates.

The rules carry the two queries of ACK's container operation audit guide verbatim; the templates
carry the guide's Chinese bodies (its characters exactly, its list items as lines) and English
digests that show the count and the first results (ten, or three in `compact` for the robots with
small size limits: WeCom and Slack), each field cut to a fixed length so that a firing with many
results stays under every robot's limit. A template also has a short text for SMS, a short plain
sentence for voice calls (read aloud: no Markdown, no links) and a plain text for the Notification
Center. Both files are validated when loaded, so a broken edit fails at once instead of as a
rejected SLS request: the templates must parse, use only known `${...}` variables, read only fields
their rule's query selects, the voice text must be speakable, and the English digest must show
every field the guide's template shows.

Templates use the SLS template language (`engine/alert_templates.py`): `${alert_name}`-style
variables and Jinja-like `{{ alert... }}` / `{% if %}` / `{% for %}` blocks. `render()` fills one in
to preview a notification (`alerts test`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ackaudit.engine.alert_templates import TemplateError
from ackaudit.engine.alert_templates import render as render_template

LANGS = ("zh", "en")
SEVERITIES = {2: "Report", 4: "Low", 6: "Medium", 8: "High", 10: "Critical"}
# DingTalk "keyword" robots drop messages without one of their keywords: every title has this one.
TITLE_KEYWORD = "Kubernetes"

_VARIABLE = re.compile(r"\$\{(\w+)\}")
_FIELD = re.compile(r"\['([\w.]+)'\]")
_SELECTED = re.compile(r'"([\w.]+)"')
KNOWN_VARIABLES = ("alert_name", "alert_time", "severity", "query_url", "alert_url")
# A voice call reads its text aloud: one sentence without Markdown or links, kept short.
VOICE_MAX_CHARS = 200
_NOT_SPOKEN = re.compile(r"[\[\]*#`|<>_~]|https?:|\n")


class DefinitionError(ValueError):
    """A bundled definition file is malformed."""


@dataclass(frozen=True)
class RuleDefinition:
    key: str                       # the rule's name is `ackaudit-<cluster id>-<key>`
    severity: int
    template_id: str
    display_name: dict[str, str]   # by language
    description: dict[str, str]
    query: str

    @property
    def search(self) -> str:
        """The search part of the query (before the `|`), the console's drill-down query."""
        return self.query.split(" | ", 1)[0]


@dataclass(frozen=True)
class TemplateDefinition:
    id: str
    name: dict[str, str]
    title: dict[str, str]
    content: dict[str, str]     # the robots (DingTalk, Lark), the generic webhook and email
    compact: dict[str, str]     # the robots with small size limits (WeCom, Slack); else `content`
    sms: dict[str, str]         # one short line
    voice: dict[str, str]       # one short plain sentence, read aloud
    message_center: dict[str, str]   # plain text for the Notification Center (title: `title`)

    def body(self, lang: str, compact: bool = False) -> str:
        return (self.compact if compact else self.content)[lang]


@dataclass(frozen=True)
class Definitions:
    interval: str
    start: str
    end: str
    rules: tuple[RuleDefinition, ...]
    templates: tuple[TemplateDefinition, ...]

    def template(self, template_id: str) -> TemplateDefinition:
        return next(t for t in self.templates if t.id == template_id)


def _read(name: str) -> dict[str, Any]:
    text = resources.files("ackaudit.data").joinpath("alerts", name).read_text(encoding="utf-8")
    return json.loads(text)


def _by_lang(item: dict[str, Any], key: str, where: str, *, partial: bool = False) -> dict[str, str]:
    value = item.get(key)
    if not isinstance(value, dict) or not (set(value) <= set(LANGS) if partial else set(value) == set(LANGS)):
        raise DefinitionError(f"{where}: {key} needs {'some of' if partial else 'exactly'} the languages "
                              f"{', '.join(LANGS)}")
    joined = {lang: "\n".join(v) if isinstance(v, list) else v for lang, v in value.items()}
    if not all(isinstance(v, str) and v.strip() for v in joined.values()):
        raise DefinitionError(f"{where}: every {key} must be non-empty text")
    return joined


def placeholders(text: str) -> list[str]:
    """Every template placeholder in `text`, in order of appearance."""
    return re.findall(r"\$\{\w+\}|\{\{.*?\}\}|\{%.*?%\}", text)


def fields(text: str) -> set[str]:
    """The result fields a template reads (`fire_result['f']`, `r['f']`)."""
    return set(_FIELD.findall(text))


def _check_body(text: str, where: str) -> None:
    try:
        render_template(text, {}, {})
    except TemplateError as e:
        raise DefinitionError(f"{where}: {e}") from None
    unknown = sorted(set(_VARIABLE.findall(text)) - set(KNOWN_VARIABLES))
    if unknown:
        raise DefinitionError(f"{where}: unknown variables {', '.join('${' + v + '}' for v in unknown)}")


def _check_voice(text: str, where: str) -> None:
    if len(text) > VOICE_MAX_CHARS:
        raise DefinitionError(f"{where}: a voice text is read aloud: at most {VOICE_MAX_CHARS} characters")
    spoken = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\$\{\w+\}", "", text)
    found = _NOT_SPOKEN.search(spoken) or re.search(r"\$\{(query_url|alert_url)\}", text)
    if found:
        raise DefinitionError(f"{where}: a voice text is read aloud: no Markdown, links or line breaks "
                              f"({found[0]!r})")


def _check_template(t: TemplateDefinition) -> None:
    for lang in LANGS:
        if TITLE_KEYWORD not in t.title[lang]:
            raise DefinitionError(f"template {t.id}: the {lang} title must contain {TITLE_KEYWORD!r}")
        for part, text in (("content", t.content[lang]), ("compact", t.compact[lang]), ("sms", t.sms[lang]),
                           ("voice", t.voice[lang]), ("message_center", t.message_center[lang])):
            _check_body(text, f"template {t.id} ({lang} {part})")
        _check_voice(t.voice[lang], f"template {t.id} ({lang} voice)")
    # The guide's template shows one result; the English digests show each of its fields too.
    for part in ("content", "compact"):
        hidden = fields(t.content["zh"]) - fields(getattr(t, part)["en"])
        if hidden:
            raise DefinitionError(f"template {t.id}: the en {part} does not show {', '.join(sorted(hidden))}")


def parse_template(item: dict[str, Any]) -> TemplateDefinition:
    where = f"template {item.get('id')!r}"
    if not isinstance(item.get("id"), str) or not item["id"]:
        raise DefinitionError(f"{where}: id is required")
    content = _by_lang(item, "content", where)
    compact = {**content, **_by_lang(item, "compact", where, partial=True)} if "compact" in item else content
    t = TemplateDefinition(item["id"], _by_lang(item, "name", where), _by_lang(item, "title", where),
                           content, compact, _by_lang(item, "sms", where), _by_lang(item, "voice", where),
                           _by_lang(item, "message_center", where))
    _check_template(t)
    return t


def selected(query: str) -> set[str]:
    """The columns a rule's `select ... from log` gives each result (names and aliases)."""
    columns = query.split(" | select ", 1)[1].split(" from log", 1)[0]
    return set(_SELECTED.findall(columns))


def parse_rule(item: dict[str, Any], template_ids: set[str]) -> RuleDefinition:
    where = f"rule {item.get('key')!r}"
    if not isinstance(item.get("key"), str) or not re.fullmatch(r"[a-z][a-z0-9-]*", item["key"]):
        raise DefinitionError(f"{where}: key must be lower-case letters, digits and -")
    if item.get("severity") not in SEVERITIES:
        raise DefinitionError(f"{where}: severity must be one of {sorted(SEVERITIES)}")
    if item.get("template") not in template_ids:
        raise DefinitionError(f"{where}: unknown template {item.get('template')!r}")
    query = item.get("query")
    if not isinstance(query, str) or " | select " not in query or " from log" not in query:
        raise DefinitionError(f"{where}: query must be a search followed by `| select ... from log`")
    return RuleDefinition(item["key"], item["severity"], item["template"], _by_lang(item, "display_name", where),
                          _by_lang(item, "description", where), query)


@cache
def load_definitions() -> Definitions:
    rules, templates = _read("rules.json"), _read("templates.json")
    parsed_templates = tuple(parse_template(t) for t in templates.get("templates", []))
    ids = {t.id for t in parsed_templates}
    if len(ids) != len(parsed_templates):
        raise DefinitionError("templates: ids must be unique")
    parsed_rules = tuple(parse_rule(r, ids) for r in rules.get("rules", []))
    if not parsed_rules or len({r.key for r in parsed_rules}) != len(parsed_rules):
        raise DefinitionError("rules: at least one, with unique keys")
    for rule in parsed_rules:
        t = next(t for t in parsed_templates if t.id == rule.template_id)
        read = set().union(*(fields(text) for part in (t.content, t.compact, t.sms, t.voice, t.message_center)
                          for text in part.values()))
        missing = read - selected(rule.query)
        if missing:
            raise DefinitionError(f"template {t.id} reads {', '.join(sorted(missing))}, which rule {rule.key} "
                                  "does not select")
    schedule = rules.get("schedule") or {}
    if not all(isinstance(schedule.get(k), str) for k in ("interval", "start", "end")):
        raise DefinitionError("rules: schedule needs interval, start and end")
    return Definitions(schedule["interval"], schedule["start"], schedule["end"], parsed_rules, parsed_templates)


def render(text: str, variables: dict[str, str], fire_result: dict[str, str], count: int = 1,
           results: list[dict[str, str]] | None = None) -> str:
    """`text` filled in for an alert whose first result is `fire_result` (and whose results are
    `results`, default just that one), with `count` results in all."""
    alert = {"results": [{"fire_result": fire_result}], "fire_results": results or [fire_result],
             "fire_results_count": count}
    return render_template(text, {"alert": alert}, variables)
