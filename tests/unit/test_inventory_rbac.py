"""deploy/rbac/scanner.yaml grants exactly the reads the live source makes, and nothing that reads secrets or runs code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inferops_pipeline.sources.kubernetes import READ_ACCESS

SCANNER = Path(__file__).resolve().parents[2] / "deploy" / "rbac" / "scanner.yaml"


def _rules() -> list[dict[str, Any]]:
    documents = list(yaml.safe_load_all(SCANNER.read_text()))
    (role,) = [d for d in documents if d["kind"] == "ClusterRole"]
    binding = next(d for d in documents if d["kind"] == "ClusterRoleBinding")
    account = next(d for d in documents if d["kind"] == "ServiceAccount")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": account["metadata"]["namespace"]}]  # fmt: skip
    return list(role["rules"])


def test_grants_exactly_what_the_live_source_lists() -> None:
    granted = {(group, resource) for rule in _rules() for group in rule["apiGroups"] for resource in rule["resources"]}
    assert granted == set(READ_ACCESS)


def test_read_only_and_nothing_sensitive() -> None:
    for rule in _rules():
        assert set(rule["verbs"]) <= {"get", "list"}, rule
        for resource in rule["resources"]:
            assert "/" not in resource, f"subresource {resource} (exec, proxy, log, …) must not be granted"
            assert resource not in {"secrets", "configmaps", "*"}, resource
        assert "*" not in rule["apiGroups"]
