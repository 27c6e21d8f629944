"""SLS projects, logstores, indexes and shards."""

from __future__ import annotations

import re
from typing import Any

from ackaudit.sandbox.http import Response
from ackaudit.sandbox.sls_base import Call, SlsError, logstore_of, now_s, ok, page, project_of
from ackaudit.sandbox.state import SANDBOX_ACCOUNT_ID

_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_LOGSTORE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$")

# Every key CreateLogStore / UpdateLogStore accepts; anything else is "redundant" to SLS.
_LOGSTORE_KEYS = {
    "logstoreName", "ttl", "shardCount", "enable_tracking", "autoSplit", "maxSplitShard", "appendMeta",
    "telemetryType", "enableModify", "hot_ttl", "encrypt_conf", "mode", "infrequentAccessTTL",
    "productType", "processorId", "resourceQuota", "shardingPolicy",
}
# GetLogStoreResponse raises KeyError without these; a seeded logstore may omit some.
_LOGSTORE_DEFAULTS = {"shardCount": 2, "enable_tracking": False, "appendMeta": True, "autoSplit": True,
                      "maxSplitShard": 64}
MAX_TTL = 3650          # days; 3650 means "keep forever"
MIN_HOT_TTL = 7         # days, the smallest hot tier older docs allow (newer ones say 30)


# -- projects -------------------------------------------------------------------------------------

def _project_view(project: dict[str, Any]) -> dict[str, Any]:
    created = str(project.get("createTime", ""))
    return {"projectName": project["projectName"], "description": project.get("description", ""),
            "region": project.get("region", ""), "owner": SANDBOX_ACCOUNT_ID, "status": "Normal",
            "createTime": created, "lastModifyTime": str(project.get("lastModifyTime", created)),
            "resourceGroupId": project.get("resourceGroupId", ""),
            "dataRedundancyType": project.get("dataRedundancyType", "LRS")}


def list_projects(call: Call) -> Response:
    pattern = call.req.q("projectName") or ""
    names = sorted(n for n in call.state.projects if pattern in n)
    shown = page(names, call)
    return ok({"count": len(shown), "total": len(names),
               "projects": [_project_view(call.state.projects[n]) for n in shown]})


def create_project(call: Call) -> Response:
    body = call.json_object()
    name = body.get("projectName")
    if name != call.project:
        raise SlsError(400, "ParameterInvalid", "projectName in the body must match the project in the Host")
    if not _PROJECT_NAME.match(name or ""):
        raise SlsError(400, "ProjectNameInvalid", f"project name {name} is invalid")
    if name in call.state.projects:
        raise SlsError(400, "ProjectAlreadyExist", f"Project {name} already exist")
    stamp = str(now_s())
    call.state.projects[name] = {
        "projectName": name, "region": call.region, "description": body.get("description", ""),
        "createTime": stamp, "lastModifyTime": stamp, "resourceGroupId": body.get("resourceGroupId", ""),
        "logstores": {}, "indexes": {}, "jobs": {}, "dashboards": {}}
    return ok()


def get_project(call: Call) -> Response:
    return ok(_project_view(project_of(call)))


def update_project(call: Call) -> Response:
    project = project_of(call)
    body = call.json_object()
    project["description"] = body.get("description", "")
    project["lastModifyTime"] = str(now_s())
    return ok()


def delete_project(call: Call) -> Response:
    project = project_of(call)
    for name in list(project.get("logstores", {})):
        call.state.events.drop_logstore(call.project, name)
    del call.state.projects[call.project]
    return ok()


# -- logstores ------------------------------------------------------------------------------------

def _validated_config(body: dict[str, Any]) -> dict[str, Any]:
    if set(body) - _LOGSTORE_KEYS:
        # The SDK recognises this exact message and retries with only the basic keys.
        raise SlsError(400, "LogStoreInfoInvalid", "redundant key exist in json")
    for key in ("logstoreName", "ttl", "shardCount"):
        if key not in body:
            raise SlsError(400, "LogStoreInfoInvalid", f"{key} is required")
    if not isinstance(body["ttl"], int) or not 1 <= body["ttl"] <= MAX_TTL:
        raise SlsError(400, "LogStoreInfoInvalid", f"ttl must be an integer in [1, {MAX_TTL}]: {body['ttl']}")
    if not isinstance(body["shardCount"], int) or not 1 <= body["shardCount"] <= 256:
        raise SlsError(400, "LogStoreInfoInvalid", f"shardCount must be an integer in [1, 256]: {body['shardCount']}")
    hot_ttl = body.get("hot_ttl")
    if hot_ttl is not None:
        if not isinstance(hot_ttl, int) or hot_ttl < MIN_HOT_TTL or hot_ttl > body["ttl"]:
            raise SlsError(400, "LogStoreInfoInvalid",
                           f"hot_ttl must be an integer in [{MIN_HOT_TTL}, ttl]: {hot_ttl}")
    return dict(body)


