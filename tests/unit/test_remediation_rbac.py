"""deploy/rbac/remediator.yaml: patch/get on Deployments and StatefulSets plus Events, namespace-scoped only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inferops_pipeline.remediation.plan import SUPPORTED_KINDS

REMEDIATOR = Path(__file__).resolve().parents[2] / "deploy" / "rbac" / "remediator.yaml"


def _documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(REMEDIATOR.read_text()) if d]


def test_rights_are_exactly_what_apply_uses() -> None:
    (role,) = [d for d in _documents() if d["kind"] == "ClusterRole"]
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    expected = {("apps", plural, verb) for plural in SUPPORTED_KINDS.values() for verb in ("get", "patch")}
    assert granted == expected | {("", "events", "create")}
    for rule in role["rules"]:
        assert not {"secrets", "configmaps", "*", "pods/exec"} & set(rule["resources"])
        assert "*" not in rule["verbs"] and "*" not in rule["apiGroups"]


def test_bound_only_in_allow_listed_namespaces() -> None:
    documents = _documents()
    assert not [d for d in documents if d["kind"] == "ClusterRoleBinding"]
    account = next(d for d in documents if d["kind"] == "ServiceAccount")
    bindings = [d for d in documents if d["kind"] == "RoleBinding"]
    assert {b["metadata"]["namespace"] for b in bindings} == {"llm-serving", "inference"}  # the demo allow-list
    for binding in bindings:
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                      "name": "inferops-remediator"}  # fmt: skip
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                        "namespace": account["metadata"]["namespace"]}]  # fmt: skip
