"""Chat robots and generic webhooks, emulated on the sandbox server's own paths (cloud-apis §5).

    POST /robot/send?access_token=T[&timestamp=&sign=]   DingTalk custom robot
    POST /cgi-bin/webhook/send?key=K                      WeCom group robot
    POST /open-apis/bot/v2/hook/<token>                   Lark / Feishu custom bot
    POST /services/<T>/<B>/<X>                            Slack incoming webhook
    POST /webhook/<anything>                              a generic JSON webhook

No cloud authentication: the URL is the credential, as with the real robots. A robot registered
with `register_robot` (or `POST /_sandbox/webhooks/robots`) enforces its security settings: a
signing secret (DingTalk: timestamp in ms and HMAC-SHA256 in the query; Lark: timestamp in seconds
and the signature in the body, both within an hour) and keywords. Any other token is a robot with
no security settings, so a made-up URL works. Each robot validates its payload (message type,
required fields, size limits (DingTalk 20000 bytes, WeCom markdown 4096 bytes, Lark 20 KB, a Slack
section's text 3000 characters), 20 messages a minute for DingTalk and WeCom) and answers in its
service's envelope: DingTalk and WeCom `{"errcode", "errmsg"}`, Lark `{"code", "msg", "data"}`, all
with HTTP 200; Slack a plain-text `ok` or an error code with HTTP 400. Every message is recorded in
`state.webhook_messages` (`GET /_sandbox/webhooks`), with its query parameters and whether it
carried a signature.

Error codes: DingTalk 310000 (a security setting refused the message) is documented; the others
(300001 bad token, 40035 missing or invalid parameter, 43004 wrong Content-Type, 460101 too long,
130101 too fast; WeCom 93000/40008/44004/40058/45009; Lark 19021/19024/9499) follow what the
services are known to answer but are not confirmed by their documentation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any
from urllib.parse import unquote

from ackaudit.sandbox.http import Request, Response
from ackaudit.sandbox.state import SandboxState

KINDS = ("dingtalk", "wecom", "lark", "slack", "webhook")
_PATHS = (
    ("dingtalk", re.compile(r"^/robot/send/?$")),
    ("wecom", re.compile(r"^/cgi-bin/webhook/send/?$")),
    ("lark", re.compile(r"^/open-apis/bot/v2/hook/(?P<token>[^/]+)$")),
    ("slack", re.compile(r"^/services/(?P<token>[^/]+/[^/]+/[^/]+)$")),
    ("webhook", re.compile(r"^/webhook/(?P<token>.+)$")),
)
_QUERY_TOKEN = {"dingtalk": "access_token", "wecom": "key"}
PER_MINUTE = {"dingtalk": 20, "wecom": 20}
SIGNATURE_WINDOW = 3600            # seconds either side of the robot's clock
DINGTALK_MAX_BYTES = 20000
WECOM_MAX_BYTES = {"text": 2048, "markdown": 4096}
LARK_MAX_BYTES = 20 * 1024
SLACK_SECTION_MAX_CHARS = 3000
MESSAGE_LOG_SIZE = 1000


class Refused(Exception):
    """The robot refuses the message with this code and text."""

    def __init__(self, code: int | str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def serves(path: str) -> bool:
    return any(pattern.match(path) for _, pattern in _PATHS)


def register_robot(state: SandboxState, kind: str, token: str, *, secret: str | None = None,
                   keywords: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Create or replace a robot with security settings."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if not token:
        raise ValueError("token is required")
    if len(keywords) > 10 or not all(isinstance(k, str) and k for k in keywords):
        raise ValueError("keywords: at most 10 non-empty strings")
    robot = {"kind": kind, "token": token, "secret": secret, "keywords": list(keywords)}
    with state.lock:
        state.robots[f"{kind}:{token}"] = robot
    return robot


def _identify(req: Request) -> tuple[str, str]:
    for kind, pattern in _PATHS:
        match = pattern.match(req.path)
        if match:
            token = req.q(_QUERY_TOKEN[kind]) if kind in _QUERY_TOKEN else unquote(match["token"])
            return kind, token or ""
    raise ValueError(f"no robot at {req.path}")


def kind_of(path: str) -> str | None:
    return next((kind for kind, pattern in _PATHS if pattern.match(path)), None)


def answer_of(kind: str | None, resp: Response) -> tuple[bool, str]:
    """(accepted, the robot's answer) from a response in `kind`'s envelope."""
    text = resp.body.decode("utf-8", "replace")
    if kind == "slack":
        return resp.status == 200 and text == "ok", text
    try:
        body = json.loads(text)
    except ValueError:
        body = {}
    if kind in ("dingtalk", "wecom"):
        return body.get("errcode") == 0, f"{body.get('errcode')}: {body.get('errmsg')}"
    if kind == "lark":
        return body.get("code") == 0, f"{body.get('code')}: {body.get('msg')}"
    return 200 <= resp.status < 300, str(body.get("error") or resp.status)


def handle(state: SandboxState, req: Request) -> Response:
    kind, token = _identify(req)
    robot = state.robots.get(f"{kind}:{token}") or {"kind": kind, "token": token, "secret": None, "keywords": []}
    now = time.time()
    body: Any = None
    try:
        if req.method != "POST":
            raise Refused(_code(kind, "method"), "only POST is accepted")
        body = _json_body(kind, req)
        _RECEIVERS[kind](state, robot, req, body, now)
        resp, accepted, answer = _accepted(kind), True, "ok"
    except Refused as refused:
        resp, accepted, answer = _refusal(kind, refused), False, f"{refused.code}: {refused.message}"
    with state.lock:
        state.webhook_messages.append({"time": now, "kind": kind, "token": token, "status": resp.status,
                                       "accepted": accepted, "answer": answer,
                                       "signed": bool(req.q("sign") or (isinstance(body, dict) and body.get("sign"))),
                                       "query": dict(req.query),
                                       "body": body if body is not None else req.body.decode("utf-8", "replace")})
        del state.webhook_messages[:-MESSAGE_LOG_SIZE]
    return resp


# -- envelopes ----------------------------------------------------------------------------------

# How each service refuses a request that is not a POST, or whose body is not a JSON object.
_GENERIC_CODES = {
    "dingtalk": {"method": 43002, "json": 40035},
    "wecom": {"method": 40008, "json": 40008},
    "lark": {"method": 9499, "json": 9499},
    "slack": {"method": "invalid_payload", "json": "invalid_payload"},
    "webhook": {"method": 405, "json": 400},
}


def _code(kind: str, what: str) -> int | str:
    return _GENERIC_CODES[kind][what]


def _accepted(kind: str) -> Response:
    if kind in ("dingtalk", "wecom"):
        return Response.json({"errcode": 0, "errmsg": "ok"})
    if kind == "lark":
        return Response.json({"code": 0, "msg": "success", "data": {}})
    if kind == "slack":
        return Response(200, b"ok", {"Content-Type": "text/html"})
    return Response.json({"ok": True})


def _refusal(kind: str, refused: Refused) -> Response:
    if kind in ("dingtalk", "wecom"):
        return Response.json({"errcode": refused.code, "errmsg": refused.message})
    if kind == "lark":
        return Response.json({"code": refused.code, "msg": refused.message, "data": {}})
    if kind == "slack":
        return Response(400, str(refused.code).encode(), {"Content-Type": "text/html"})
    return Response.json({"ok": False, "error": refused.message}, int(refused.code))


def _json_body(kind: str, req: Request) -> Any:
    content_type = req.headers.get("content-type", "")
    if kind == "dingtalk" and not content_type.lower().startswith("application/json"):
        raise Refused(43004, f"invalid Content-Type {content_type!r}: use application/json")
    try:
        body = json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(_code(kind, "json"), "the body is not JSON in UTF-8") from None
    if not isinstance(body, dict):
        raise Refused(_code(kind, "json"), "the body must be a JSON object")
    return body


# -- the robots ---------------------------------------------------------------------------------

def _rate_limit(state: SandboxState, robot: dict[str, Any], now: float, code: int, message: str) -> None:
    limit = PER_MINUTE[robot["kind"]]
    recent = [m for m in state.webhook_messages
              if m["kind"] == robot["kind"] and m["token"] == robot["token"] and m["accepted"] and now - m["time"] < 60]
    if len(recent) >= limit:
        raise Refused(code, message)


def _within_window(stamp: float, now: float) -> bool:
    return abs(now - stamp) <= SIGNATURE_WINDOW


def _check_keywords(robot: dict[str, Any], text: str, code: int | str, message: str) -> None:
    if robot.get("keywords") and not any(k in text for k in robot["keywords"]):
        raise Refused(code, message)


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dingtalk(state: SandboxState, robot: dict[str, Any], req: Request, body: dict[str, Any], now: float) -> None:
    if not robot["token"]:
        raise Refused(300001, "token is not exist")
    secret = robot.get("secret")
    if secret:
        stamp, sign = req.q("timestamp"), req.q("sign")
        if not stamp or not sign:
            raise Refused(310000, "sign not match, more: [timestamp and sign are required]")
        try:
            stamp_ms = int(stamp)
        except ValueError:
            raise Refused(310000, "invalid timestamp") from None
        if not _within_window(stamp_ms / 1000, now):
            raise Refused(310000, "invalid timestamp, more: [the timestamp is more than one hour away]")
        digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), sign):
            raise Refused(310000, "sign not match")
    msgtype = body.get("msgtype")
    if msgtype == "markdown":
        part = body.get("markdown") if isinstance(body.get("markdown"), dict) else {}
        title, text = _string(part.get("title")), _string(part.get("text"))
        if not title.strip() or not text.strip():
            raise Refused(40035, "missing parameter: markdown.title and markdown.text are required")
        content = f"{title}\n{text}"
    elif msgtype == "text":
        part = body.get("text") if isinstance(body.get("text"), dict) else {}
        content = _string(part.get("content"))
        if not content.strip():
            raise Refused(40035, "missing parameter: text.content is required")
    elif msgtype in ("link", "actionCard", "feedCard"):
        content = json.dumps(body.get(msgtype), ensure_ascii=False)
    else:
        raise Refused(40035, f"unsupported msgtype {msgtype!r}")
    if len(req.body) > DINGTALK_MAX_BYTES:
        raise Refused(460101, f"message too long, exceed {DINGTALK_MAX_BYTES} bytes")
    _check_keywords(robot, content, 310000, "keywords not in content")
    _rate_limit(state, robot, now, 130101, "send too fast, exceed 20 times per minute")


def _wecom(state: SandboxState, robot: dict[str, Any], req: Request, body: dict[str, Any], now: float) -> None:
    if not robot["token"]:
        raise Refused(93000, "invalid webhook url")
    msgtype = body.get("msgtype")
    if msgtype not in ("text", "markdown"):
        raise Refused(40008, f"invalid message type {msgtype!r}")
    part = body.get(msgtype) if isinstance(body.get(msgtype), dict) else {}
    content = _string(part.get("content"))
    if not content.strip():
        raise Refused(44004, "empty content")
    if len(content.encode("utf-8")) > WECOM_MAX_BYTES[msgtype]:
        raise Refused(40058, f"content exceed max length {WECOM_MAX_BYTES[msgtype]} bytes")
    _check_keywords(robot, content, 40058, "keywords not in content")
    _rate_limit(state, robot, now, 45009, "api freq out of limit")


def _lark(state: SandboxState, robot: dict[str, Any], req: Request, body: dict[str, Any], now: float) -> None:
    secret = robot.get("secret")
    if secret:
        stamp, sign = str(body.get("timestamp") or ""), _string(body.get("sign"))
        try:
            fresh = _within_window(int(stamp), now)
        except ValueError:
            fresh = False
        key = f"{stamp}\n{secret}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        if not fresh or not hmac.compare_digest(expected, sign):
            raise Refused(19021, "sign match fail or timestamp is not within one hour from current time")
    if len(req.body) > LARK_MAX_BYTES:
        raise Refused(9499, "Bad Request: the request body exceeds 20 KB")
    msg_type = body.get("msg_type")
    if msg_type == "text":
        content = body.get("content") if isinstance(body.get("content"), dict) else {}
        text = _string(content.get("text"))
    elif msg_type == "interactive":
        card = body.get("card") if isinstance(body.get("card"), dict) else {}
        if not isinstance(card.get("elements"), list) or not card["elements"]:
            raise Refused(9499, "Bad Request: card.elements is required")
        text = json.dumps(card, ensure_ascii=False)
    elif msg_type == "post":
        content = body.get("content") if isinstance(body.get("content"), dict) else {}
        text = json.dumps(content.get("post"), ensure_ascii=False) if content.get("post") else ""
    else:
        raise Refused(9499, f"Bad Request: unsupported msg_type {msg_type!r}")
    if not text.strip():
        raise Refused(9499, "Bad Request: the message has no content")
    _check_keywords(robot, text, 19024, "Key Words Not Found")


def _slack(state: SandboxState, robot: dict[str, Any], req: Request, body: dict[str, Any], now: float) -> None:
    blocks = body.get("blocks")
    if blocks is not None and (not isinstance(blocks, list)
                               or not all(isinstance(b, dict) and b.get("type") for b in blocks)):
        raise Refused("invalid_blocks", "invalid_blocks")
    for block in blocks or []:
        text = block.get("text")
        if isinstance(text, dict) and len(_string(text.get("text"))) > SLACK_SECTION_MAX_CHARS:
            raise Refused("invalid_blocks", "invalid_blocks")   # Block Kit: a section's text is 3000 characters at most
    if not _string(body.get("text")).strip() and not blocks:
        raise Refused("no_text", "no_text")


def _generic(state: SandboxState, robot: dict[str, Any], req: Request, body: dict[str, Any], now: float) -> None:
    """A generic receiver accepts any JSON object."""


_RECEIVERS = {"dingtalk": _dingtalk, "wecom": _wecom, "lark": _lark, "slack": _slack, "webhook": _generic}


# -- admin --------------------------------------------------------------------------------------

def admin(state: SandboxState, req: Request) -> Response | None:
    """The `/_sandbox/webhooks` routes, or None when `req` is not one of them."""
    route = (req.method, req.path.rstrip("/"))
    if route == ("GET", "/_sandbox/webhooks"):
        with state.lock:
            return Response.json({"robots": list(state.robots.values()), "messages": list(state.webhook_messages)})
    if route == ("DELETE", "/_sandbox/webhooks"):
        with state.lock:
            state.webhook_messages.clear()
        return Response.json({"messages": []})
    if route == ("POST", "/_sandbox/webhooks/robots"):
        body = req.json()
        if not isinstance(body, dict):
            raise ValueError("a robot is a JSON object: {kind, token, secret?, keywords?}")
        robot = register_robot(state, body.get("kind", ""), body.get("token", ""), secret=body.get("secret"),
                               keywords=body.get("keywords") or ())
        state.save()
        return Response.json(robot)
    return None
