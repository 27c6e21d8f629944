"""The bundled definitions under ackaudit/data: they parse, and agree with the audit log's fields."""

import json
import re
from importlib import resources
from pathlib import Path

import pytest
import yaml

from ackaudit.audit.fields import FIELDS

DATA_DIR = Path(resources.files("ackaudit.data"))
DATA_FILES = sorted(p for p in DATA_DIR.rglob("*") if p.is_file() and p.suffix in (".json", ".yaml", ".yml"))
# The risky-program alert query of ACK's container operation audit guide, as published.
SEED_RISKY_ALERT = (
    "kind: Command | select \"clusterid\" from log where \"process.name\" in ('rm', 'sudo', 'su', "
    "'nsenter', 'curl', 'wget', 'yum', 'apt-get', 'apt', 'apk', 'dpkg', 'nc', 'ncat', 'ssh', 'scp', 'nmap', "
    "'docker', 'crictl', 'nerdctl', 'podman', 'kubectl', 'helm', 'mysql', 'redis', 'psql', 'redis-cli', "
    "'pip', 'npm', 'gem')"
)
DEFAULT_TOKENS = list(", '\";=()[]{}?@&<>/:\n\t\r")
IN_LIST = re.compile(r"\"process\.name\" in \(([^)]*)\)")


def load(path: Path):
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def risky_names_in(query: str) -> list[str]:
    return [name.strip().strip("'") for name in IN_LIST.search(query).group(1).split(",")]


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: p.name)
def test_every_data_file_parses(path):
    assert load(path)


def test_risky_programs_are_exactly_the_seed_alert_list():
    catalogue = load(DATA_DIR / "risky-programs.json")
    assert isinstance(catalogue["version"], int)
    names = [p["name"] for p in catalogue["programs"]]
    assert names == risky_names_in(SEED_RISKY_ALERT) and len(names) == 29
    for program in catalogue["programs"]:
        assert program["category"] and program["reason"].endswith(".")


def test_every_bundled_risky_query_uses_the_same_list():
    expected = [p["name"] for p in load(DATA_DIR / "risky-programs.json")["programs"]]
    for path in DATA_FILES:
        for query in IN_LIST.finditer(path.read_text(encoding="utf-8").replace('\\"', '"')):
            assert risky_names_in(query.group(0)) == expected, path.name


def test_audit_index_covers_every_field():
    index = load(DATA_DIR / "advaudit-index.json")
    assert index["line"]["token"] == DEFAULT_TOKENS
    keys = index["keys"]
    for f in FIELDS:
        if f.container is None:
            assert keys[f.name]["type"] == "text", f.name
            continue
        sub = keys[f.container]["json_keys"][".".join(f.path)]
        assert sub["type"] == ("long" if f.value_type == "long" else "text"), f.name
        assert sub["doc_value"] is True
    for name, key in keys.items():
        assert key["doc_value"] is True and key["token"] == DEFAULT_TOKENS and not key["caseSensitive"], name
    assert {k for k, v in keys.items() if v["type"] == "json"} == {"k8s", "host", "kubeObject", "process"}
