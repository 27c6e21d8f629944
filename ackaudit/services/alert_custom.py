"""Your own rules: the risky-program list and expected activity to leave out, compiled into the queries.

- `--risky-programs FILE` replaces the guide's 29 programs (`--add-risky` adds to them): one name per
  line, `#` comments.
- `--exclude FILE` names what is expected (a CI service account, a health-check script): a YAML or
  JSON mapping with `users`, `namespaces`, `pods` (names, or prefixes ending in `*`) and `programs`.
  Users, namespaces and pods leave both rules; programs leave the risky-program rule.

Every value is checked and quoted (`audit.query`, which is the embedded engine's own quoting), so a
value can only match literally: a user named `x" or *` excludes nobody else. Exclusions go into the
search part of the query (`... and not (...)`); the risky list into the SQL `in (...)` list as
single-quoted literals. With neither, the guide's queries are kept byte for byte.

The choices are stored with the rule, in the annotation `ackaudit.customisation`, so a later
`alerts setup` without these options keeps them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ackaudit.audit.query import any_of, term
from ackaudit.errors import UsageError, one_line, shown_path
from ackaudit.userfiles import read_text

ANNOTATION = "ackaudit.customisation"
EXCLUDE_KEYS = ("users", "namespaces", "pods", "programs")
_PROGRAM = re.compile(r"^[A-Za-z0-9._+-]{1,128}$")
_POD_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,252})?\*?$")
_IN_LIST = re.compile(r'where "process\.name" in \((?P<list>[^)]*)\)')


@dataclass(frozen=True)
class Customisation:
    risky: tuple[str, ...] | None = None                  # None: the guide's list
    exclude: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.risky is None and not any(self.exclude.values())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: list(v) for k, v in self.exclude.items() if v}
        if self.risky is not None:
            out["risky_programs"] = list(self.risky)
        return out

    @classmethod
    def from_json(cls, data: Any) -> Customisation:
        if not isinstance(data, dict):
            return cls()
        risky = data.get("risky_programs")
        return cls(tuple(_programs(risky, "risky_programs")) if isinstance(risky, list) else None,
                   _exclusions({k: data.get(k) for k in EXCLUDE_KEYS if k in data}, "the stored customisation"))


def _programs(values: Any, where: str) -> list[str]:
    names = [str(v).strip() for v in values or [] if str(v).strip()]
    bad = [n for n in names if not _PROGRAM.match(n)]
    if bad:
        raise UsageError(f"{where}: not a program name: {bad[0]!r}",
                         hint="letters, digits and . _ + - only, as process.name records them")
    return sorted(set(names))


def _exclusions(data: dict[str, Any], where: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for key, values in data.items():
        if key not in EXCLUDE_KEYS:
            raise UsageError(f"{where}: unknown key {key!r}", hint=f"use {', '.join(EXCLUDE_KEYS)}")
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, (str, int)) for v in values):
            raise UsageError(f"{where}: {key} must be a list of names")
        names = sorted({str(v).strip() for v in values if str(v).strip()})
        if any(any(ord(c) < 32 for c in n) for n in names):
            raise UsageError(f"{where}: {key} has a control character")
        if key == "pods":
            bad = [n for n in names if not _POD_PATTERN.match(n)]
            if bad:
                raise UsageError(f"{where}: not a pod name or prefix: {bad[0]!r}",
                                 hint="lower-case letters, digits, - and ., optionally ending in *")
        if key == "programs":
            names = _programs(names, where)
        out[key] = tuple(names)
    return out


def read_risky_file(path: str) -> list[str]:
    text = read_text(path, "--risky-programs")
    names = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    programs = _programs(names, f"--risky-programs {path}")
    if not programs:
        raise UsageError(f"--risky-programs {path} names no program")
    return programs


def read_exclude_file(path: str) -> dict[str, tuple[str, ...]]:
    import yaml

    text = read_text(path, "--exclude")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"cannot read --exclude {shown_path(path)}: {one_line(exc)}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--exclude {path} must be a mapping of {', '.join(EXCLUDE_KEYS)} to lists")
    return _exclusions(data, f"--exclude {path}")


def guide_programs() -> list[str]:
    """The 29 programs of the guide's risky-program rule, read from the bundled query."""
    from ackaudit.services.alert_definitions import load_definitions

    for rule in load_definitions().rules:
        match = _IN_LIST.search(rule.query)
        if match:
            return re.findall(r"'([^']*)'", match["list"])
    return []


def customisation(risky_file: str | None, add_risky: bool, exclude_file: str | None,
                  stored: Customisation | None) -> Customisation:
    """What the options ask for; without an option, what the rules already carry."""
    stored = stored or Customisation()
    if add_risky and risky_file is None:
        raise UsageError("--add-risky needs --risky-programs FILE")
    risky = stored.risky
    if risky_file is not None:
        names = read_risky_file(risky_file)
        risky = tuple(sorted(set(names) | set(guide_programs()))) if add_risky else tuple(names)
    exclude = read_exclude_file(exclude_file) if exclude_file is not None else stored.exclude
    return Customisation(risky, exclude)


def _pod_term(pattern: str) -> str:
    # A prefix pattern cannot be quoted (that would make `*` literal); the pattern check above
    # allows only name characters before the final `*`, so it cannot carry any other syntax.
    return f"k8s.pod.name: {pattern}" if pattern.endswith("*") else term("k8s.pod.name", pattern)


def compile_query(query: str, rule_key: str, custom: Customisation) -> str:
    """The rule's query with the customisation applied (the query itself when there is none)."""
    if custom.empty:
        return query
    search, sep, rest = query.partition(" | ")
    terms = [term(key, user) for user in custom.exclude.get("users", ()) for key in ("k8s.user.username",
                                                                                        "k8s.user.aliuid")]
    terms += [term("k8s.pod.namespace", ns) for ns in custom.exclude.get("namespaces", ())]
    terms += [_pod_term(p) for p in custom.exclude.get("pods", ())]
    if rule_key == "risky":
        terms += [term("process.name", p) for p in custom.exclude.get("programs", ())]
        if custom.risky is not None:
            listed = ", ".join("'" + p.replace("'", "''") + "'" for p in custom.risky)
            rest = _IN_LIST.sub(lambda m: f'where "process.name" in ({listed})', rest)
    if terms:
        search = f"{search} and not {any_of(terms)}"
    return f"{search}{sep}{rest}"


def annotation(custom: Customisation) -> list[dict[str, str]]:
    return [] if custom.empty else [{"key": ANNOTATION, "value": json.dumps(custom.to_json(), sort_keys=True)}]


def stored_in(detail: dict[str, Any] | None) -> Customisation | None:
    for item in ((detail or {}).get("configuration") or {}).get("annotations") or []:
        if isinstance(item, dict) and item.get("key") == ANNOTATION:
            try:
                return Customisation.from_json(json.loads(item.get("value") or ""))
            except (ValueError, UsageError):
                return None
    return Customisation() if detail else None
