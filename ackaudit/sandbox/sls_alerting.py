"""SLS alert rules (jobs of type Alert), dashboards, and the account-level alert resources."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from ackaudit.sandbox.http import Response
from ackaudit.sandbox.sls_base import Call, SlsError, now_s, ok, page, project_of
from ackaudit.sandbox.state import SandboxState

_JOB_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{1,63}$")

# The resources every account has. The webhook-integration resource appears under two names in
# the primary sources (docs: action_webhook; Go/Java SDKs: webhook_application): both exist here.
BUILTIN_RESOURCES = (
    "sls.common.user", "sls.common.user_group", "sls.alert.oncall_group", "sls.alert.action_webhook",
    "sls.alert.webhook_application", "sls.alert.alert_policy", "sls.alert.action_policy",
    "sls.alert.content_template", "sls.alert.global_config",
)
# Record error codes are not documented; these follow the naming of the documented ones.
_RECORD_MISSING, _RECORD_EXISTS = "ResourceRecordNotExist", "ResourceRecordAlreadyExist"


# -- alert jobs -----------------------------------------------------------------------------------

def _jobs(call: Call) -> dict[str, Any]:
    return project_of(call).setdefault("jobs", {})


def _job(call: Call) -> dict[str, Any]:
    job = _jobs(call).get(call.params["name"])
    if job is None:
        raise SlsError(404, "JobNotExist", f"job {call.params['name']} does not exist")
    return job


def _validated_job(call: Call) -> dict[str, Any]:
    job = call.json_object()
    if job.get("type") != "Alert":
        raise SlsError(400, "ParameterInvalid", f"job type must be Alert, not {job.get('type')!r}")
    name = job.get("name")
    if not isinstance(name, str) or not _JOB_NAME.match(name):
        raise SlsError(400, "ParameterInvalid", f"job name is invalid: {name!r}")
    for key in ("configuration", "schedule"):
        if not isinstance(job.get(key), dict):
            raise SlsError(400, "ParameterInvalid", f"job {key} is required")
    return job


def create_job(call: Call) -> Response:
    job = _validated_job(call)
    jobs = _jobs(call)
    if job["name"] in jobs:
        raise SlsError(400, "JobAlreadyExist", f"job {job['name']} already exists")
    stamp = now_s()
    job.setdefault("status", "ENABLED")
    jobs[job["name"]] = {**job, "createTime": stamp, "lastModifiedTime": stamp}
    return ok()


def update_job(call: Call) -> Response:
    action = call.req.q("action")
    if action is not None:
        return _toggle_job(call, action)
    current = _job(call)
    job = _validated_job(call)
    if job["name"] != call.params["name"]:
        raise SlsError(400, "ParameterInvalid", "job name in the body must match the name in the path")
    job.setdefault("status", current.get("status", "ENABLED"))
    _jobs(call)[job["name"]] = {**job, "createTime": current.get("createTime", now_s()),
                                "lastModifiedTime": now_s()}
    return ok()


def _toggle_job(call: Call, action: str) -> Response:
    if action not in ("enable", "disable"):
        raise SlsError(400, "ParameterInvalid", f"action must be enable or disable: {action}")
    job = _job(call)
    job["status"] = "ENABLED" if action == "enable" else "DISABLED"
    job["lastModifiedTime"] = now_s()
    return ok()


def get_job(call: Call) -> Response:
    return ok(_job(call))


def delete_job(call: Call) -> Response:
    _job(call)
    del _jobs(call)[call.params["name"]]
    return ok()


def list_jobs(call: Call) -> Response:
    job_type = call.req.q("jobType")
    jobs = [j for _, j in sorted(_jobs(call).items()) if job_type in (None, j.get("type"))]
    shown = page(jobs, call)
    return ok({"count": len(shown), "total": len(jobs), "results": shown})


# -- dashboards -----------------------------------------------------------------------------------

def _dashboards(call: Call) -> dict[str, Any]:
    return project_of(call).setdefault("dashboards", {})


def _dashboard_body(call: Call) -> dict[str, Any]:
    board = call.json_object()
    name = board.get("dashboardName")
    if not isinstance(name, str) or not _JOB_NAME.match(name):
        raise SlsError(400, "ParameterInvalid", f"dashboardName is invalid: {name!r}")
    if not isinstance(board.get("charts", []), list):
        raise SlsError(400, "ParameterInvalid", "charts must be a list")
    return board


def _dashboard(call: Call) -> dict[str, Any]:
    board = _dashboards(call).get(call.params["name"])
    if board is None:
        raise SlsError(404, "DashboardNotExist", f"dashboard {call.params['name']} does not exist")
    return board


def create_dashboard(call: Call) -> Response:
    board = _dashboard_body(call)
    boards = _dashboards(call)
    if board["dashboardName"] in boards:
        raise SlsError(400, "DashboardAlreadyExist", f"dashboard {board['dashboardName']} already exists")
    boards[board["dashboardName"]] = board
    return ok()


def update_dashboard(call: Call) -> Response:
    _dashboard(call)
    board = _dashboard_body(call)
    if board["dashboardName"] != call.params["name"]:
        raise SlsError(400, "ParameterInvalid", "dashboardName in the body must match the name in the path")
    _dashboards(call)[board["dashboardName"]] = board
    return ok()


def get_dashboard(call: Call) -> Response:
    return ok(_dashboard(call))


def delete_dashboard(call: Call) -> Response:
    _dashboard(call)
    del _dashboards(call)[call.params["name"]]
    return ok()


def list_dashboards(call: Call) -> Response:
    boards = sorted(_dashboards(call).items())
    shown = page(boards, call, default_size=500)
    return ok({"count": len(shown), "total": len(boards), "dashboards": [n for n, _ in shown],
               "dashboardItems": [{"dashboardName": n, "displayName": b.get("displayName", n)} for n, b in shown]})


# -- resources and records (account level: no project) --------------------------------------------

def ensure_builtin_resources(state: SandboxState) -> None:
    for name in BUILTIN_RESOURCES:
        if name not in state.resources:
            state.resources[name] = {"name": name, "type": "system", "description": "", "records": {},
                                     "createTime": 0, "lastModifyTime": 0}


def _resource(call: Call) -> dict[str, Any]:
    ensure_builtin_resources(call.state)
    resource = call.state.resources.get(call.params["resource"])
    if resource is None:
        raise SlsError(404, "ResourceNotExist", f"resource {call.params['resource']} does not exist")
    return resource


def _resource_view(resource: dict[str, Any]) -> dict[str, Any]:
    # The SDK json-decodes schema and acl: they travel as JSON strings.
    return {"name": resource["name"], "type": resource.get("type", ""),
            "description": resource.get("description", ""),
            "schema": resource.get("schema") or json.dumps({"schema": []}), "acl": resource.get("acl") or "{}",
            "extInfo": resource.get("extInfo", ""), "createTime": resource.get("createTime", 0),
            "lastModifyTime": resource.get("lastModifyTime", 0)}


def create_resource(call: Call) -> Response:
    ensure_builtin_resources(call.state)
    body = call.json_object()
    name, kind = body.get("name"), body.get("type")
    if not name or not kind:
        raise SlsError(400, "ParameterInvalid", "resource name and type are required")
    if name in call.state.resources:
        raise SlsError(400, "ResourceAlreadyExist", f"resource {name} already exists")
    stamp = now_s()
    call.state.resources[name] = {"name": name, "type": kind, "description": body.get("description", ""),
                                  "schema": body.get("schema"), "acl": body.get("acl"),
                                  "extInfo": body.get("extInfo", ""), "records": {},
                                  "createTime": stamp, "lastModifyTime": stamp}
    return ok()


def update_resource(call: Call) -> Response:
    resource = _resource(call)
    body = call.json_object()
    for key in ("description", "schema", "extInfo", "acl"):
        if key in body:
            resource[key] = body[key]
    resource["lastModifyTime"] = now_s()
    return ok()


def get_resource(call: Call) -> Response:
    return ok(_resource_view(_resource(call)))


def delete_resource(call: Call) -> Response:
    resource = _resource(call)
    if resource.get("type") == "system":
        raise SlsError(400, "ParameterInvalid", f"system resource {resource['name']} cannot be deleted")
    del call.state.resources[resource["name"]]
    return ok()


def list_resources(call: Call) -> Response:
    ensure_builtin_resources(call.state)
    kind = call.req.q("type")
    names = set((call.req.q("names") or "").split(",")) - {""}
    found = [_resource_view(r) for n, r in sorted(call.state.resources.items())
             if kind in (None, r.get("type")) and (not names or n in names)]
    shown = page(found, call)
    return ok({"count": len(shown), "total": len(found), "items": shown})


def _record_fields(data: dict[str, Any], resource: str = "", record_id: str = "") -> dict[str, Any]:
    value = data.get("value")
    try:
        decoded = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict) or not decoded:
        raise SlsError(400, "ParameterInvalid", "record value must be a JSON string of a non-empty object")
    _check_value(resource, record_id, decoded)
    return {"value": value, "tag": data.get("tag", "")}


# Users and user groups, in the documented shapes (alert resource data structure): the id field
# repeats the record id; addresses and members are lists of strings.
_SHAPES = {
    "sls.common.user": ("user_id", {"user_name": str, "email": list, "phone": str, "country_code": str,
                                    "enabled": bool, "sms_enabled": bool, "voice_enabled": bool}),
    "sls.common.user_group": ("user_group_id", {"user_group_name": str, "members": list, "enabled": bool}),
}


def _check_policy(value: dict[str, Any]) -> None:
    """An action policy the alert engine could not run is refused, as the console refuses it: the
    primary script is required (ActionPolicyEmpty, the code third-party material reports), and every
    script must be `fire(...)` calls the engine knows (`alert_engine.script_problem`)."""
    from ackaudit.sandbox.alert_engine import script_problem

    primary = value.get("primary_policy_script")
    if not isinstance(primary, str) or not primary.strip():
        raise SlsError(400, "ActionPolicyEmpty", "primary_policy_script is required")
    for key in ("primary_policy_script", "secondary_policy_script"):
        if value.get(key) in (None, ""):
            continue
        problem = script_problem(value[key])
        if problem is not None:
            raise SlsError(400, "ParameterInvalid", f"{key}: {problem}")


def _check_value(resource: str, record_id: str, value: dict[str, Any]) -> None:
    if resource == "sls.alert.action_policy":
        _check_policy(value)
    shape = _SHAPES.get(resource)
    if shape is None:
        return
    id_key, types = shape
    if value.get(id_key) != record_id:
        raise SlsError(400, "ParameterInvalid", f"{id_key} must be the record id {record_id!r}")
    for key, kind in types.items():
        if key in value and not isinstance(value[key], kind):
            raise SlsError(400, "ParameterInvalid", f"{key} must be a {kind.__name__}")
        if kind is list and not all(isinstance(v, str) and v for v in value.get(key) or []):
            raise SlsError(400, "ParameterInvalid", f"{key} must be a list of non-empty strings")


def _put_record(resource: dict[str, Any], record_id: str, fields: dict[str, Any]) -> None:
    records = resource.setdefault("records", {})
    stamp = now_s()
    created = records.get(record_id, {}).get("createTime", stamp)
    records[record_id] = {"id": record_id, **fields, "createTime": created, "lastModifyTime": stamp}


def create_record(call: Call) -> Response:
    resource = _resource(call)
    body = call.json_object()
    record_id = body.get("id") or uuid.uuid4().hex
    if record_id in resource.setdefault("records", {}):
        raise SlsError(400, _RECORD_EXISTS, f"record {record_id} already exists")
    _put_record(resource, record_id, _record_fields(body, resource["name"], record_id))
    return ok()


def upsert_records(call: Call) -> Response:
    resource = _resource(call)
    records = call.json_object().get("records")
    if not isinstance(records, list) or not records:
        raise SlsError(400, "ParameterInvalid", "records must be a non-empty list")
    ids = [r.get("id") or uuid.uuid4().hex for r in records]
    checked = [(i, _record_fields(r, resource["name"], i)) for i, r in zip(ids, records, strict=True)]
    for record_id, fields in checked:
        _put_record(resource, record_id, fields)
    return ok()


def _record(call: Call) -> dict[str, Any]:
    record = _resource(call).get("records", {}).get(call.params["record"])
    if record is None:
        raise SlsError(404, _RECORD_MISSING, f"record {call.params['record']} does not exist")
    return record


def update_record(call: Call) -> Response:
    record = _record(call)
    body = call.json_object()
    fields = _record_fields(body, call.params["resource"], call.params["record"])
    if "tag" not in body:
        fields["tag"] = record.get("tag", "")
    _put_record(_resource(call), call.params["record"], fields)
    return ok()


def get_record(call: Call) -> Response:
    return ok(_record(call))


def list_records(call: Call) -> Response:
    resource = _resource(call)
    tag = call.req.q("tag")
    ids = set((call.req.q("ids") or "").split(",")) - {""}
    found = [r for i, r in sorted(resource.get("records", {}).items())
             if (tag is None or r.get("tag") == tag) and (not ids or i in ids)]
    shown = page(found, call)
    return ok({"count": len(shown), "total": len(found), "items": shown})


def delete_records(call: Call) -> Response:
    resource = _resource(call)
    ids = set((call.req.q("ids") or "").split(",")) - {""}
    if not ids:
        raise SlsError(400, "ParameterInvalid", "parameter ids is required")
    for record_id in ids:
        resource.get("records", {}).pop(record_id, None)
    return ok()
