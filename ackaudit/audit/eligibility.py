"""Which clusters and nodes the container operation audit supports (seed README "Limits",
cloud-apis §2.3):

- cluster types: ACK managed Pro, ACK managed Basic, ACK dedicated;
- node OS: Alibaba Cloud Linux (cluster >= 1.18), ContainerOS (>= 1.24), Ubuntu (>= 1.30);
- kernel "> 4.19": read as a kernel newer than the 4.19 series, so 4.19.91 does not qualify.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SUPPORTED_TYPES = {
    # (cluster_type, profile) -> the product name the docs use
    ("ManagedKubernetes", "Default"): "ACK managed",
    ("Kubernetes", "Default"): "ACK dedicated",
    ("Kubernetes", ""): "ACK dedicated",
}

# (OS family, how to recognise its osImage, the minimum cluster version)
OS_RULES = (
    ("Alibaba Cloud Linux", re.compile(r"alibaba cloud linux|aliyun linux|alinux", re.I), (1, 18)),
    ("ContainerOS", re.compile(r"containeros|container os", re.I), (1, 24)),
    ("Ubuntu", re.compile(r"ubuntu", re.I), (1, 30)),
)
MIN_KERNEL_EXCLUSIVE = (4, 19)


def cluster_type_problem(cluster: dict[str, Any]) -> str | None:
    """Why this kind of cluster cannot be audited, or None when its type is supported."""
    ctype = cluster.get("cluster_type") or ""
    profile = cluster.get("profile") or ("Default" if ctype == "ManagedKubernetes" else "")
    if (ctype, profile) in SUPPORTED_TYPES:
        return None
    kind = f"{ctype}/{profile}" if profile else ctype or "unknown type"
    return f"cluster type {kind} is not supported (ACK managed Pro/Basic and ACK dedicated only)"


def cluster_type_name(cluster: dict[str, Any]) -> str:
    ctype, profile = cluster.get("cluster_type") or "", cluster.get("profile") or ""
    spec = cluster.get("cluster_spec") or ""
    if ctype == "ManagedKubernetes" and profile in ("", "Default"):
        return "ACK managed Pro" if spec.startswith("ack.pro") else "ACK managed Basic"
    if ctype == "Kubernetes":
        return "ACK dedicated"
    return f"{ctype} ({profile})" if profile else ctype


def parse_version(text: str | None) -> tuple[int, ...] | None:
    """`1.31.1-aliyun.1` -> (1, 31, 1); `v1.30.0` -> (1, 30, 0); None when there is no number."""
    if not text:
        return None
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return None
    return tuple(int(g) for g in match.groups() if g is not None)


def fmt_version(version: tuple[int, ...]) -> str:
    return ".".join(str(v) for v in version)


# Node pool image types (DescribeClusterNodePools scaling_group.image_type) -> OS family.
_IMAGE_TYPE_FAMILIES = (
    ("AliyunLinux3ContainerOptimized", "ContainerOS"),
    ("ContainerOS", "ContainerOS"),
    ("AliyunLinux", "Alibaba Cloud Linux"),
    ("Ubuntu", "Ubuntu"),
)


def nodepool_problem(image_type: str, cluster_version: str | None) -> str | None:
    """Why nodes of a pool with this image type cannot be audited, or None. Without node access
    this cannot see kernels; `doctor` checks those on the nodes themselves."""
    family = next((f for prefix, f in _IMAGE_TYPE_FAMILIES if (image_type or "").startswith(prefix)), None)
    if family is None:
        return f"node image {image_type or 'unknown'!r} is not supported"
    minimum = next(m for f, _, m in OS_RULES if f == family)
    have = parse_version(cluster_version)
    if have is not None and have[:2] < minimum:
        return f"{family} nodes need cluster version >= {fmt_version(minimum)}, cluster is {fmt_version(have[:2])}"
    return None


@dataclass(frozen=True)
class NodeVerdict:
    node: str
    os_image: str
    kernel: str
    os_family: str | None
    ok: bool
    reason: str | None


def judge_node(name: str, os_image: str, kernel: str, cluster_version: str | None) -> NodeVerdict:
    """Can the audit agent run on this node of a cluster at `cluster_version`?"""
    family = next((f for f, pattern, _ in OS_RULES if pattern.search(os_image or "")), None)
    reasons = []
    if family is None:
        reasons.append(f"OS {os_image or 'unknown'!r} is not supported (Alibaba Cloud Linux, ContainerOS, Ubuntu)")
    else:
        minimum = next(m for f, _, m in OS_RULES if f == family)
        have = parse_version(cluster_version)
        if have is not None and have[:2] < minimum:
            reasons.append(f"{family} needs cluster version >= {fmt_version(minimum)}, "
                           f"cluster is {fmt_version(have[:2])}")
    kernel_version = parse_version(kernel)
    if kernel_version is None:
        reasons.append(f"kernel {kernel or 'unknown'!r} cannot be read")
    elif kernel_version[:2] <= MIN_KERNEL_EXCLUSIVE:
        reasons.append(f"kernel {kernel} is not newer than 4.19")
    return NodeVerdict(name, os_image, kernel, family, not reasons, "; ".join(reasons) or None)
