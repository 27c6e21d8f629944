"""The domain's errors. Each carries the exit code of design.md and, where it helps, a hint.

The CLI's error boundary (`ackaudit.cli._errors`) turns these and the SDKs' exceptions into one
line on stderr; nothing below the CLI prints.
"""

from __future__ import annotations

from enum import IntEnum


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


class ApiError(AckAuditError):
    """A cloud API answered with an error. The exit code follows from the code and HTTP status."""

    def __init__(self, service: str, action: str, code: str, message: str, *, status: int | None = None,
                 request_id: str | None = None, endpoint: str | None = None, hint: str | None = None) -> None:
        super().__init__(f"{service} {action} failed: {code}: {message}", hint=hint, request_id=request_id)
        self.service, self.action, self.code = service, action, code
        self.api_message, self.status, self.endpoint = message, status, endpoint

    @property
    def exit_code(self) -> ExitCode:  # type: ignore[override]
        if self.code in _AUTH_CODES or self.status in (401, 403):
            return ExitCode.AUTH
        if self.status == 404 or self.code.endswith(("NotFound", "NotExist")):
            return ExitCode.NOT_FOUND
        return ExitCode.FAILED

    @property
    def retryable(self) -> bool:
        return (self.status is not None and self.status >= 500) or "throttl" in self.code.lower() \
            or self.code in ("ServiceUnavailable", "InternalError", "InternalServerError", "RequestTimeout",
                             "ReadQuotaExceed", "WriteQuotaExceed", "QuotaExceed", "ExceedQPSLimit")


class ConnectError(AckAuditError):
    """The endpoint could not be reached (refused, DNS, TLS, timeout)."""

    exit_code = ExitCode.FAILED

    def __init__(self, service: str, endpoint: str, reason: str) -> None:
        super().__init__(f"cannot reach {service} at {endpoint}: {reason}",
                         hint="check the network, the region, and ACKAUDIT_CS_ENDPOINT / ACKAUDIT_SLS_ENDPOINT")
        self.service, self.endpoint, self.reason = service, endpoint, reason


class OutputError(AckAuditError):
    """The output cannot be written: a directory, no permission, a full disk, a closed device."""

    exit_code = ExitCode.FAILED


class StdoutClosed(Exception):
    """Whoever read stdout has gone (`ackaudit query | head -1`): stop quietly."""


class Interrupted(AckAuditError):
    """Ctrl-C, with what it means for work already handed to the cloud."""

    exit_code = ExitCode.INTERRUPTED
