"""The domain's errors. Each carries the exit code of design.md and, where it helps, a hint.

The CLI's error boundary (`ackaudit.cli._errors`) turns these and the SDKs' exceptions into one
line on stderr; nothing below the CLI prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

SHOWN_LIMIT = 60


def shown(value: object, limit: int = SHOWN_LIMIT) -> str:
    """A value the user typed, quoted for an error message and cut to `limit` characters: a
    100 000-character argument is named, not echoed."""
    text = str(value)
    if len(text) > limit:
        return repr(text[:limit]) + f"… ({len(text)} characters)"
    return repr(text)


PATH_SHOWN_LIMIT = 240   # a path is cut later: a long but real one still names its file


def shown_path(path: object) -> str:
    """A file name the user typed, for an error message: as it is, or cut and quoted (`shown`) when it
    is absurdly long."""
    text = str(path)
    return text if len(text) <= PATH_SHOWN_LIMIT else shown(text, PATH_SHOWN_LIMIT)


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    NOT_FOUND = 3
    AUTH = 4
    PRECONDITION = 5
    INTERRUPTED = 130


class AckAuditError(Exception):
    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.request_id = request_id

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled whole (an export's shard readers hand their errors to the main process), whatever
        the subclass's constructor takes."""
        return _restored, (type(self), self.args, self.__dict__)


def _restored(cls: type[AckAuditError], args: tuple[object, ...], state: dict[str, object]) -> AckAuditError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class UsageError(AckAuditError):
    """Bad input that parsing could not catch (a malformed time, an unknown format...)."""

    exit_code = ExitCode.USAGE


class NotFoundError(AckAuditError):
    exit_code = ExitCode.NOT_FOUND


class AuthError(AckAuditError):
    """No credentials, rejected credentials, or not allowed."""

    exit_code = ExitCode.AUTH


class PreconditionError(AckAuditError):
    """The cluster is not in a state where this can be done (not eligible, audit not enabled...)."""

    exit_code = ExitCode.PRECONDITION


class CloudError(AckAuditError):
    """A cloud call failed for a reason that is not the caller's (5xx, timeout, bad response)."""

    exit_code = ExitCode.FAILED


# Error codes that mean "who you are or what you may do" (ACK/POP gateway and SLS spellings).
_AUTH_CODES = {
    "InvalidAccessKeyId.NotFound", "InvalidAccessKeyId.Inactive", "InvalidAccessKeyId", "InvalidAccessKeySecret",
    "SignatureDoesNotMatch", "SignatureNotMatch", "IncompleteSignature", "MissingAuthorization", "Unauthorized",
    "InvalidSecurityToken.Expired", "InvalidSecurityToken.Malformed", "InvalidSecurityToken.MismatchWithAccessKey",
    "SecurityToken.Expired", "SecurityTokenExpired", "Forbidden.RAM", "Forbidden", "ErrorCheckAcl",
    "NoPermission", "AccessDenied",
}


# A signature mismatch means a wrong AccessKey secret (the id was known); the services' messages
# then carry their whole string-to-sign over many lines, which helps nobody reading an error.
_SIGNATURE_CODES = {"SignatureDoesNotMatch", "SignatureNotMatch", "InvalidAccessKeySecret"}
SIGNATURE_HINT = ("check the AccessKey secret: it does not match the AccessKey ID "
                  "(and check the machine's clock if the secret is right)")


def one_line(message: str, limit: int = 300) -> str:
    """A service's message as one line of at most `limit` characters."""
    text = " ".join(line.strip() for line in str(message).splitlines() if line.strip())
    return text if len(text) <= limit else text[:limit] + "…"


