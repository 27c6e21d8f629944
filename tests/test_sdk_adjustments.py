"""What ackaudit adjusts in the SDKs for speed, and that each still does what the SDK did: the SLS
SDK's response conversion, and the ACK SDK's key-pair signing loaded on first use."""

from __future__ import annotations

import copy

from aliyun.log.util import Util

from ackaudit.cloud.sls import _speed_up_the_sdk

ORIGINAL = Util.__dict__["convert_unicode_to_str"].__func__


def test_the_conversion_gives_what_the_sdk_gave():
    data = {"meta": {"progress": "Complete", "count": 2, "hasSQL": True, "ratio": 0.5, "none": None},
            "data": [{"__time__": "1795000000", "cmd": "rm -rf /", "raw": b"\xe4\xb8\xad"},
                     {"nested": [1, [2, "x"], (3, b"y")], "set": {"a"}, "empty": {}}],
            b"key": "bytes as a key"}
    expected = ORIGINAL(copy.deepcopy(data))
    _speed_up_the_sdk()
    _speed_up_the_sdk()                 # twice: it wraps the SDK's own only once
    got = Util.convert_unicode_to_str(copy.deepcopy(data))
    assert got == expected
    assert got["data"][0]["raw"] == "中" and got["key"] == "bytes as a key"
    assert type(got["data"][1]["nested"][2]) is tuple and got["data"][1]["nested"][2][1] == "y"
    source = {"rows": [{"a": "1"}]}
    assert Util.convert_unicode_to_str(source) is not source          # a copy, as before
    assert Util.convert_unicode_to_str(source)["rows"][0] is not source["rows"][0]


def test_the_key_pair_signing_module_still_answers_when_used():
    import subprocess
    import sys

    code = """
import sys
from ackaudit.cloud.ack import _defer_key_pair_signing
_defer_key_pair_signing()
from aliyunsdkcore.client import AcsClient
assert "cryptography" not in sys.modules
from aliyunsdkcore.auth.signers import rsa_key_pair_signer
assert callable(rsa_key_pair_signer.sha_hmac256.get_sign_string)
assert "cryptography" in sys.modules
print("ok")
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "ok", run.stderr
