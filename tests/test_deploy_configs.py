"""deploy/ray/serve.yaml and deploy/k8s/*.yaml checked without a cluster: Serve's own schema (and every key known:
Serve ignores unknown ones without a word), Kubernetes' schemas (kubernetes-validate, strict) for the pod templates
and core objects, the KubeRay fields used, and the archive job's command line against our own parser."""

import shlex
import typing
from pathlib import Path

import jsonschema
import kubernetes_validate
import pydantic
import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from service.__main__ import build_parser

ROOT = Path(__file__).resolve().parent.parent
SERVE_YAML = ROOT / "deploy" / "ray" / "serve.yaml"
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33"


def unknown_keys(model: type[pydantic.BaseModel], data: dict, path: str = "") -> list[str]:
    """Keys of ``data`` that ``model`` does not declare, at any depth (a field typed ``Dict | SomeModel``, as
    ``autoscaling_config`` is, is checked against the model: that is where a typo would vanish)."""
    names = {}
    for name, field in model.model_fields.items():
        names[name] = field
        if field.alias:
            names[field.alias] = field
    found = []
    for key, value in data.items():
        if key not in names:
            found.append(f"{path}{key}")
            continue
        inner = _model_in(names[key].annotation)
        if inner is None:
            continue
        for index, item in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(item, dict):
                found += unknown_keys(inner, item, f"{path}{key}{f'[{index}]' if isinstance(value, list) else ''}.")
    return found


def _model_in(annotation):
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def check_serve_config(config: dict) -> None:
    ServeDeploySchema.model_validate(config)
    assert unknown_keys(ServeDeploySchema, config) == []


def test_serve_yaml_is_valid_and_every_key_is_known():
    config = yaml.safe_load(SERVE_YAML.read_text())
    check_serve_config(config)
    deployment = config["applications"][0]["deployments"][0]
    assert deployment["backpressure_config"]["status_code"] == 429  # Serve's overflow answers as ours does
    typo = yaml.safe_load(SERVE_YAML.read_text())
    typo["applications"][0]["deployments"][0]["autoscaling_config"]["target_ongoing_request"] = 8
    ServeDeploySchema.model_validate(typo)  # Serve itself takes it …
    assert unknown_keys(ServeDeploySchema, typo) == [  # … the check does not
        "applications[0].deployments[0].autoscaling_config.target_ongoing_request"
    ]


# The fields of KubeRay's `ray.io/v1` RayService and RayJob these manifests use, from its API reference: enough to
# catch a misplaced or misspelt key (KubeRay's CRDs are not published as a package; the pod templates inside are
# checked against Kubernetes' own schema below).
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_GROUP = {"rayStartParams": _STRING_MAP, "template": {"type": "object"}}
_CLUSTER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["headGroupSpec"],
    "properties": {
        "rayVersion": {"type": "string"},
        "enableInTreeAutoscaling": {"type": "boolean"},
        "autoscalerOptions": {"type": "object", "additionalProperties": False,
                              "properties": {"idleTimeoutSeconds": {"type": "integer"},
                                             "upscalingMode": {"enum": ["Default", "Aggressive", "Conservative"]}}},
        "headGroupSpec": {"type": "object", "additionalProperties": False, "required": ["template"],
                          "properties": _GROUP | {"serviceType": {"type": "string"}}},
        "workerGroupSpecs": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["groupName", "template"],
            "properties": _GROUP | {k: {"type": "integer", "minimum": 0} for k in ("replicas", "minReplicas", "maxReplicas")}
            | {"groupName": {"type": "string"}}}},
    },
}  # fmt: skip
_INTEGERS = {"type": "integer", "minimum": 0}


def _resource(spec_properties: dict, required: list[str]) -> dict:
    spec = {"type": "object", "additionalProperties": False, "required": required, "properties": spec_properties}
    return {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
            "properties": {"apiVersion": {"const": "ray.io/v1"}, "metadata": {"type": "object", "required": ["name"]},
                           "spec": spec}}  # fmt: skip


