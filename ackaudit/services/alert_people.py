"""Email and SMS: the guide's other channels, through SLS users and user groups (cloud-apis §4.5).

SLS sends email and text messages itself, to the users (`sls.common.user`) an action policy's
`fire(type="email" | "sms", groups=[...])` names through their user groups
(`sls.common.user_group`). For one cluster:
- one user per address, `ackaudit-email-<hash>` or `ackaudit-sms-<hash>` (account level: the
  same address given for two clusters is one user);
- one group per channel and cluster, `ackaudit-<cluster id>-email` / `-sms`, whose members are
  those users; the cluster's two action policies fire to them.

Addresses and phone numbers are checked before anything is written. A phone number is
`+<country code> <number>` (`+86 13800138000`, `+1-4155550100`), or a mainland China mobile
number without the code (`13800138000`, `+8613800138000`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from ackaudit.errors import UsageError, shown

USER_RESOURCE = "sls.common.user"
GROUP_RESOURCE = "sls.common.user_group"
KINDS = ("email", "sms")
ID_PREFIX = "ackaudit-"

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^([A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$")
_CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")


@dataclass(frozen=True)
class Recipient:
    kind: str                # email | sms
    address: str             # an email address, or the national phone number (digits)
    country_code: str = ""   # sms only

    @property
    def user_id(self) -> str:
        digest = hashlib.sha256(f"{self.kind}:{self.country_code}:{self.address}".encode()).hexdigest()[:12]
        return f"{ID_PREFIX}{self.kind}-{digest}"

    @property
    def shown(self) -> str:
        return self.address if self.kind == "email" else f"+{self.country_code} {self.address}"

    def describe(self) -> dict[str, Any]:
        return {"type": self.kind, "address": self.shown, "user_id": self.user_id}


def email(value: str) -> Recipient:
    """A checked email address (the domain in lower case)."""
    text = value.strip()
    bad = UsageError(f"--email {shown(value)} is not an email address", hint="give it as name@example.org")
    if len(text) > 254 or text.count("@") != 1 or any(c.isspace() or ord(c) < 32 for c in text):
        raise bad
    local, domain = text.split("@")
    labels = domain.split(".")
    if (not local or len(local) > 64 or not _LOCAL.match(local) or len(labels) < 2
            or not all(_LABEL.match(label) for label in labels) or not _TLD.match(labels[-1])):
        raise bad
    return Recipient("email", f"{local}@{domain.lower()}")


def phone(value: str) -> Recipient:
    """A checked phone number: `+CC NUMBER`, or a mainland China mobile number."""
    text = value.strip()
    hint = "give it as +<country code> <number> (+86 13800138000), or a mainland China mobile number"
    bad = UsageError(f"--sms {shown(value)} is not a phone number", hint=hint)
    if not re.fullmatch(r"\+?[0-9][0-9 ()-]*", text):
        raise bad
    if text.startswith("+"):
        match = re.fullmatch(r"\+([1-9][0-9]{0,2})[ -]+([0-9][0-9 ()-]*)", text)
        compact = re.sub(r"[ ()-]", "", text)
        if match is None and compact.startswith("+86") and _CN_MOBILE.match(compact[3:]):
            code, number = "86", compact[3:]
        elif match is None:
            raise UsageError(f"--sms {shown(value)}: write the country code apart from the number",
                             hint="like +44 7911123456")
        else:
            code, number = match[1], re.sub(r"[ ()-]", "", match[2])
    else:
        code, number = "86", re.sub(r"[ ()-]", "", text)
    if code == "86" and not _CN_MOBILE.match(number):
        raise UsageError(f"--sms {shown(value)} is not a mainland China mobile number (1 and 10 digits)",
                         hint=hint)
    if not 4 <= len(number) <= 14 or len(code) + len(number) > 15:
        raise bad
    return Recipient("sms", number, code)


def recipients(emails: list[str] | None, phones: list[str] | None) -> list[Recipient]:
    """The checked recipients of the options, each once, in the order given."""
    found = [email(v) for v in emails or []] + [phone(v) for v in phones or []]
    return list(dict.fromkeys(found))


def group_id(cluster_id: str, kind: str) -> str:
    return f"{ID_PREFIX}{cluster_id}-{kind}"


def user_value(r: Recipient) -> dict[str, Any]:
    """The user record, in the documented shape (cloud-apis §4.5)."""
    return {"user_id": r.user_id, "user_name": r.shown, "enabled": True,
            "country_code": r.country_code, "phone": r.address if r.kind == "sms" else "",
            "email": [r.address] if r.kind == "email" else [], "sms_enabled": r.kind == "sms",
            "voice_enabled": False}


def group_value(cluster_id: str, kind: str, members: list[Recipient]) -> dict[str, Any]:
    return {"user_group_id": group_id(cluster_id, kind), "user_group_name": f"ackaudit {cluster_id} {kind}",
            "enabled": True, "members": sorted(r.user_id for r in members)}


def from_user(value: dict[str, Any] | None, kind: str) -> Recipient | None:
    """The recipient a stored user stands for (None when it has no address for `kind`)."""
    value = value or {}
    if kind == "email":
        addresses = [a for a in value.get("email") or [] if isinstance(a, str) and a]
        return Recipient("email", addresses[0]) if addresses else None
    number, code = value.get("phone"), value.get("country_code") or "86"
    return Recipient("sms", number, str(code)) if isinstance(number, str) and number else None


def policy_fires(cluster_id: str, kinds: list[str], template_id: str) -> list[str]:
    """The action-policy calls for email and SMS: one per channel, to the cluster's group (the
    form Terraform modules use: `fire(type="email", groups=[...], template_id=..., period="any")`)."""
    return [f'fire(type="{kind}", groups=["{group_id(cluster_id, kind)}"], template_id="{template_id}", '
            f'period="any")' for kind in KINDS if kind in kinds]
