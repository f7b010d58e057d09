"""remediation.apply without a server: rollout readiness as kubectl reads it, and the one-request patch body."""

from __future__ import annotations

from typing import Any

import pytest

from inferops_pipeline.remediation.apply import _body, rollout_complete


def _obj(kind: str = "Deployment", *, generation: int = 2, replicas: int = 2, **status: Any) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"generation": generation}, "spec": {"replicas": replicas}, "status": status}


@pytest.mark.parametrize(
    ("obj", "ready"),
    [
        (_obj(observedGeneration=2, replicas=2, updatedReplicas=2, readyReplicas=2), True),
        (_obj(observedGeneration=1, replicas=2, updatedReplicas=2, readyReplicas=2), False),  # controller not caught up
        (_obj(observedGeneration=2, replicas=3, updatedReplicas=2, readyReplicas=2), False),  # old pod still running
        (_obj(observedGeneration=2, replicas=2, updatedReplicas=2, readyReplicas=1), False),
        (_obj(replicas=0, observedGeneration=2), True),  # scaled to zero
        (
            _obj(
                "StatefulSet",
                observedGeneration=2,
                replicas=2,
                updatedReplicas=2,
                readyReplicas=2,
                currentRevision="a",
                updateRevision="b",
            ),
            False,
        ),  # fmt: skip
    ],
)
def test_rollout_complete(obj: dict[str, Any], ready: bool) -> None:
    assert rollout_complete(obj) is ready


def test_patch_annotations_and_precondition_travel_in_one_body() -> None:
    body = _body({"spec": {"replicas": 1}}, "42", {"inferops.io/recommendation": None, "inferops.io/rolled-back": "r"})
    assert body == {
        "spec": {"replicas": 1},
        # None survives: it deletes our annotation on the server.
        "metadata": {
            "resourceVersion": "42",
            "annotations": {"inferops.io/recommendation": None, "inferops.io/rolled-back": "r"},
        },
    }
