from ackaudit.audit.eligibility import cluster_type_name, cluster_type_problem, judge_node, parse_version

ALINUX = "Alibaba Cloud Linux 3.2104 U11 (OpenAnolis Edition)"


def test_cluster_types():
    assert cluster_type_problem({"cluster_type": "ManagedKubernetes", "profile": "Default"}) is None
    assert cluster_type_problem({"cluster_type": "Kubernetes"}) is None
    assert "Serverless" in cluster_type_problem({"cluster_type": "ManagedKubernetes", "profile": "Serverless"})
    assert cluster_type_problem({"cluster_type": "ExternalKubernetes"})
    assert cluster_type_name({"cluster_type": "ManagedKubernetes", "profile": "Default",
                              "cluster_spec": "ack.pro.small"}) == "ACK managed Pro"


def test_versions():
    assert parse_version("1.31.1-aliyun.1") == (1, 31, 1)
    assert parse_version("v1.30") == (1, 30)
    assert parse_version("5.10.134-18.al8.x86_64") == (5, 10, 134)
    assert parse_version("") is None


def test_supported_nodes():
    assert judge_node("n1", ALINUX, "5.10.134-18.al8.x86_64", "1.31.1-aliyun.1").ok
    assert judge_node("n1", "ContainerOS 3.5", "5.10.134", "1.24.6").ok
    assert judge_node("n1", "Ubuntu 22.04.4 LTS", "5.15.0-105-generic", "1.30.1").ok


def test_os_needs_a_minimum_cluster_version():
    verdict = judge_node("n1", "Ubuntu 22.04.4 LTS", "5.15.0-105-generic", "1.28.9-aliyun.1")
    assert not verdict.ok and "Ubuntu needs cluster version >= 1.30" in verdict.reason
    assert not judge_node("n1", "ContainerOS 3.2", "5.10.1", "1.22.15").ok


def test_kernel_must_be_newer_than_4_19():
    assert "not newer than 4.19" in judge_node("n1", ALINUX, "4.19.91-27.al7.x86_64", "1.28").reason
    assert judge_node("n1", ALINUX, "4.20.1", "1.28").ok


def test_unsupported_os():
    verdict = judge_node("n1", "CentOS Linux 7 (Core)", "3.10.0-1160.el7.x86_64", "1.28")
    assert not verdict.ok and "not supported" in verdict.reason and "4.19" in verdict.reason


def test_nodepool_image_types():
    from ackaudit.audit.eligibility import nodepool_problem

    assert nodepool_problem("AliyunLinux3", "1.31.1-aliyun.1") is None
    assert nodepool_problem("ContainerOS", "1.30.1") is None
    assert "need cluster version >= 1.30" in nodepool_problem("Ubuntu", "1.28.9-aliyun.1")
    assert "not supported" in nodepool_problem("CentOS", "1.31.1")