KUBERAY = {
    "RayService": _resource({
        "serveConfigV2": {"type": "string"},
        "rayClusterConfig": _CLUSTER,
        "upgradeStrategy": {"type": "object", "properties": {"type": {"enum": ["NewCluster", "None"]}}},
    }, ["serveConfigV2", "rayClusterConfig"]),
    "RayJob": _resource({
        "entrypoint": {"type": "string"},
        "runtimeEnvYAML": {"type": "string"},
        "rayClusterSpec": _CLUSTER,
        "submissionMode": {"enum": ["K8sJobMode", "HTTPMode", "InteractiveMode", "SidecarMode"]},
        "shutdownAfterJobFinishes": {"type": "boolean"},
        "backoffLimit": _INTEGERS, "ttlSecondsAfterFinished": _INTEGERS, "activeDeadlineSeconds": _INTEGERS,
    }, ["entrypoint", "rayClusterSpec"]),
}  # fmt: skip


def manifests() -> list[tuple[str, dict]]:
    return [(path.name, doc) for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())]


def pod_templates(cluster: dict) -> list[tuple[str, dict]]:
    groups = [("head", cluster["headGroupSpec"])] + [(g["groupName"], g) for g in cluster.get("workerGroupSpecs", [])]
    return [(name, group["template"]) for name, group in groups]


def cluster_of(doc: dict) -> dict:
    return doc["spec"]["rayClusterConfig" if doc["kind"] == "RayService" else "rayClusterSpec"]


@pytest.mark.parametrize("name,doc", manifests(), ids=lambda v: v if isinstance(v, str) else v.get("kind"))
def test_manifest_validates(name, doc):
    if doc["kind"] not in KUBERAY:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        return
    jsonschema.validate(doc, KUBERAY[doc["kind"]])
    for group, template in pod_templates(cluster_of(doc)):
        wrapped = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": group}, "template": template}
        kubernetes_validate.validate(wrapped, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validation_can_fail():
    [(_, service)] = [(n, d) for n, d in manifests() if d["kind"] == "RayService"]
    template = pod_templates(cluster_of(service))[1][1]
    template["spec"]["containers"][0]["readinessprobe"] = template["spec"]["containers"][0].pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        wrapped = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "gpu"}, "template": template}
        kubernetes_validate.validate(wrapped, KUBERNETES_VERSION, strict=True)
    service["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplica"] = 4
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(service, KUBERAY["RayService"])


def test_rayservice_serves_what_serve_yaml_does():
    [service] = [d for _, d in manifests() if d["kind"] == "RayService"]
    config = yaml.safe_load(service["spec"]["serveConfigV2"])
    check_serve_config(config)
    shipped = yaml.safe_load(SERVE_YAML.read_text())
    # The same deployment options as serve.yaml (one tuning, two places KubeRay and `serve deploy` read it from);
    # settings differ where Kubernetes differs (keys from a secret, the shared memory in Redis).
    assert config["applications"][0]["deployments"] == shipped["applications"][0]["deployments"]
    assert config["applications"][0]["import_path"] == shipped["applications"][0]["import_path"]
    drain_s = config["applications"][0]["deployments"][0]["graceful_shutdown_timeout_s"]
    for group, template in pod_templates(service["spec"]["rayClusterConfig"]):
        assert template["spec"]["terminationGracePeriodSeconds"] > drain_s, group
    gpu = pod_templates(service["spec"]["rayClusterConfig"])[1][1]["spec"]
    assert gpu["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1" and gpu["nodeSelector"]


def test_rayjob_runs_our_archive_command():
    [job] = [d for _, d in manifests() if d["kind"] == "RayJob"]
    words = shlex.split(job["spec"]["entrypoint"])
    assert words[:3] == ["python", "-m", "service"]
    args = build_parser().parse_args(words[3:])  # exits (fails the test) on a flag the command does not have
    assert args.command == "summarize-file" and args.ray == "auto" and args.ray_actor_gpus == 1
    env = yaml.safe_load(job["spec"]["runtimeEnvYAML"])["env_vars"]
    assert all(name.startswith("SUMMARIZER_") for name in env)
