"""The light Kubernetes reads: which kubeconfigs they take on, and that they answer like the official client."""

from __future__ import annotations

import base64

import pytest
import yaml

from ackaudit.cloud.kube import KubeClient, LightKubeReader
from ackaudit.errors import AuthError, UsageError


def kubeconfig(cluster=None, user=None, context=None, current="ctx"):
    return {"apiVersion": "v1", "kind": "Config", "current-context": current,
            "clusters": [{"name": "k", "cluster": {"server": "https://10.0.0.1:6443", **(cluster or {})}}],
            "contexts": [{"name": "ctx", "context": {"cluster": "k", "user": "u", **(context or {})}}],
            "users": [{"name": "u", "user": {"token": "t0k3n", **(user or {})}}]}


@pytest.mark.parametrize("cluster, user", [
    ({}, {}),
    ({"insecure-skip-tls-verify": True}, {}),
    ({"tls-server-name": "kubernetes"}, {}),
    ({"server": "http://127.0.0.1:8080"}, {}),
])
def test_tokens_and_plain_tls_are_read_without_the_official_client(cluster, user):
    assert isinstance(LightKubeReader.from_kubeconfig(kubeconfig(cluster, user)), LightKubeReader)


@pytest.mark.parametrize("cluster, user, context", [
    ({}, {"exec": {"command": "aliyun", "apiVersion": "client.authentication.k8s.io/v1beta1"}}, {}),
    ({}, {"auth-provider": {"name": "oidc"}}, {}),
    ({}, {"tokenFile": "/var/run/token"}, {}),
    ({}, {"username": "admin", "password": "secret"}, {}),
    ({}, {"client-certificate": "cert.pem", "client-key": "key.pem"}, {}),
    ({"certificate-authority": "ca.pem"}, {}, {}),
    ({"proxy-url": "http://proxy:3128"}, {}, {}),
    ({"certificate-authority-data": "not base64!"}, {}, {}),
    ({}, {"client-certificate-data": base64.b64encode(b"x").decode()}, {}),   # a certificate without its key
    ({}, {}, {"extensions": [{"name": "x"}]}),
])
def test_anything_else_is_left_to_the_official_client(cluster, user, context):
    assert LightKubeReader.from_kubeconfig(kubeconfig(cluster, user, context)) is None


def test_a_proxy_in_the_environment_is_left_to_the_official_client(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert LightKubeReader.from_kubeconfig(kubeconfig()) is None


def test_an_unknown_context_is_the_same_usage_error_for_both():
    with pytest.raises(UsageError) as light:
        LightKubeReader.from_kubeconfig(kubeconfig(), "nope")
    with pytest.raises(UsageError) as official:
        KubeClient.from_kubeconfig(kubeconfig(), "nope")
    assert light.value.message == official.value.message


def _sandbox_kubeconfig(sandbox, acs_client, cluster_id):
    import json

    from aliyunsdkcore.request import CommonRequest

    req = CommonRequest(domain=f"127.0.0.1:{sandbox.port}", version="2015-12-15",
                        uri_pattern=f"/k8s/{cluster_id}/user_config")
    req.set_method("GET")
    return yaml.safe_load(json.loads(acs_client.do_action_with_exception(req))["config"])


def test_it_reads_what_the_official_client_reads(sandbox, acs_client):
    from ackaudit.sandbox.world_clusters import AUDITED_CLUSTER_ID

    config = _sandbox_kubeconfig(sandbox, acs_client, AUDITED_CLUSTER_ID)
    light = LightKubeReader.from_kubeconfig(config)
    official = KubeClient.from_kubeconfig(config)
    try:
        assert isinstance(light, LightKubeReader)
        for name in ("alibaba-log-configuration", "no-such-configmap"):
            assert light.read_configmap("kube-system", name) == official.read_configmap("kube-system", name)
        assert light.read_configmap("kube-system", "alibaba-log-configuration")["log-project"] == \
            f"k8s-log-{AUDITED_CLUSTER_ID}"
        config["users"][0]["user"]["token"] = "wrong"
        with pytest.raises(AuthError):
            LightKubeReader.from_kubeconfig(config).read_configmap("kube-system", "alibaba-log-configuration")
    finally:
        light.close()
        official.close()


def test_lists_read_what_the_official_client_reads(sandbox, acs_client):
    from ackaudit.sandbox.world_clusters import AUDITED_CLUSTER_ID

    config = _sandbox_kubeconfig(sandbox, acs_client, AUDITED_CLUSTER_ID)
    light, official = LightKubeReader.from_kubeconfig(config), KubeClient.from_kubeconfig(config)
    try:
        nodes = light.list_nodes()
        assert nodes == official.list_nodes() and nodes and all(n.name and n.kernel_version for n in nodes)
        daemonsets = light.list_daemonsets("kube-system")
        assert daemonsets == official.list_daemonsets("kube-system") and daemonsets
        assert light.list_daemonsets("no-such-namespace") == official.list_daemonsets("no-such-namespace")
        pods = light.list_pods("kube-system")
        assert pods == official.list_pods("kube-system") and pods
        label = next(f"{k}={v}" for p in pods for k, v in p.labels.items())
        selected = light.list_pods("kube-system", label)
        assert selected == official.list_pods("kube-system", label) and 0 < len(selected) <= len(pods)
        config["users"][0]["user"]["token"] = "wrong"
        with pytest.raises(AuthError):
            LightKubeReader.from_kubeconfig(config).list_nodes()
    finally:
        light.close()
        official.close()
