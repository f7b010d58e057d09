"""What of a cluster object may be stored (pure): env values never, secret-looking arg values redacted."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

REDACTED = "<redacted>"

# Env vars whose values are engine settings (TGI reads every flag from env, Triton/KServe name the model there).
# Only these values are ever read, and only to derive typed engine facts; no env value is stored.
ENGINE_ENV: frozenset[str] = frozenset(
    {
        "MODEL_ID",
        "MODEL",
        "MODEL_NAME",
        "MODEL_PATH",
        "SERVED_MODEL_NAME",
        "NUM_SHARD",
        "TP_SIZE",
        "TENSOR_PARALLEL_SIZE",
        "PIPELINE_PARALLEL_SIZE",
        "MAX_TOTAL_TOKENS",
        "MAX_INPUT_TOKENS",
        "MAX_INPUT_LENGTH",
        "MAX_MODEL_LEN",
        "MAX_BATCH_PREFILL_TOKENS",
        "MAX_BATCH_TOTAL_TOKENS",
        "MAX_BATCH_SIZE",
        "MAX_CONCURRENT_REQUESTS",
        "CUDA_MEMORY_FRACTION",
        "GPU_MEMORY_UTILIZATION",
        "QUANTIZE",
        "QUANTIZATION",
        "DTYPE",
        "KV_CACHE_DTYPE",
        "PREFIX_CACHING",
    }
)

# Words that make a flag's value a credential. Plural "tokens" is a count (--max-num-batched-tokens) and stays.
_SECRET_WORDS = frozenset({"token", "password", "passwd", "pwd", "secret", "apikey", "credential", "credentials"})
_SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("secret", "key"), ("private", "key"), ("key", "file")})
_SECRET_COMPOUNDS = ("keyfile", "apikey", "authtoken", "accesstoken", "hftoken")
# Values that are credentials whatever flag carries them: HF, OpenAI-style, GitHub, AWS keys, JWTs, bearer headers.
_SECRET_VALUE = re.compile(
    r"^(hf_[A-Za-z0-9]{16,}|sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|eyJ[\w-]{10,}\.[\w-]+\.[\w-]+)$"
    r"|^(?i:bearer|basic)\s+\S+$"
)
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def is_secret_flag(flag: str) -> bool:
    """`--api-key`, `--hf-token`, `--ssl-keyfile`, `--db_password`: flags whose value must not be stored."""
    name = flag.lstrip("-").lower().replace("_", "-")
    words = [w for w in name.split("-") if w]
    if any(w in _SECRET_WORDS for w in words):
        return True
    if any(pair in _SECRET_PAIRS for pair in zip(words, words[1:], strict=False)):
        return True
    return any(compound in name.replace("-", "") for compound in _SECRET_COMPOUNDS)


def is_secret_value(value: str) -> bool:
    return bool(_SECRET_VALUE.match(value.strip()))


_URL_SECRETS = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*://)(?:[^/@\s]*@)?(?P<rest>[^?#\s]*)[?#]?.*$", re.IGNORECASE)


def safe_value(value: str) -> str:
    """A parsed engine fact fit to store: credential-shaped values redacted, URL userinfo and query (presigned
    signatures, tokens) dropped — `s3://bucket/llama?X-Amz-Signature=…` keeps `s3://bucket/llama`."""
    if is_secret_value(value):
        return REDACTED
    match = _URL_SECRETS.match(value.strip())
    return f"{match.group('scheme')}{match.group('rest')}" if match else value


def _redact_script(script: str) -> str:
    """Redact inside one `sh -c` string; unparsable scripts are kept only when nothing in them looks secret."""
    try:
        tokens = shlex.split(script)
    except ValueError:
        return REDACTED if re.search(r"(?i)token|password|secret|api.?key", script) else script
    redacted = redact_args(tokens)
    return script if redacted == tokens else shlex.join(redacted)


def redact_args(argv: Sequence[str]) -> list[str]:
    """Same argv with the value of every secret-looking flag (`--k=v` and `--k v`) and secret-looking value replaced."""
    out: list[str] = []
    redact_next = False
    for token in argv:
        text = str(token)
        if redact_next:
            redact_next = False
            if not text.startswith("-"):
                out.append(REDACTED)
                continue
        if text.startswith("-") and not text.startswith("---"):
            flag, eq, value = text.partition("=")
            if is_secret_flag(flag):
                if eq:
                    out.append(f"{flag}={REDACTED}")
                else:
                    out.append(text)
                    redact_next = True
                continue
            if eq and is_secret_value(value):
                out.append(f"{flag}={REDACTED}")
                continue
            out.append(text)
            continue
        if is_secret_value(text):
            out.append(REDACTED)
        elif " " in text and any(c in text for c in "-=") and len(text) > 2:
            # `sh -c "vllm serve … --api-key X"`: the script is one argv element.
            out.append(_redact_script(text))
        else:
            out.append(text)
    return out


def env_names(env: Iterable[Mapping[str, Any]] | None) -> tuple[str, ...]:
    return tuple(str(e.get("name", "")) for e in env or () if isinstance(e, Mapping) and e.get("name"))


def _scrub_env(env: list[Any], keep_env: frozenset[str]) -> list[Any]:
    scrubbed = []
    for entry in env:
        if not isinstance(entry, Mapping):
            continue
        name = str(entry.get("name", ""))
        clean: dict[str, Any] = {"name": name}
        if "value" in entry and name in keep_env:
            clean["value"] = entry["value"]
        if isinstance(entry.get("valueFrom"), Mapping):
            # References (secretKeyRef name/key, fieldRef path) are not values; keep them, they explain the pod.
            clean["valueFrom"] = entry["valueFrom"]
        scrubbed.append(clean)
    return scrubbed


def scrub_object(obj: Any, *, keep_env: frozenset[str] = frozenset()) -> Any:
    """Deep copy of a Kubernetes object fit for storage.

    Every `env` list anywhere (pods, templates, LWS, KServe predictors) keeps names and references but loses
    values (except names in `keep_env`); every `command`/`args` list gets `redact_args`; the last-applied
    annotation (a full copy of the spec, env values included) and managedFields are dropped.
    """
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            if key == "managedFields":
                continue
            if key == "env" and isinstance(value, list):
                out[key] = _scrub_env(value, keep_env)
            elif key in ("command", "args") and isinstance(value, list) and all(isinstance(v, str) for v in value):
                out[key] = redact_args(value)
            elif key == "annotations" and isinstance(value, Mapping):
                out[key] = {k: (REDACTED if k == _LAST_APPLIED else v) for k, v in value.items()}
            else:
                out[key] = scrub_object(value, keep_env=keep_env)
        return out
    if isinstance(obj, list):
        return [scrub_object(item, keep_env=keep_env) for item in obj]
    return obj
