"""The bundled SLS index definition of the audit logstore, and how an existing index falls short."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def bundled_index() -> dict[str, Any]:
    text = resources.files("ackaudit").joinpath("data", "advaudit-index.json").read_text(encoding="utf-8")
    return json.loads(text)


def missing_keys(index: dict[str, Any] | None) -> list[str]:
    """Keys (and JSON sub-keys, dotted) of the bundled index that `index` does not declare."""
    wanted = bundled_index().get("keys", {})
    have = (index or {}).get("keys", {}) or {}
    missing = []
    for key, spec in wanted.items():
        if key not in have:
            missing.append(key)
            continue
        if spec.get("type") == "json":
            have_sub = (have[key] or {}).get("json_keys", {}) or {}
            missing += [f"{key}.{sub}" for sub in spec.get("json_keys", {}) if sub not in have_sub]
    return missing


def merged_with_bundled(index: dict[str, Any]) -> dict[str, Any]:
    """`index` plus whatever the bundled definition declares that it lacks; nothing removed."""
    merged = json.loads(json.dumps(index))
    keys = merged.setdefault("keys", {})
    for key, spec in bundled_index().get("keys", {}).items():
        if key not in keys:
            keys[key] = spec
        elif spec.get("type") == "json":
            sub = keys[key].setdefault("json_keys", {})
            for name, sub_spec in spec.get("json_keys", {}).items():
                sub.setdefault(name, sub_spec)
    merged.setdefault("line", bundled_index().get("line"))
    return merged
