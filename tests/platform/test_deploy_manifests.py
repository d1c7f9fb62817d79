"""The Kubernetes manifests as a real cluster needs them (issue 18 item 3), checked without a cluster:
every document valid against the Kubernetes schemas (kubernetes-validate, strict: no unknown field),
every Deployment under the restricted Pod Security Standard with resources, the three probes, a
Service and a PodDisruptionBudget; the compose file publishes ports on this machine only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES = "1.32.0"


def documents() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, doc) for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.mark.parametrize(("name", "doc"), documents(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_every_document_is_valid_kubernetes(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_every_file_is_in_the_kustomization() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    examples = {p.name for p in K8S.glob("*.example.yaml")}
    assert {p.name for p in K8S.glob("*.yaml")} - examples - {"kustomization.yaml"} == listed


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec.get("initContainers", []) + spec["containers"]


def test_every_deployment_runs_restricted_with_probes_resources_and_a_disruption_budget() -> None:
    docs = [d for _, d in documents()]
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"intake", "invoicing", "appointments", "reporting",
                                                           "gateway"}
    budgets = {d["spec"]["selector"]["matchLabels"]["app"] for d in docs if d["kind"] == "PodDisruptionBudget"}
    services = {d["spec"]["selector"]["app"] for d in docs if d["kind"] == "Service"}
    for deployment in deployments:
        name, pod = deployment["metadata"]["name"], deployment["spec"]["template"]["spec"]
        assert name in budgets and name in services, name
        ctx = pod["securityContext"]
        assert ctx["runAsNonRoot"] and ctx["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for c in _containers(pod):
            sc = c["securityContext"]
            assert sc == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                          "capabilities": {"drop": ["ALL"]}}, (name, c["name"])
        app = pod["containers"][0]
        assert {"readinessProbe", "livenessProbe", "startupProbe"} <= set(app), name
        assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert app["resources"]["requests"]["cpu"] and app["resources"]["limits"]["memory"], name
        mounts = {m["mountPath"] for m in app["volumeMounts"]}
        assert {"/tmp", "/data"} <= mounts, "a read-only root file system needs somewhere to write"


def test_the_compose_file_publishes_ports_on_this_machine_only() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
