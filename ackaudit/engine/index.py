"""What an SLS index configuration means to the store: which fields are declared."""

from __future__ import annotations

from typing import Any


def declared_columns(index: dict[str, Any] | None) -> list[str]:
    """Column names (lower case) of the declared keys and JSON sub-keys (`k8s.pod.name`)."""
    if not index:
        return []
    out: list[str] = []
    for key, config in (index.get("keys") or {}).items():
        out.append(key.lower())
        if isinstance(config, dict) and config.get("type") == "json":
            out.extend(f"{key}.{sub}".lower() for sub in (config.get("json_keys") or {}))
    return list(dict.fromkeys(out))


def unindexed_key_message(key: str) -> str:
    # The service's own wording, so clients that recognise it keep working.
    return (f"key ({key}) is not config as key value config,if symbol : is in your log,"
            f"please wrap : with quotation mark \"")
