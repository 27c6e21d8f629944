"""Which clusters the container operation audit supports (seed README "Limits", cloud-apis §2.3)."""

from __future__ import annotations

from typing import Any

SUPPORTED_TYPES = {
    # (cluster_type, profile) -> the product name the docs use
    ("ManagedKubernetes", "Default"): "ACK managed",
    ("Kubernetes", "Default"): "ACK dedicated",
    ("Kubernetes", ""): "ACK dedicated",
}


def cluster_type_problem(cluster: dict[str, Any]) -> str | None:
    """Why this kind of cluster cannot be audited, or None when its type is supported."""
    ctype = cluster.get("cluster_type") or ""
    profile = cluster.get("profile") or ("Default" if ctype == "ManagedKubernetes" else "")
    if (ctype, profile) in SUPPORTED_TYPES:
        return None
    kind = f"{ctype}/{profile}" if profile else ctype or "unknown type"
    return f"cluster type {kind} is not supported (ACK managed Pro/Basic and ACK dedicated only)"
