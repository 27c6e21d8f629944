"""Email, SMS, voice calls and the Notification Center: the guide's other channels (cloud-apis §4.5).

SLS sends email, text messages and voice calls itself, to the users (`sls.common.user`) an action
policy's `fire(type="email" | "sms" | "voice", groups=[...])` names through their user groups
(`sls.common.user_group`). For one cluster:
- one user per address and channel, `ackaudit-email-<hash>`, `ackaudit-sms-<hash>` or
  `ackaudit-voice-<hash>` (account level: the same address given for two clusters is one user; a
  number given for both SMS and voice is two users, each enabled for its channel only);
- one group per channel and cluster, `ackaudit-<cluster id>-email` / `-sms` / `-voice`, whose
  members are those users; the cluster's two action policies fire to them.

The Notification Center (the Alibaba Cloud account's message center) needs no user: SLS sends to
the contacts the account's message center has for alerts, so the policies fire
`fire(type="message_center", template_id=..., period="any")` (UNCONFIRMED: no official reference
documents this call; it follows the form of the other channels) and nothing else is written.

Addresses and phone numbers are checked before anything is written. A phone number is
`+<country code> <number>` (`+86 13800138000`, `+1-4155550100`), or a mainland China mobile
number without the code (`13800138000`, `+8613800138000`); `--sms` and `--voice` (and `--email`)
also take several, comma-separated.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from ackaudit.errors import UsageError, shown

USER_RESOURCE = "sls.common.user"
GROUP_RESOURCE = "sls.common.user_group"
KINDS = ("email", "sms", "voice")        # the channels sent to users, through a group per cluster
MESSAGE_CENTER = "message_center"         # sent to the account's message-center contacts
FIRE_ORDER = (*KINDS, MESSAGE_CENTER)
LABELS = {"email": "email", "sms": "SMS", "voice": "voice calls", MESSAGE_CENTER: "the Notification Center"}
OPTIONS = {"email": "--email", "sms": "--sms", "voice": "--voice", MESSAGE_CENTER: "--notification-center"}
ID_PREFIX = "ackaudit-"

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^([A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$")
_CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")


@dataclass(frozen=True)
class Recipient:
    kind: str                # email | sms | voice | message_center (no address: the account's contacts)
    address: str             # an email address, or the national phone number (digits)
    country_code: str = ""   # sms and voice only

    @property
    def user_id(self) -> str:
        digest = hashlib.sha256(f"{self.kind}:{self.country_code}:{self.address}".encode()).hexdigest()[:12]
        return f"{ID_PREFIX}{self.kind}-{digest}"

    @property
    def shown(self) -> str:
        if self.kind == MESSAGE_CENTER:
            return "the account's Notification Center contacts"
        return self.address if self.kind == "email" else f"+{self.country_code} {self.address}"

    def describe(self) -> dict[str, Any]:
        if self.kind == MESSAGE_CENTER:
            return {"type": self.kind, "address": self.shown}
        return {"type": self.kind, "address": self.shown, "user_id": self.user_id}


NOTIFICATION_CENTER = Recipient(MESSAGE_CENTER, "")


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


def phone(value: str, kind: str = "sms") -> Recipient:
    """A checked phone number for text messages or voice calls (`kind`): `+CC NUMBER`, or a mainland
    China mobile number."""
    option = OPTIONS[kind]
    text = value.strip()
    hint = "give it as +<country code> <number> (+86 13800138000), or a mainland China mobile number"
    bad = UsageError(f"{option} {shown(value)} is not a phone number", hint=hint)
    if not re.fullmatch(r"\+?[0-9][0-9 ()-]*", text):
        raise bad
    if text.startswith("+"):
        match = re.fullmatch(r"\+([1-9][0-9]{0,2})[ -]+([0-9][0-9 ()-]*)", text)
        compact = re.sub(r"[ ()-]", "", text)
        if match is None and compact.startswith("+86") and _CN_MOBILE.match(compact[3:]):
            code, number = "86", compact[3:]
        elif match is None:
            raise UsageError(f"{option} {shown(value)}: write the country code apart from the number",
                             hint="like +44 7911123456")
        else:
            code, number = match[1], re.sub(r"[ ()-]", "", match[2])
    else:
        code, number = "86", re.sub(r"[ ()-]", "", text)
    if code == "86" and not _CN_MOBILE.match(number):
        raise UsageError(f"{option} {shown(value)} is not a mainland China mobile number (1 and 10 digits)",
                         hint=hint)
    if not 4 <= len(number) <= 14 or len(code) + len(number) > 15:
        raise bad
    return Recipient(kind, number, code)


def _split(values: list[str] | None) -> list[str]:
    """Each value of a repeatable option, split at commas (empty pieces dropped, unless nothing else
    is left: then the value is checked as it is, and refused)."""
    found = []
    for value in values or []:
        pieces = [p.strip() for p in value.split(",") if p.strip()]
        found += pieces or [value]
    return found


def recipients(emails: list[str] | None, phones: list[str] | None, voices: list[str] | None = None,
               notification_center: bool = False) -> list[Recipient]:
    """The checked recipients of the options, each once, in the order given."""
    found = [email(v) for v in _split(emails)] + [phone(v, "sms") for v in _split(phones)]
    found += [phone(v, "voice") for v in _split(voices)]
    return list(dict.fromkeys(found)) + ([NOTIFICATION_CENTER] if notification_center else [])


def group_id(cluster_id: str, kind: str) -> str:
    return f"{ID_PREFIX}{cluster_id}-{kind}"


def user_value(r: Recipient) -> dict[str, Any]:
    """The user record, in the documented shape (cloud-apis §4.5)."""
    return {"user_id": r.user_id, "user_name": r.shown, "enabled": True,
            "country_code": r.country_code, "phone": r.address if r.kind in ("sms", "voice") else "",
            "email": [r.address] if r.kind == "email" else [], "sms_enabled": r.kind == "sms",
            "voice_enabled": r.kind == "voice"}


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
    return Recipient(kind, number, str(code)) if isinstance(number, str) and number else None


def labels(found: list[Recipient]) -> str:
    """`email, SMS and voice calls`: the channels of these recipients, for a message."""
    names = [LABELS[k] for k in FIRE_ORDER if any(r.kind == k for r in found)]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def policy_fires(cluster_id: str, kinds: list[str], template_id: str) -> list[str]:
    """The action-policy calls for these channels: email, SMS and voice one each, to the cluster's
    group (the form Terraform modules use: `fire(type="email", groups=[...], template_id=...,
    period="any")`), then the Notification Center, which names no one (UNCONFIRMED)."""
    return [f'fire(type="{kind}", groups=["{group_id(cluster_id, kind)}"], template_id="{template_id}", '
            f'period="any")' if kind in KINDS else
            f'fire(type="{kind}", template_id="{template_id}", period="any")'
            for kind in FIRE_ORDER if kind in kinds]


def fires_message_center(policy_value: dict[str, Any] | None) -> bool:
    """Whether an action policy's script sends to the Notification Center."""
    value = policy_value or {}
    scripts = f"{value.get('primary_policy_script', '')}\n{value.get('secondary_policy_script', '')}"
    return f'fire(type="{MESSAGE_CENTER}"' in scripts
