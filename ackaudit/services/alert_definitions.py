"""The bundled alert definitions (`ackaudit/data/alerts/*.json`): two rules and their templates.

The rules carry the two queries of ACK's container operation audit guide verbatim; the templates
carry the guide's Chinese bodies (its characters exactly, its list items as lines) and English
versions with the same placeholders. Both files are validated when loaded, so a broken edit fails
at once instead of as a rejected SLS request.

Templates use the SLS template language: `${alert_name}`-style variables and Jinja-like
`{{ alert... }}` / `{% if %}` blocks. `render()` understands exactly the constructs the bundled
templates use, to preview a notification (`alerts test`) and to prove every placeholder is known.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

LANGS = ("zh", "en")
SEVERITIES = {2: "Report", 4: "Low", 6: "Medium", 8: "High", 10: "Critical"}
# DingTalk "keyword" robots drop messages without one of their keywords: every title has this one.
TITLE_KEYWORD = "Kubernetes"

_VARIABLE = re.compile(r"\$\{(\w+)\}")
_FIELD = re.compile(r"\{\{ alert\.results\[0\]\.fire_result\['([\w.]+)'\] \}\}")
_COUNT = "{{ alert.fire_results_count }}"
_BRANCH = re.compile(
    r"\{% if alert\.results\[0\]\.fire_result\['([\w.]+)'\] -%\}\n(.*?)\{% else -%\}\n(.*?)\{% endif -%\}\n",
    re.S)
KNOWN_VARIABLES = ("alert_name", "alert_time", "severity", "query_url", "alert_url")


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
    content: dict[str, str]


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


def _by_lang(item: dict[str, Any], key: str, where: str) -> dict[str, str]:
    value = item.get(key)
    if not isinstance(value, dict) or set(value) != set(LANGS):
        raise DefinitionError(f"{where}: {key} needs exactly the languages {', '.join(LANGS)}")
    joined = {lang: "\n".join(v) if isinstance(v, list) else v for lang, v in value.items()}
    if not all(isinstance(v, str) and v.strip() for v in joined.values()):
        raise DefinitionError(f"{where}: every {key} must be non-empty text")
    return joined


def placeholders(text: str) -> list[str]:
    """Every template placeholder in `text`, in order of appearance."""
    return re.findall(r"\$\{\w+\}|\{\{.*?\}\}|\{%.*?%\}", text)


def _check_template(t: TemplateDefinition) -> None:
    for lang in LANGS:
        if TITLE_KEYWORD not in t.title[lang]:
            raise DefinitionError(f"template {t.id}: the {lang} title must contain {TITLE_KEYWORD!r}")
        leftover = placeholders(render(t.content[lang], {}, {}))
        if leftover:
            raise DefinitionError(f"template {t.id} ({lang}): unsupported placeholders {leftover}")
    if sorted(placeholders(t.content["zh"])) != sorted(placeholders(t.content["en"])):
        raise DefinitionError(f"template {t.id}: the languages use different placeholders")


def parse_template(item: dict[str, Any]) -> TemplateDefinition:
    where = f"template {item.get('id')!r}"
    if not isinstance(item.get("id"), str) or not item["id"]:
        raise DefinitionError(f"{where}: id is required")
    t = TemplateDefinition(item["id"], _by_lang(item, "name", where), _by_lang(item, "title", where),
                           _by_lang(item, "content", where))
    _check_template(t)
    return t


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
    schedule = rules.get("schedule") or {}
    if not all(isinstance(schedule.get(k), str) for k in ("interval", "start", "end")):
        raise DefinitionError("rules: schedule needs interval, start and end")
    return Definitions(schedule["interval"], schedule["start"], schedule["end"], parsed_rules, parsed_templates)


def render(text: str, variables: dict[str, str], fire_result: dict[str, str], count: int = 1) -> str:
    """`text` with the template constructs the bundled templates use filled in.

    Unknown variables are left as they are, so a caller (and the loader's check) can see them.
    """

    def branch(match: re.Match[str]) -> str:
        return match[2] if fire_result.get(match[1]) else match[3]

    out = _BRANCH.sub(branch, text)
    out = out.replace(_COUNT, str(count))
    out = _FIELD.sub(lambda m: str(fire_result.get(m[1], "")), out)
    return _VARIABLE.sub(lambda m: variables.get(m[1], "") if m[1] in KNOWN_VARIABLES else m[0], out)
