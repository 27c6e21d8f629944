"""Notification channels: chat robots and generic webhooks (cloud-apis §5).

What ackaudit needs to know about each kind of robot lives here: how its URL looks, which SLS
webhook-integration type and content-template key it maps to, how a message to it is shaped and
signed, and how it answers. Webhook URLs and signing secrets are credentials: everything shown to
a user goes through `mask_url` / `scrub`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, parse_qsl, quote_plus, urlsplit, urlunsplit

from ackaudit.errors import UsageError

SEED_WEBHOOK_ID = "ack-container-operation-audit-alert"
SEND_TIMEOUT = 10   # seconds; SLS itself gives a webhook 5 s


@dataclass(frozen=True)
class ChannelType:
    name: str               # as in the CLI option: --<name>-url
    label: str
    sls_type: str           # the webhook integration's `type` in SLS
    template_key: str       # the key under a content template's `templates`
    hosts: tuple[str, ...]  # where the real robots live (empty: anywhere)
    path: re.Pattern[str]
    token_param: str | None = None   # the query parameter that identifies the robot
    signed: bool = False             # accepts a signing secret
    # The largest message the service accepts (cloud-apis §5): (size, what is measured). The
    # robots with small limits get the compact `--lang en` template (3 results instead of 10).
    limit: tuple[int, str] | None = None
    compact: bool = False

    @property
    def webhook_id(self) -> str:
        """The SLS webhook record: the guide's id for DingTalk, one per other channel type."""
        return SEED_WEBHOOK_ID if self.name == "dingtalk" else f"{SEED_WEBHOOK_ID}-{self.name}"


CHANNEL_TYPES: dict[str, ChannelType] = {c.name: c for c in (
    ChannelType("dingtalk", "DingTalk", "dingtalk", "dingtalk", ("oapi.dingtalk.com",),
                re.compile(r"^/robot/send$"), token_param="access_token", signed=True,
                limit=(20000, "bytes of JSON body")),
    ChannelType("wecom", "WeCom", "wechat", "wechat", ("qyapi.weixin.qq.com",),
                re.compile(r"^/cgi-bin/webhook/send$"), token_param="key",
                limit=(4096, "bytes of markdown content"), compact=True),
    ChannelType("lark", "Lark", "lark", "lark", ("open.feishu.cn", "open.larksuite.com"),
                re.compile(r"^/open-apis/bot/v2/hook/[^/]+$"), signed=True,
                limit=(20 * 1024, "bytes of JSON body")),
    ChannelType("slack", "Slack", "slack", "slack", ("hooks.slack.com",),
                re.compile(r"^/services/[^/]+/[^/]+/[^/]+$"),
                limit=(3000, "characters of section text"), compact=True),
    ChannelType("webhook", "webhook", "custom", "webhook", (), re.compile(r"^/")),
)}


@dataclass(frozen=True)
class Channel:
    """One configured destination: a channel type, its URL and (DingTalk, Lark) signing secret."""

    type: ChannelType
    url: str
    secret: str | None = None

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.url, self.secret, *url_tokens(self.url)) if s]

    def describe(self) -> dict[str, Any]:
        return {"type": self.type.name, "webhook_id": self.type.webhook_id, "url": mask_url(self.url),
                "signed": bool(self.secret)}


# -- masking ------------------------------------------------------------------------------------

# Path words of the robots' documented URLs: the only segments shown; every other segment of any
# URL (a Lark or Slack token, a generic webhook's secret path) is masked, as every query value is.
_PUBLIC_SEGMENTS = frozenset({"robot", "send", "cgi-bin", "webhook", "webhooks", "open-apis", "bot", "v1", "v2",
                              "hook", "hooks", "services", "api"})


def mask_value(value: str) -> str:
    return f"{value[:2]}…{value[-2:]}" if len(value) >= 8 else "…"


