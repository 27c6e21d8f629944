"""Server-side request authentication, as SLS and the ACK (POP) gateway perform it.

Three schemes are verified exactly, by rebuilding the string the client signed from the request
as received:

- SLS v1: ``Authorization: LOG <ak>:<base64 hmac-sha1>``
- SLS v4: ``Authorization: SLS4-HMAC-SHA256 Credential=<ak>/<date>/<region>/sls/aliyun_v4_request,Signature=<hex>``
- ACK ROA: ``Authorization: acs <ak>:<base64 hmac-sha1>``

Each verifier returns None when the request is authentic, or an `AuthError` carrying the status,
code and message the real service answers with; the caller wraps it in that service's envelope.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

from ackaudit.sandbox.http import Request

MAX_CLOCK_SKEW = 15 * 60   # both services reject requests dated more than 15 minutes away


@dataclass(frozen=True)
class AuthError:
    status: int
    code: str
    message: str


# -- SLS -----------------------------------------------------------------------------------------

def _is_signed_log_header(name: str) -> bool:
    return name.startswith("x-acs-") or (name.startswith("x-log-") and not name.startswith("x-log-meta-"))


def _sorted_raw_query(query: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(query))


def _sls_md5_error(req: Request) -> AuthError | None:
    md5 = req.headers.get("content-md5")
    if req.body and md5 is not None and md5 != hashlib.md5(req.body).hexdigest().upper():
        # The code for a body that does not match its Content-MD5 is not documented for SLS; this
        # is the one place that decides it.
        return AuthError(400, "InvalidContentMD5", f"Content-MD5 {md5} does not match the request body")
    return None


def _sls_date_error(req: Request, now: float) -> AuthError | None:
    date = req.headers.get("date")
    if not date:
        return AuthError(400, "MissingDate", "Date does not exist in http header")
    try:
        when = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return AuthError(400, "InvalidDateFormat", f"Date {date} must follow RFC822")
    if abs(now - when) > MAX_CLOCK_SKEW:
        return AuthError(400, "RequestTimeExpired",
                         f"Request time {date} has been expired while server time is "
                         f"{time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime(now))}")
    return None


def verify_sls(req: Request, credentials: dict[str, str], *, now: float | None = None) -> AuthError | None:
    """Check an SLS request signed with v1 or v4, its Content-MD5 / content hash, and its date."""
    now = time.time() if now is None else now
    auth = req.headers.get("authorization", "")
    if auth.startswith("LOG "):
        return _verify_sls_v1(req, auth, credentials, now)
    if auth.startswith("SLS4-HMAC-SHA256 "):
        return _verify_sls_v4(req, auth, credentials, now)
    if not auth:
        return AuthError(401, "Unauthorized", "Authorization does not exist in http header")
    return AuthError(401, "Unauthorized", "Authorization scheme is not supported")


def _sls_unknown_key(ak: str) -> AuthError:
    return AuthError(401, "InvalidAccessKeyId", f"AccessKeyId {ak} is not found")


def _verify_sls_v1(req: Request, auth: str, credentials: dict[str, str], now: float) -> AuthError | None:
    ak, _, signature = auth[len("LOG "):].partition(":")
    secret = credentials.get(ak)
    if secret is None:
        return _sls_unknown_key(ak)
    error = _sls_date_error(req, now) or _sls_md5_error(req)
    if error:
        return error
    # The SDK adds x-log-date only after signing, so it is not part of the canonical headers.
    canonical = "".join(f"{k}:{req.headers[k]}\n" for k in sorted(req.headers)
                        if _is_signed_log_header(k) and k != "x-log-date")
    resource = unquote(req.path) + ("?" + _sorted_raw_query(req.query) if req.query else "")
    string_to_sign = (f"{req.method}\n{req.headers.get('content-md5', '')}\n"
                      f"{req.headers.get('content-type', '')}\n{req.headers['date']}\n{canonical}{resource}")
    expected = base64.b64encode(hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()).decode()
    if not hmac.compare_digest(expected, signature):
        return AuthError(401, "SignatureNotMatch", f"signature {signature} not match")
    return None


def _v4_date_error(stamp: str, now: float) -> AuthError | None:
    try:
        when = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return AuthError(400, "InvalidDateFormat", f"x-log-date {stamp} must follow yyyyMMddTHHmmssZ")
    if abs(now - when) > MAX_CLOCK_SKEW:
        return AuthError(400, "RequestTimeExpired", f"Request time {stamp} has been expired")
    return None


def _verify_sls_v4(req: Request, auth: str, credentials: dict[str, str], now: float) -> AuthError | None:
    try:
        fields = dict(part.strip().split("=", 1) for part in auth[len("SLS4-HMAC-SHA256 "):].split(","))
        ak, day, region, service, terminator = fields["Credential"].split("/")
        signature = fields["Signature"]
    except (KeyError, ValueError):
        return AuthError(401, "Unauthorized", "Authorization header is malformed")
    secret = credentials.get(ak)
    if secret is None:
        return _sls_unknown_key(ak)
    stamp = req.headers.get("x-log-date", "")
    if not stamp:
        return AuthError(400, "MissingDate", "x-log-date does not exist in http header")
    error = _v4_date_error(stamp, now) or _sls_md5_error(req)
    if error:
        return error
    payload_hash = hashlib.sha256(req.body).hexdigest()
    if req.headers.get("x-log-content-sha256") != payload_hash:
        return AuthError(401, "SignatureNotMatch", "x-log-content-sha256 does not match the request body")
    # The Host header is signed in v4: use the one received (the SDK sends it without the port).
    signed = {k: v for k, v in req.headers.items() if k in ("content-type", "host") or _is_signed_log_header(k)}
    canonical_headers = "".join(f"{k}:{signed[k].strip()}\n" for k in sorted(signed))
    canonical_query = "&".join(k + ("=" + quote(v, safe="~") if v else "") for k, v in sorted(req.query))
    canonical_request = "\n".join([req.method, unquote(req.path), canonical_query, canonical_headers,
                                   ";".join(sorted(signed)), payload_hash])
    scope = f"{day}/{region}/{service}/{terminator}"
    string_to_sign = "\n".join(["SLS4-HMAC-SHA256", stamp, scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = ("aliyun_v4" + secret).encode()
    for part in (day, region, service, terminator):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return AuthError(401, "SignatureNotMatch", f"signature {signature} not match")
    return None


# -- ACK (ROA through the POP gateway) ------------------------------------------------------------

def verify_acs_roa(req: Request, credentials: dict[str, str], *, now: float | None = None) -> AuthError | None:
    """Check an ACK ROA request signed by aliyun-python-sdk-core (HMAC-SHA1, signature version 1.0)."""
    now = time.time() if now is None else now
    auth = req.headers.get("authorization", "")
    if not auth.startswith("acs "):
        return AuthError(400, "MissingAuthorization", "Authorization is mandatory for this action.")
    ak, _, signature = auth[len("acs "):].partition(":")
    secret = credentials.get(ak)
    if secret is None:
        return AuthError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    if "x-acs-security-token" in req.headers:
        # STS credentials are not modelled: no token issued by the sandbox can be valid.
        return AuthError(400, "InvalidSecurityToken.MismatchWithAccessKey",
                         "Specified SecurityToken mismatch with the AccessKey.")
    date = req.headers.get("date")
    if not date:
        return AuthError(400, "MissingDate", "Date is mandatory for this action.")
    try:
        when = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return AuthError(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
    if abs(now - when) > MAX_CLOCK_SKEW:
        return AuthError(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
    md5 = req.headers.get("content-md5")
    if req.body and md5 is not None and md5 != base64.b64encode(hashlib.md5(req.body).digest()).decode():
        return AuthError(400, "InvalidContentMD5", "The Content-MD5 you specified is not valid.")
    canonical = "".join(f"{k}:{req.headers[k]}\n" for k in sorted(req.headers) if k.startswith("x-acs-"))
    resource = unquote(req.path) + ("?" + _sorted_raw_query(req.query) if req.query else "")
    string_to_sign = "\n".join([req.method, req.headers.get("accept", ""), md5 or "",
                                req.headers.get("content-type", ""), date]) + "\n" + canonical + resource
    expected = base64.b64encode(hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()).decode()
    if not hmac.compare_digest(expected, signature):
        return AuthError(400, "SignatureDoesNotMatch",
                         f"Specified signature is not matched with our calculation. server string to sign is:"
                         f"{string_to_sign}")
    return None