class ApiError(AckAuditError):
    """A cloud API answered with an error. The exit code follows from the code and HTTP status."""

    def __init__(self, service: str, action: str, code: str, message: str, *, status: int | None = None,
                 request_id: str | None = None, endpoint: str | None = None, hint: str | None = None) -> None:
        if code in _SIGNATURE_CODES:
            shown_message = "the request signature does not match (wrong AccessKey secret?)"
            hint = hint or SIGNATURE_HINT
        else:
            shown_message = one_line(message)
        super().__init__(f"{service} {action} failed: {code}: {shown_message}", hint=hint, request_id=request_id)
        self.service, self.action, self.code = service, action, code
        self.api_message, self.status, self.endpoint = message, status, endpoint

    @property
    def exit_code(self) -> ExitCode:  # type: ignore[override]
        if self.throttled:
            return ExitCode.FAILED   # SLS answers its QPS quotas with 403: busy, not forbidden
        if self.code in _AUTH_CODES or self.status in (401, 403):
            return ExitCode.AUTH
        if self.status == 404 or self.code.endswith(("NotFound", "NotExist")):
            return ExitCode.NOT_FOUND
        return ExitCode.FAILED

    @property
    def throttled(self) -> bool:
        return "throttl" in self.code.lower() or self.status == 429 \
            or self.code in ("ReadQuotaExceed", "WriteQuotaExceed", "QuotaExceed", "ExceedQPSLimit",
                             "TooManyRequests")

    @property
    def retryable(self) -> bool:
        return (self.status is not None and self.status >= 500) or self.throttled \
            or self.code in ("ServiceUnavailable", "InternalError", "InternalServerError", "RequestTimeout")


CLUSTER_NOT_FOUND_HINT = "list the clusters of this region with `ackaudit clusters` (wrong --region?)"


class ClusterNotFoundError(ApiError):
    """ACK knows no such cluster in this region: one wording, whichever call found out."""

    def __init__(self, cluster_id: str, region: str, *, action: str = "DescribeClusterDetail",
                 request_id: str | None = None, endpoint: str | None = None) -> None:
        super().__init__("ACK", action, "ErrorClusterNotFound", f"cluster {cluster_id} not found", status=404,
                         request_id=request_id, endpoint=endpoint, hint=CLUSTER_NOT_FOUND_HINT)
        self.message = f"cluster {shown(cluster_id)[1:-1]} not found in region {region}"
        self.args = (self.message,)


class ConnectError(AckAuditError):
    """The endpoint could not be reached (refused, DNS, TLS, timeout)."""

    exit_code = ExitCode.FAILED

    def __init__(self, service: str, endpoint: str, reason: str, *, timed_out: bool = False) -> None:
        if timed_out:
            super().__init__(f"{service} at {endpoint} did not answer: {reason}",
                             hint="the endpoint accepted the connection but sent no answer in time; retry later, "
                                  "check the endpoint, or allow more time with ACKAUDIT_TIMEOUT=SECONDS")
        else:
            super().__init__(f"cannot reach {service} at {endpoint}: {reason}",
                             hint="check the network, the region, and ACKAUDIT_CS_ENDPOINT / ACKAUDIT_SLS_ENDPOINT")
        self.service, self.endpoint, self.reason, self.timed_out = service, endpoint, reason, timed_out
        self.sdk_retried = False   # the SDK already retried it (SLS: refused connections)


DEFAULT_TIMEOUT = 30.0


def timeout_seconds(env: dict[str, str] | None = None) -> float:
    """ACKAUDIT_TIMEOUT: how long to wait for a connection, and then for an answer, per request."""
    import os

    raw = (env if env is not None else os.environ).get("ACKAUDIT_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise UsageError(f"ACKAUDIT_TIMEOUT={raw!r} is not a number of seconds", hint="e.g. ACKAUDIT_TIMEOUT=60 "
                         "(more than 0, at most 3600)")
    return value



@dataclass(frozen=True)
class Gap:
    """A part of an answer that could not be read. Commands print each as a warning and then exit
    with its code (4 when the read was refused, 1 otherwise) unless `--allow-partial`."""

    message: str
    exit_code: ExitCode = ExitCode.FAILED

    @classmethod
    def of(cls, what: str, exc: AckAuditError) -> Gap:
        code = ExitCode.AUTH if exc.exit_code == ExitCode.AUTH else ExitCode.FAILED
        return cls(f"{what}: {exc.message}", code)


class OutputError(AckAuditError):
    """The output cannot be written: a directory, no permission, a full disk, a closed device."""

    exit_code = ExitCode.FAILED


class StdoutClosed(Exception):
    """Whoever read stdout has gone (`ackaudit query | head -1`): stop quietly."""


class Interrupted(AckAuditError):
    """Ctrl-C, with what it means for work already handed to the cloud."""

    exit_code = ExitCode.INTERRUPTED
