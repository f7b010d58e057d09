"""What may be stored of a cluster object: env values never, secret-looking arg values redacted."""

from __future__ import annotations

import json

import pytest
from fakes.kube_objects import SECRET_SENTINELS, realistic_fleet

from inferops_pipeline.inventory.privacy import (
    ENGINE_ENV,
    REDACTED,
    is_secret_flag,
    redact_args,
    safe_value,
    scrub_object,
)


@pytest.mark.parametrize(
    ("flag", "secret"),
    [
        ("--api-key", True),
        ("--api_key", True),
        ("--hf-token", True),
        ("--hf_token", True),
        ("--auth-token", True),
        ("--password", True),
        ("--db-password", True),
        ("--ssl-keyfile", True),
        ("--ssl-key-file", True),
        ("--client-secret", True),
        ("--aws-access-key", True),
        ("--max-num-batched-tokens", False),  # a count of tokens, not a token
        ("--max-total-tokens", False),
        ("--max-batch-prefill-tokens", False),
        ("--tokenizer", False),
        ("--tokenizer-mode", False),
        ("--kv-cache-dtype", False),
        ("--api-server-count", False),
        ("--served-model-name", False),
    ],
)
def test_secret_flags(flag: str, secret: bool) -> None:
    assert is_secret_flag(flag) is secret


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--api-key", "abc", "--port", "8000"], ["--api-key", REDACTED, "--port", "8000"]),
        (["--api-key=abc"], [f"--api-key={REDACTED}"]),
        (["--hf_token=hf_x", "--max-num-batched-tokens", "8192"], [f"--hf_token={REDACTED}", "--max-num-batched-tokens", "8192"]),
        (["--api-key", "--port", "8000"], ["--api-key", "--port", "8000"]),  # no value to hide
        (["--header", "Bearer eyJhbGciOi"], ["--header", REDACTED]),  # a bearer header whatever the flag
        (["serve", "hf_abcdefghijklmnopqrstuvwxyz"], ["serve", REDACTED]),  # a HF token whatever its place
        (["--model=sk-proj-abcdefghijklmnopqrstu"], [f"--model={REDACTED}"]),
        (
            ["vllm serve m --api-key topsecret --tp 2"],
            [f"vllm serve m --api-key '{REDACTED}' --tp 2"],
        ),  # a whole `sh -c` script as one argv element
        (["vllm", "serve", "meta-llama/Llama-3.1-8B", "--tp", "2"], ["vllm", "serve", "meta-llama/Llama-3.1-8B", "--tp", "2"]),
    ],
)  # fmt: skip
def test_redact_args(argv: list[str], expected: list[str]) -> None:
    assert redact_args(argv) == expected


def test_scrub_removes_env_values_everywhere_and_keeps_names() -> None:
    fleet = realistic_fleet()
    deployment = next(d for d in fleet["deployments"] if d["metadata"]["name"] == "tgi-mistral")
    deployment["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(deployment["spec"]),
        "deployment.kubernetes.io/revision": "3",
    }
    deployment["metadata"]["managedFields"] = [{"manager": "kubectl", "operation": "Update"}]
    scrubbed = scrub_object(deployment)
    text = json.dumps(scrubbed)
    for secret in SECRET_SENTINELS:
        assert secret not in text
    env = scrubbed["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == [
        "MODEL_ID",
        "NUM_SHARD",
        "MAX_TOTAL_TOKENS",
        "CUDA_MEMORY_FRACTION",
        "HUGGING_FACE_HUB_TOKEN",
    ]
    assert all("value" not in e for e in env)
    assert scrubbed["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/last-applied-configuration": REDACTED,
        "deployment.kubernetes.io/revision": "3",
    }
    assert "managedFields" not in scrubbed["metadata"]
    assert "managedFields" in deployment["metadata"]  # the input is not modified


def test_scrub_keeps_references_and_engine_env_only_when_asked() -> None:
    pod = next(p for p in realistic_fleet()["pods"] if p["metadata"]["name"].startswith("vllm-llama3"))
    env = scrub_object(pod)["spec"]["containers"][0]["env"]
    assert {
        "name": "HF_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "vllm-secrets", "key": "hf_token_llama3"}},
    } in env
    tgi = next(p for p in realistic_fleet()["pods"] if p["metadata"]["name"].startswith("tgi-mistral"))
    kept = {e["name"]: e.get("value") for e in scrub_object(tgi, keep_env=ENGINE_ENV)["spec"]["containers"][0]["env"]}
    assert kept["MODEL_ID"] == "mistralai/Mistral-7B-Instruct-v0.3"
    assert kept["HUGGING_FACE_HUB_TOKEN"] is None


def test_scrub_covers_every_object_of_the_fleet() -> None:
    fleet = realistic_fleet()
    text = json.dumps({kind: [scrub_object(o) for o in items] for kind, items in fleet.items()})
    for secret in SECRET_SENTINELS:
        assert secret not in text
    assert SECRET_SENTINELS[2] in json.dumps(fleet)  # the fixture does carry them


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("s3://models/llama-70b?X-Amz-Signature=abc&X-Amz-Credential=AKIA", "s3://models/llama-70b"),
        (
            "https://user:secret@huggingface.co/meta-llama/Llama-3.1-8B",
            "https://huggingface.co/meta-llama/Llama-3.1-8B",
        ),
        ("hf_abcdefghijklmnopqrstuv", "<redacted>"),
        ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"),
        ("/mnt/models/llama", "/mnt/models/llama"),
    ],
)
def test_engine_fact_values_keep_only_their_credential_free_part(value: str, stored: str) -> None:
    assert safe_value(value) == stored