def create_logstore(call: Call) -> Response:
    project = project_of(call)
    config = _validated_config(call.json_object())
    name = config["logstoreName"]
    if not _LOGSTORE_NAME.match(str(name)):
        raise SlsError(400, "LogStoreInfoInvalid", f"logstore name {name} is invalid")
    logstores = project.setdefault("logstores", {})
    if name in logstores:
        raise SlsError(400, "LogStoreAlreadyExist", f"logstore {name} already exists")
    stamp = now_s()
    logstores[name] = {**config, "createTime": stamp, "lastModifyTime": stamp}
    call.state.events.ensure_logstore(call.project, name)
    return ok()


def logstore_view(config: dict[str, Any]) -> dict[str, Any]:
    return {**_LOGSTORE_DEFAULTS, **config}


def get_logstore(call: Call) -> Response:
    return ok(logstore_view(logstore_of(call)))


def update_logstore(call: Call) -> Response:
    current = logstore_of(call)
    config = _validated_config(call.json_object())
    if config["logstoreName"] != call.params["logstore"]:
        raise SlsError(400, "LogStoreInfoInvalid", "logstoreName in the body must match the logstore in the path")
    # UpdateLogStore replaces the whole configuration: whatever is omitted (hot_ttl, mode,
    # encrypt_conf...) is dropped, as documented. Clients must GET, change, and PUT it all back.
    # Only the shard count cannot change this way.
    replaced = {**config, "shardCount": current.get("shardCount", _LOGSTORE_DEFAULTS["shardCount"]),
                "createTime": current.get("createTime", now_s()), "lastModifyTime": now_s()}
    current.clear()
    current.update(replaced)
    return ok()


def delete_logstore(call: Call) -> Response:
    logstore_of(call)
    project = project_of(call)
    name = call.params["logstore"]
    del project["logstores"][name]
    project.setdefault("indexes", {}).pop(name, None)
    call.state.events.drop_logstore(call.project, name)
    return ok()


def list_logstores(call: Call) -> Response:
    pattern = call.req.q("logstoreName") or ""
    names = sorted(n for n in project_of(call).get("logstores", {}) if pattern in n)
    shown = page(names, call, default_size=500)
    return ok({"count": len(shown), "total": len(names), "logstores": shown})


# -- indexes --------------------------------------------------------------------------------------

def _index_body(call: Call) -> dict[str, Any]:
    index = call.json_object()
    if "line" not in index and "keys" not in index:
        raise SlsError(400, "IndexInfoInvalid", "index config needs a full-text (line) or field (keys) index")
    return index


def _store_index(call: Call, index: dict[str, Any] | None) -> None:
    indexes = project_of(call).setdefault("indexes", {})
    name = call.params["logstore"]
    if index is None:
        indexes.pop(name, None)
    else:
        indexes[name] = {**index, "lastModifyTime": now_s()}
    call.state.events.set_index(call.project, name, index)


def existing_index(call: Call) -> dict[str, Any] | None:
    logstore_of(call)
    return project_of(call).get("indexes", {}).get(call.params["logstore"])


def _index_missing(call: Call) -> SlsError:
    return SlsError(404, "IndexConfigNotExist", f"index config of logstore {call.params['logstore']} does not exist")


def create_index(call: Call) -> Response:
    if existing_index(call) is not None:
        raise SlsError(400, "IndexAlreadyExist", "log store index is already created")
    _store_index(call, _index_body(call))
    return ok()


def update_index(call: Call) -> Response:
    if existing_index(call) is None:
        raise _index_missing(call)
    _store_index(call, _index_body(call))
    return ok()


def get_index(call: Call) -> Response:
    index = existing_index(call)
    if index is None:
        raise _index_missing(call)
    return ok(index)


def delete_index(call: Call) -> Response:
    if existing_index(call) is None:
        raise _index_missing(call)
    _store_index(call, None)
    return ok()


# -- shards ---------------------------------------------------------------------------------------

def shard_count(config: dict[str, Any]) -> int:
    return int(config.get("shardCount", _LOGSTORE_DEFAULTS["shardCount"]))


def list_shards(call: Call) -> Response:
    config = logstore_of(call)
    n = shard_count(config)
    space = 1 << 128   # shards split the MD5 hash space of the route key

    def key(i: int) -> str:
        return f"{min(i * space // n, space - 1):032x}"

    return ok([{"shardID": i, "status": "readwrite", "inclusiveBeginKey": key(i), "exclusiveEndKey": key(i + 1),
                "createTime": config.get("createTime", 0)} for i in range(n)])