def _split(url: str) -> SplitResult | None:
    """`urlsplit(url)`, or None for what it refuses (an unclosed "[" of an IPv6 host, "http://[::1")."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def url_tokens(url: str) -> list[str]:
    """The parts of a webhook URL that identify (and so authorise) it: query values, and path
    segments that are not public path words."""
    parts = _split(url)
    if parts is None:
        return [url]            # nothing in it can be told apart: the whole URL is the secret
    values = [v for _, v in parse_qsl(parts.query, keep_blank_values=True) if v]
    values += [s for s in parts.path.split("/") if s and s not in _PUBLIC_SEGMENTS]
    if parts.password:
        values.append(parts.password)
    return values


def mask_url(url: str) -> str:
    """`url` with every token shown as its first and last two characters, the same rule for every
    channel; never raises, whatever the URL (a stored one may be malformed). A huge host is cut."""
    parts = _split(url)
    if parts is None:
        scheme, sep, rest = url.partition("://")
        host = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1] if sep else ""
        return f"{scheme}{sep}{_cut(host)}" + ("/…" if len(rest) > len(host) or not sep else "")
    host = _cut(parts.netloc.rsplit("@", 1)[-1])   # the host and port as given, never a user:password
    path = "/".join(s if not s or s in _PUBLIC_SEGMENTS else mask_value(s) for s in parts.path.split("/"))
    query = "&".join(f"{k}={mask_value(v)}" if v else k for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, host, path, query, ""))


def _cut(host: str) -> str:
    return host if len(host) <= 60 else f"{host[:60]}… ({len(host)} characters)"


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with every secret (longest first, so a URL goes before its token) masked."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, mask_url(secret) if "://" in secret else mask_value(secret))
    return text


# -- validation ---------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\.\.\.|…|^<.*>$")


def url_problem(kind: ChannelType, url: str, *, allow_any_url: bool = False) -> tuple[str, str | None] | None:
    """Why `url` cannot be this channel's webhook ((message, hint)), or None. One rule set for every
    channel, used by setup, plan and test alike, and for URLs read back from SLS."""
    option = f"--{kind.name}-url"
    if any(c.isspace() or ord(c) < 32 for c in url):
        return f"{option} contains spaces or control characters", None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        hint = "ports go from 1 to 65535" if "Port" in str(exc) else "an IPv6 host goes in brackets: https://[::1]:8443/"
        return f"{option} is not a valid URL ({exc}): {mask_url(url)}", hint
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{option} must be an https URL, not {mask_url(url)!r}", None
    if port == 0:
        return f"{option} has port 0: {mask_url(url)}", "ports go from 1 to 65535"
    example = f"https://{kind.hosts[0]}{_example_path(kind)}" if kind.hosts else "https://host/path"
    relax = "pass --allow-any-url for a proxy or a test endpoint"
    if _PLACEHOLDER.search(parts.path) or any(_PLACEHOLDER.search(v) for _, v in parse_qsl(parts.query)):
        return (f"{option} still has the documentation's placeholder in it ({mask_url(url)})",
                f"paste the robot's real URL, like {example}")
    if not allow_any_url:
        if parts.scheme != "https":
            return f"{option} must use https, not {parts.scheme}: {mask_url(url)}", f"{relax} over http"
        if kind.hosts and (parts.hostname not in kind.hosts or not kind.path.match(parts.path)):
            return (f"{option} does not look like a {kind.label} robot URL ({mask_url(url)})",
                    f"expected {example}; {relax}")
    tokens = [dict(parse_qsl(parts.query)).get(kind.token_param, "")] if kind.token_param else []
    if kind.name in ("lark", "slack"):
        tokens = [s for s in parts.path.split("/") if s and s not in _PUBLIC_SEGMENTS]
    if kind.token_param and not tokens[0]:
        return f"{option} has no {kind.token_param} (expected {example})", None
    return None


def channel(type_name: str, url: str, secret: str | None = None, *, allow_any_url: bool = False) -> Channel:
    """A checked channel; a malformed URL or secret is a usage error that never echoes them."""
    kind = CHANNEL_TYPES[type_name]
    url = url.strip()
    problem = url_problem(kind, url, allow_any_url=allow_any_url)
    if problem is not None:
        raise UsageError(problem[0], hint=problem[1])
    if secret is not None:
        secret = secret.strip()
        if not kind.signed:
            raise UsageError(f"{kind.label} robots are not signed: no secret is needed")
        if kind.name == "dingtalk" and not secret.startswith("SEC"):
            raise UsageError("--dingtalk-secret must be the robot's signing secret, which starts with SEC",
                             hint="DingTalk shows it under the robot's security settings (加签)")
        if _PLACEHOLDER.search(secret):
            raise UsageError(f"--{kind.name}-secret still has the documentation's placeholder in it")
    return Channel(kind, url, secret or None)


def _example_path(kind: ChannelType) -> str:
    return {"dingtalk": "/robot/send?access_token=...", "wecom": "/cgi-bin/webhook/send?key=...",
            "lark": "/open-apis/bot/v2/hook/...", "slack": "/services/T.../B.../..."}.get(kind.name, "/...")


# -- messages -----------------------------------------------------------------------------------

def dingtalk_signature(secret: str, timestamp_ms: int) -> str:
    """DingTalk: base64(HMAC-SHA256(key=secret, msg="<timestamp ms>\\n<secret>")) (§5.1)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def lark_signature(secret: str, timestamp_s: int) -> str:
    """Lark: base64(HMAC-SHA256(key="<timestamp s>\\n<secret>", msg=b"")), key and message the other
    way round from DingTalk (§5.3)."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def message(ch: Channel, title: str, text: str, *, now: float | None = None) -> tuple[str, dict[str, Any]]:
    """(URL to post to, JSON body) of a Markdown message with a title, signed when a secret is set."""
    now = time.time() if now is None else now
    kind, url = ch.type.name, ch.url
    if kind == "dingtalk":
        body: dict[str, Any] = {"msgtype": "markdown", "markdown": {"title": title, "text": f"### {title}\n\n{text}"},
                                "at": {"isAtAll": False}}
        if ch.secret:
            stamp = int(now * 1000)
            url = f"{url}&timestamp={stamp}&sign={quote_plus(dingtalk_signature(ch.secret, stamp))}"
        return url, body
    if kind == "wecom":
        return url, {"msgtype": "markdown", "markdown": {"content": f"### {title}\n{text}"}}
    if kind == "lark":
        body = {"msg_type": "interactive", "card": {
            "header": {"title": {"tag": "plain_text", "content": title}},
            "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": text}}]}}
        if ch.secret:
            stamp = int(now)
            body = {"timestamp": str(stamp), "sign": lark_signature(ch.secret, stamp), **body}
        return url, body
    if kind == "slack":
        return url, {"text": title, "blocks": [{"type": "section",
                                                "text": {"type": "mrkdwn", "text": f"*{title}*\n{text}"}}]}
    return url, {"title": title, "text": text}


@dataclass
class Delivery:
    channel: str
    webhook_id: str
    url: str            # masked
    ok: bool
    status: int | None
    code: str | None    # the robot's own error code (DingTalk errcode, Lark code, Slack error)
    message: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def read_answer(kind: str, status: int, body: bytes) -> tuple[bool, str | None, str]:
    """(accepted, error code, message) from a robot's HTTP answer, in each service's envelope."""
    text = body.decode("utf-8", "replace").strip()
    if kind == "slack":
        return (status == 200 and text == "ok"), (None if status == 200 and text == "ok" else text or str(status)), text
    if kind == "webhook":
        return 200 <= status < 300, None if 200 <= status < 300 else str(status), text[:200]
    try:
        answer = json.loads(text) if text else {}
    except ValueError:
        return False, str(status), text[:200]
    if not isinstance(answer, dict):
        return False, str(status), text[:200]
    if kind == "lark":
        code = answer.get("code", answer.get("StatusCode"))
        msg = answer.get("msg", answer.get("StatusMessage", ""))
    else:
        code, msg = answer.get("errcode"), answer.get("errmsg", "")
    accepted = 200 <= status < 300 and code == 0
    return accepted, None if accepted else str(code if code is not None else status), str(msg)


def refused(ch: Channel, message: str) -> Delivery:
    """A delivery that was never attempted (the stored URL cannot be used)."""
    return Delivery(ch.type.name, ch.type.webhook_id, mask_url(ch.url), False, None, None, message)


def send(ch: Channel, title: str, text: str, *, deliver_to: str | None = None) -> Delivery:
    """Post one message to the robot and report its answer (never raises for the robot's refusal).

    `deliver_to` replaces the URL's scheme and host (the sandbox emulates the robots at its own
    address); the path and query, which identify the robot, are kept.
    """
    import urllib.error
    import urllib.request

    from ackaudit.cloud import calls
    from ackaudit.errors import ApiError, ConnectError

    problem = url_problem(ch.type, ch.url, allow_any_url=True)
    if problem is not None:
        return refused(ch, f"not sent: {problem[0]}")
    url, body = message(ch, title, text)
    if deliver_to:
        target, parts = urlsplit(deliver_to), urlsplit(url)
        url = urlunsplit((target.scheme, target.netloc, parts.path, parts.query, ""))
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    kind, service = ch.type.name, ch.type.label

    def attempt() -> tuple[tuple[int, bytes], None]:
        try:
            with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ConnectError(service, mask_url(ch.url), scrub(str(reason), ch.secrets)) from None
        accepted, code, msg = read_answer(kind, status, raw)
        if not accepted:
            raise ApiError(service, "send", code or str(status), scrub(msg, ch.secrets), status=status)
        return (status, raw), None

    try:
        (status, raw) = calls.call(service, "send", attempt, policy=calls.RetryPolicy(attempts=1))
    except ApiError as exc:
        return Delivery(kind, ch.type.webhook_id, mask_url(ch.url), False, exc.status, exc.code, exc.api_message)
    except ConnectError as exc:
        return Delivery(kind, ch.type.webhook_id, mask_url(ch.url), False, None, None, exc.message)
    _, _, msg = read_answer(kind, status, raw)
    return Delivery(kind, ch.type.webhook_id, mask_url(ch.url), True, status, None, msg or "ok")
