"""Container and deploy files: Dockerfile, Helm values for the official Dagster chart, RBAC and the scan CronJob.

What is validated, and how (no Docker, Helm or cluster is needed):
* Dockerfile: parsed instruction by instruction (exact base tag, non-root USER before CMD, offline pinned installs,
  the code-server module and port match workspace.yaml and the Helm values).
* deploy/helm/values.yaml: JSON-Schema-validated (jsonschema, draft 7) against tests/data/helm/, a project-authored
  subset of the chart's values schema (README there); every Kubernetes-typed field in it (env, volumes, mounts,
  security contexts, resources, run pod/job spec config) is checked with the official kubernetes client models.
* Every Kubernetes object in deploy/ is deserialized into its kubernetes client model, and every key is checked against
  the model's attribute map (the client ignores unknown keys on its own, so a misspelt field would pass silently).
* The configs shipped in ConfigMaps load with the real settings loader, every env var they name is provided, and the
  CronJob's command parses with the real `inferops` CLI (parsed only, never run).
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
import yaml
from kubernetes import client

from inferops_pipeline.cli import app
from inferops_pipeline.settings import Settings, settings_from_dict

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VALUES = DEPLOY / "helm" / "values.yaml"
SCHEMAS = ROOT / "tests" / "data" / "helm"
# Not Kubernetes objects: Helm values and a Dagster instance file.
NOT_K8S = {VALUES, DEPLOY / "dagster.postgres.yaml"}
MODELS = {
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "V1ClusterRole",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "V1ClusterRoleBinding",
    ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
    ("batch/v1", "CronJob"): "V1CronJob",
    ("batch/v1", "Job"): "V1Job",
}


# --- helpers -----------------------------------------------------------------------------------------------------


def _unknown_keys(data: Any, type_name: str, path: str = "") -> list[str]:
    """Keys of `data` that the kubernetes model `type_name` (recursively) does not define."""
    if data is None:
        return []
    list_match = re.fullmatch(r"[lL]ist\[(.+)\]", type_name)
    if list_match:
        return [e for i, item in enumerate(data) for e in _unknown_keys(item, list_match.group(1), f"{path}[{i}]")]
    dict_match = re.fullmatch(r"(?:dict\(str, (.+)\)|Dict\[str, (.+)\])", type_name)
    if dict_match:
        value_type = dict_match.group(1) or dict_match.group(2)
        return [e for k, v in data.items() for e in _unknown_keys(v, value_type, f"{path}.{k}")]
    model = getattr(client, type_name, None)
    if model is None or not isinstance(data, dict):
        return []  # a primitive, quantity, int-or-string or free-form object
    by_json = {json_key: attr for attr, json_key in model.attribute_map.items()}
    errors = []
    for key, value in data.items():
        if key not in by_json:
            errors.append(f"{path}.{key} (not a field of {type_name})")
            continue
        errors += _unknown_keys(value, model.openapi_types[by_json[key]], f"{path}.{key}")
    return errors


def assert_k8s(data: Any, type_name: str, where: str) -> Any:
    """Strict check: no unknown keys, and the client's model accepts the types and required fields."""
    assert not _unknown_keys(data, type_name), f"{where}: {_unknown_keys(data, type_name)}"
    list_match = re.fullmatch(r"[lL]ist\[(.+)\]", type_name)
    if list_match:
        return [assert_k8s(item, list_match.group(1), where) for item in data]
    return client.ApiClient().deserialize(json.dumps(data), type_name, "application/json")


def _snake_to_camel(data: Any, type_name: str) -> Any:
    """dagster-k8s config (podSpecConfig, …) uses the models' snake_case attribute names; map them to JSON keys."""
    list_match = re.fullmatch(r"[lL]ist\[(.+)\]", type_name)
    if list_match and isinstance(data, list):
        return [_snake_to_camel(item, list_match.group(1)) for item in data]
    model = getattr(client, type_name, None)
    if model is None or not isinstance(data, dict):
        return data
    out = {}
    for key, value in data.items():
        assert key in model.attribute_map, f"{key} is not a field of {type_name}"
        out[model.attribute_map[key]] = _snake_to_camel(value, model.openapi_types[key])
    return out


