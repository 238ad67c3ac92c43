"""deploy/kubernetes: valid against the Kubernetes schemas (bundled with kubernetes-validate,
offline), and deployed as the service needs: a volume per pod, a routable advertised address,
probes that allow state recovery, a numeric non-root user, Kafka secrets from a Secret."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from engagement.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "kubernetes"
VERSION = "1.31.0"  # the oldest Kubernetes the manifests are checked against (make k8s-check)


def manifests() -> dict[str, dict[str, Any]]:
    """kind -> resource, of every manifest but the kustomization."""
    found = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            found[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return found


def test_every_manifest_is_valid_strictly() -> None:
    docs = manifests()
    assert len(docs) == 7
    for doc in docs.values():
        kubernetes_validate.validate(doc, VERSION, strict=True)


def test_the_validator_refuses_a_broken_manifest() -> None:
    statefulset = copy.deepcopy(manifests()["StatefulSet/engagement-scorer"])
    statefulset["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, VERSION, strict=True)
    typo = copy.deepcopy(manifests()["StatefulSet/engagement-scorer"])
    typo["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(kustomization["resources"]) == files


def _container() -> dict[str, Any]:
    spec = manifests()["StatefulSet/engagement-scorer"]["spec"]["template"]["spec"]
    [container] = spec["containers"]
    return dict(container)


def test_statefulset_volume_per_pod_and_routable_address() -> None:
    sts = manifests()["StatefulSet/engagement-scorer"]
    assert sts["spec"]["serviceName"] == "engagement-scorer-headless"
    headless = manifests()["Service/engagement-scorer-headless"]
    assert headless["spec"]["clusterIP"] == "None"
    [claim] = sts["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in _container()["volumeMounts"]}
    config = manifests()["ConfigMap/engagement-scorer"]["data"]
    assert mounts[claim["metadata"]["name"]] == config["ENGAGEMENT_DATA_DIR"]
    assert config["ENGAGEMENT_STORE"] == "rocksdb://"
    env = {e["name"]: e for e in _container()["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["ENGAGEMENT_WEB_HOST"]["value"] == "$(POD_IP)"


def test_probes_allow_state_recovery() -> None:
    c = _container()
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    startup = c["startupProbe"]
    assert startup["httpGet"]["path"] == "/ready"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 15 * 60
    assert c["resources"]["requests"]["cpu"]
    assert c["resources"]["requests"]["memory"]


def test_numeric_non_root_user_and_pdb() -> None:
    pod = manifests()["StatefulSet/engagement-scorer"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert isinstance(pod["securityContext"]["runAsUser"], int)
    assert pod["securityContext"]["runAsUser"] > 0
    pdb = manifests()["PodDisruptionBudget/engagement-scorer"]
    assert pdb["spec"]["maxUnavailable"] == 1
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"USER {pod['securityContext']['runAsUser']}:" in dockerfile


def test_settings_in_configmap_and_secret_exist_and_secrets_stay_secret() -> None:
    known = {f"ENGAGEMENT_{name.upper()}" for name in Settings.model_fields}
    config = manifests()["ConfigMap/engagement-scorer"]["data"]
    secret = manifests()["Secret/engagement-scorer-secrets"]["stringData"]
    assert set(config) <= known
    assert {k for k in secret if k.startswith("ENGAGEMENT_")} <= known
    for name in ("ENGAGEMENT_KAFKA_SASL_PASSWORD", "ENGAGEMENT_API_TOKEN"):
        assert name in secret
        assert name not in config
    refs = [e for e in _container()["envFrom"] if "secretRef" in e]
    assert refs == [{"secretRef": {"name": "engagement-scorer-secrets"}}]
    # the CA file the config points at is mounted from the Secret
    mounts = {m["name"]: m["mountPath"] for m in _container()["volumeMounts"]}
    assert config["ENGAGEMENT_KAFKA_SSL_CAFILE"].startswith(mounts["kafka-tls"] + "/")
