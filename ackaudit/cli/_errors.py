"""The error boundary: every exception a command can raise becomes one `error:` line (plus a hint
with the next thing to try and the request id when there is one) and the exit code of design.md.

The SDK exceptions are normally translated in `ackaudit.cloud`; they are mapped here too so that
nothing reaches the user as a traceback. ACKAUDIT_DEBUG=1 re-raises to show it.
"""

import os
from dataclasses import dataclass

from ackaudit.errors import AckAuditError, ApiError, AuthError, ExitCode


@dataclass(frozen=True)
class Failure:
    message: str
    exit_code: int
    hint: str | None = None
    request_id: str | None = None


_HINTS_BY_CODE = {
    "ErrorClusterNotFound": "list the clusters of this region with `ackaudit clusters` (wrong --region?)",
    "LogStoreNotExist": "is audit enabled? check with `ackaudit status --cluster ID`",
    "ProjectNotExist": "is the log component installed? check with `ackaudit status --cluster ID`",
    "IndexConfigNotExist": "the logstore has no index; `ackaudit enable --cluster ID` creates it",
    "SecurityToken.Expired": "the STS token has expired; refresh it (e.g. `aliyun configure`) and retry",
    "SecurityTokenExpired": "the STS token has expired; refresh it (e.g. `aliyun configure`) and retry",
    "InvalidSecurityToken.Expired": "the STS token has expired; refresh it (e.g. `aliyun configure`) and retry",
}


def _api_hint(exc: ApiError) -> str | None:
    if exc.hint:
        return exc.hint
    if exc.code in _HINTS_BY_CODE:
        return _HINTS_BY_CODE[exc.code]
    if exc.exit_code == ExitCode.AUTH:
        return "check the AccessKey and the RAM permissions of this identity (cs:*, log:*)"
    if exc.retryable:
        return "the service is busy or failing; retry in a moment (-v shows each call)"
    return None


def classify(exc: BaseException) -> Failure:
    """Map any exception to what the user sees. Unknown exceptions are bugs: say how to see more."""
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted", ExitCode.INTERRUPTED)
    if isinstance(exc, ApiError):
        return Failure(exc.message, exc.exit_code, _api_hint(exc), exc.request_id)
    if isinstance(exc, AckAuditError):
        return Failure(exc.message, exc.exit_code, exc.hint, exc.request_id)
    mapped = _map_sdk_exception(exc)
    if mapped is not None:
        return classify(mapped)
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return Failure(f"network error: {exc}", ExitCode.FAILED, "check the network and the endpoints")
    return Failure(f"unexpected {type(exc).__name__}: {exc}", ExitCode.FAILED,
                   "this is a bug; rerun with ACKAUDIT_DEBUG=1 for the traceback and report it")


def _map_sdk_exception(exc: BaseException) -> AckAuditError | None:
    """SDK exceptions that escaped the adapters, recognised by class name so that this module
    imports no SDK."""
    name = type(exc).__name__
    module = type(exc).__module__
    if module.startswith("aliyunsdkcore") and name in ("ServerException", "ClientException"):
        from ackaudit.cloud.ack import _error_fields

        if name == "ServerException":
            code, message, request_id = _error_fields(exc)
            return ApiError("ACK", "request", code, message, status=exc.get_http_status(), request_id=request_id)
        return ApiError("ACK", "request", exc.get_error_code(), exc.get_error_msg())
    if module.startswith("aliyun.log") and name == "LogException":
        return ApiError("SLS", "request", exc.get_error_code(), exc.get_error_message(),
                        status=getattr(exc, "resp_status", None), request_id=exc.get_request_id() or None)
    if module.startswith("kubernetes") and name == "ApiException":
        status = getattr(exc, "status", None)
        reason = getattr(exc, "reason", "") or "error"
        if status in (401, 403):
            return AuthError(f"Kubernetes API refused the request: {status} {reason}",
                             hint="the kubeconfig may have expired; ackaudit fetches a fresh one unless --kubeconfig is given")
        return ApiError("Kubernetes", "request", str(reason), f"HTTP {status}", status=status)
    return None


def debug_enabled() -> bool:
    return os.environ.get("ACKAUDIT_DEBUG", "") not in ("", "0", "false")