def deploy_documents() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted(DEPLOY.rglob("*.yaml")):
        if path in NOT_K8S:
            continue
        docs += [(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def objects(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in deploy_documents() if doc["kind"] == kind]


def config_from_configmap(name: str) -> tuple[dict[str, Any], Settings]:
    (configmap,) = [c for c in objects("ConfigMap") if c["metadata"]["name"] == name]
    raw = yaml.safe_load(configmap["data"]["inferops.yaml"])
    return configmap, settings_from_dict(raw, source=f"ConfigMap {name}")


def env_names_read(settings: Settings) -> set[str]:
    """Every environment variable the code reads because this config names it (defs/resources.py)."""
    names = set()
    for cluster in settings.clusters:
        prom = cluster.prometheus
        names |= {n for n in (prom.headers_env, prom.bearer_token_env, prom.basic_auth_env) if n}
    if settings.notifications.webhook_env:
        names.add(settings.notifications.webhook_env)
    refresh = settings.pricing.refresh
    if refresh.enabled and "gcp" in refresh.clouds:
        names.add(refresh.gcp_api_key_env)
    return names


def mounted_dir(path: Path, mounts: list[dict[str, Any]]) -> dict[str, Any]:
    hits = [m for m in mounts if path.is_relative_to(m["mountPath"])]
    assert hits, f"{path} is not on a mounted volume ({[m['mountPath'] for m in mounts]})"
    return max(hits, key=lambda m: len(m["mountPath"]))


def volume(name: str, volumes: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [v for v in volumes if v["name"] == name]
    return found


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def workspace_module() -> str:
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    (entry,) = workspace["load_from"]
    return str(entry["python_module"]["module_name"])


# --- Dockerfile --------------------------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    lines, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction, args in dockerfile():
        if instruction == "FROM":
            result.append([])
        if result:
            result[-1].append((instruction, args))
    return result


def exec_form(args: str) -> list[str]:
    parsed = json.loads(args)
    assert isinstance(parsed, list), f"use the exec form: {args}"
    return [str(a) for a in parsed]


def test_base_images_are_pinned_to_an_exact_tag() -> None:
    bases = [args.split()[0] for instruction, args in dockerfile() if instruction == "FROM"]
    assert len(bases) >= 2, "multi-stage: a builder and a runtime stage"
    for base in bases:
        assert "latest" not in base
        # name:MAJOR.MINOR.PATCH-variant, optionally @sha256:digest — never a floating `3.11-slim`.
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    assert len(set(bases)) == 1, "builder and runtime on the same base"


def test_runtime_runs_as_non_root_and_installs_only_the_pinned_wheels() -> None:
    runtime = stages()[-1]
    instructions = [i for i, _ in runtime]
    users = [args for i, args in runtime if i == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}, users
    assert int(users[-1].split(":")[0]) >= 10000
    last_user = max(n for n, (i, _) in enumerate(runtime) if i == "USER")
    assert instructions.index("CMD") > last_user
    assert "ENTRYPOINT" not in instructions[:last_user]
    for _, args in (step for stage in stages() for step in stage if step[0] == "RUN"):
        for command in re.findall(r"pip (install|wheel)([^&]*)", args):
            verb, rest = command
            tokens = shlex.split(rest)
            assert "-e" not in tokens and "--editable" not in tokens
            assert not any("[" in t for t in tokens), f"no extras (dev/test) in the image: {rest}"
            if verb == "install":
                assert "--no-index" in tokens, f"runtime installs only the wheels built in the builder: {rest}"
            else:
                requirements = [t for t in tokens if not t.startswith("-") and t != "/wheels"]
                assert "." in requirements, "the project itself, with its pins from pyproject.toml"
                assert all(t == "." or "==" in t for t in requirements), f"unpinned: {requirements}"


def test_dagster_k8s_is_the_pinned_dagster_family_release() -> None:
    pins = dict(re.findall(r"^(dagster[\w-]*)==([\d.]+)$", "\n".join(pyproject()["project"]["dependencies"]), re.M))
    (k8s_version,) = re.findall(r"ARG DAGSTER_K8S_VERSION=([\d.]+)", (ROOT / "Dockerfile").read_text())
    # dagster-k8s is versioned with the integration libraries (0.29.x alongside dagster 1.13.x).
    assert k8s_version == pins["dagster-postgres"]


def test_code_server_command_matches_workspace_and_helm_values() -> None:
    runtime = stages()[-1]
    cmd = exec_form(next(args for i, args in runtime if i == "CMD"))
    assert cmd[:3] == ["dagster", "code-server", "start"]
    assert cmd[cmd.index("-m") + 1] == workspace_module()
    assert cmd[cmd.index("-h") + 1] == "0.0.0.0"
    port = int(cmd[cmd.index("-p") + 1])
    assert [args for i, args in runtime if i == "EXPOSE"] == [str(port)]
    env = " ".join(args for i, args in runtime if i == "ENV")
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in env
    assert any(i == "HEALTHCHECK" and f'"-p", "{port}"' in args for i, args in runtime)
    (deployment,) = helm_values()["dagster-user-deployments"]["deployments"]
    assert deployment["port"] == port
    args = deployment["codeServerArgs"]
    assert args[args.index("-m") + 1] == workspace_module()


def test_dockerignore_keeps_the_context_to_the_package() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"
    copied = {args.split()[0] for stage in stages() for i, args in stage if i == "COPY"}
    for source in copied:
        assert f"!{source.rstrip('/')}" in lines or f"!{source.rstrip('/')}/" in lines, source


# --- Helm values -------------------------------------------------------------------------------------------------


def helm_values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


def test_helm_values_match_the_chart_values_schema() -> None:
    schema = json.loads((SCHEMAS / "dagster-values.subset.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(helm_values()), key=lambda e: list(e.path))
    assert not errors, [f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors]


def test_helm_schema_catches_a_misspelt_key() -> None:
    schema = json.loads((SCHEMAS / "dagster-values.subset.schema.json").read_text())
    values = helm_values()
    values["runLauncher"]["config"]["k8sRunLauncher"]["envVar"] = []
    values["dagsterWebserver"]["enableReadonly"] = True
    paths = {".".join(map(str, e.path)) for e in jsonschema.Draft7Validator(schema).iter_errors(values)}
    assert paths == {"runLauncher.config.k8sRunLauncher", "dagsterWebserver"}


def test_helm_kubernetes_fields_are_valid_kubernetes_objects() -> None:
    values = helm_values()
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    for key, type_name, sources in [
        ("env", "list[V1EnvVar]", [deployment]),
        ("volumes", "list[V1Volume]", [deployment, launcher]),
        ("volumeMounts", "list[V1VolumeMount]", [deployment, launcher]),
        ("podSecurityContext", "V1PodSecurityContext", [deployment, values["dagsterWebserver"]]),
        ("securityContext", "V1SecurityContext", [deployment, launcher]),
        ("resources", "V1ResourceRequirements", [deployment, launcher]),
    ]:
        for source in sources:
            assert_k8s(source[key], type_name, key)
    run_config = launcher["runK8sConfig"]
    # Partial specs that dagster-k8s merges into the run Job it builds: add what it supplies (containers, template).
    pod_spec = _snake_to_camel(run_config["podSpecConfig"], "V1PodSpec")
    assert_k8s({**pod_spec, "containers": [{"name": "run"}]}, "V1PodSpec", "podSpecConfig")
    job_spec = _snake_to_camel(run_config["jobSpecConfig"], "V1JobSpec")
    assert_k8s({**job_spec, "template": {"spec": {"containers": [{"name": "run"}]}}}, "V1JobSpec", "jobSpecConfig")
    assert pod_spec["securityContext"]["runAsNonRoot"] is True
    assert deployment["podSecurityContext"]["runAsNonRoot"] is True
    assert deployment["podSecurityContext"]["runAsUser"] == 10001
    mounts = {m["name"] for m in deployment["volumeMounts"]}
    assert mounts == {v["name"] for v in deployment["volumes"]}


def test_helm_deployment_choices() -> None:
    values = helm_values()
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["dagsterDaemon"]["enabled"] is True  # runs the nightly schedule and the recommendation sensor
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert values["dagsterWebserver"]["enableReadOnly"] is True
    assert values["concurrency"]["pools"]["defaultLimit"] == 1  # the `warehouse` pool (DuckDB single writer)
    pg = values["postgresql"]
    assert pg["enabled"] is False and "postgresqlPassword" not in pg
    assert values["generatePostgresqlPasswordSecret"] is False and values["global"]["postgresqlSecretName"]
    assert pg["postgresqlScheme"] == "postgresql+psycopg2"  # DESIGN §6
    user_deployments = values["dagster-user-deployments"]
    assert user_deployments["deployments"][0]["includeConfigInLaunchedRuns"]["enabled"] is True
    # Runs read the cluster as the read-only scanner of deploy/rbac/scanner.yaml.
    scanners = [sa["metadata"]["name"] for sa in objects("ServiceAccount") if "scanner" in sa["metadata"]["name"]]
    assert user_deployments["serviceAccount"] == {"create": False, "name": scanners[0]}


def test_helm_env_provides_every_variable_the_config_names() -> None:
    (deployment,) = helm_values()["dagster-user-deployments"]["deployments"]
    env = {e["name"]: e for e in deployment["env"]}
    mounts, volumes = deployment["volumeMounts"], deployment["volumes"]
    # INFEROPS_CONFIG: the inferops.yaml key of the ConfigMap mounted at its directory.
    config_path = Path(env["INFEROPS_CONFIG"]["value"])
    mount = mounted_dir(config_path, mounts)
    configmap_name = volume(mount["name"], volumes)["configMap"]["name"]
    configmap, settings = config_from_configmap(configmap_name)
    assert config_path.name in configmap["data"]
    for name in env_names_read(settings):
        assert name in env, f"{name} (named in inferops.yaml) is not set in the user deployment's env"
        # Secrets come from Secrets, never from values; a required credential must not be optional.
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] and ref["key"] and "value" not in env[name]
        if name != settings.notifications.webhook_env:
            assert not ref.get("optional", False), name
    for cluster in settings.clusters:
        assert cluster.kubernetes.in_cluster, "the scanner reads with the pod's read-only ServiceAccount"
        assert cluster.remediator is not None and cluster.remediator.kubeconfig is not None
        secret_mount = mounted_dir(cluster.remediator.kubeconfig, mounts)
        assert "secret" in volume(secret_mount["name"], volumes)
        assert secret_mount.get("readOnly") is True
    warehouse_mount = mounted_dir(settings.warehouse, mounts)
    assert "persistentVolumeClaim" in volume(warehouse_mount["name"], volumes)
    assert not warehouse_mount.get("readOnly")
    # Each cluster's ingest pod writes staging and the loader reads it: the same shared volume as the warehouse.
    assert mounted_dir(settings.staging_for(settings.warehouse), mounts)["name"] == warehouse_mount["name"]


def test_images_and_versions_line_up() -> None:
    (deployment,) = helm_values()["dagster-user-deployments"]["deployments"]
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    (cronjob,) = objects("CronJob")
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == image
    assert deployment["image"]["tag"] == pyproject()["project"]["version"]
    assert "latest" not in image


# --- Kubernetes objects in deploy/ -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "doc"),
    deploy_documents(),
    ids=[f"{p.relative_to(DEPLOY)}:{d['kind']}/{d['metadata']['name']}" for p, d in deploy_documents()],
)
def test_every_deploy_object_is_a_valid_kubernetes_object(path: Path, doc: dict[str, Any]) -> None:
    model = MODELS.get((doc["apiVersion"], doc["kind"]))
    assert model, f"{path}: add {doc['apiVersion']} {doc['kind']} to MODELS"
    obj = assert_k8s(doc, model, f"{path}:{doc['kind']}")
    assert obj.metadata.name


def test_cronjob_is_a_read_only_namespaced_scanner() -> None:
    (cronjob,) = objects("CronJob")
    assert cronjob["metadata"]["namespace"]
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (scanner,) = [sa for sa in objects("ServiceAccount") if sa["metadata"]["name"] == pod["serviceAccountName"]]
    assert scanner["metadata"]["namespace"] == cronjob["metadata"]["namespace"]
    (binding,) = [b for b in objects("ClusterRoleBinding") if b["roleRef"]["name"] == "inferops-scanner"]
    assert {"kind": "ServiceAccount", "name": "inferops-scanner", "namespace": "inferops"} in binding["subjects"]
    (role,) = [r for r in objects("ClusterRole") if r["metadata"]["name"] == binding["roleRef"]["name"]]
    assert {verb for rule in role["rules"] for verb in rule["verbs"]} <= {"get", "list"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"


def test_cronjob_command_parses_with_the_real_cli_and_its_config_loads() -> None:
    (cronjob,) = objects("CronJob")
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    command = container["command"]
    assert command[:2] == ["inferops", "assess"]
    group = typer.main.get_command(app)
    assess = group.get_command(group.make_context("inferops", ["assess", "--help"], resilient_parsing=True), "assess")
    assert assess is not None
    ctx = assess.make_context("assess", list(command[2:]))  # parses (and rejects unknown options); runs nothing
    params = ctx.params
    assert params["output"] in {"table", "json", "csv", "markdown"}
    assert params["demo"] is False
    mounts, volumes = container["volumeMounts"], pod["volumes"]
    # --out on a writable volume (the root filesystem is read-only).
    out_mount = mounted_dir(Path(params["out"]), mounts)
    assert not out_mount.get("readOnly") and "persistentVolumeClaim" in volume(out_mount["name"], volumes)
    # --config: a ConfigMap key, whose config loads with the real settings model.
    config_mount = mounted_dir(Path(params["config"]), mounts)
    configmap_name = volume(config_mount["name"], volumes)["configMap"]["name"]
    configmap, settings = config_from_configmap(configmap_name)
    assert Path(params["config"]).name in configmap["data"]
    assert all(c.kubernetes.in_cluster and c.remediator is None for c in settings.clusters)
    assert all(c.prometheus.url for c in settings.clusters)
    for written in (settings.warehouse, settings.staging_for(settings.warehouse)):
        assert not mounted_dir(written, mounts).get("readOnly"), f"{written} is not writable"
    assert not mounted_dir(settings.warehouse, mounts).get("readOnly")
    assert mounted_dir(Path("/tmp/x"), mounts)["mountPath"] == "/tmp"
    env = {e["name"] for e in container.get("env", [])}
    assert env_names_read(settings) <= env
