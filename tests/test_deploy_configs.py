"""deploy/ray/serve.yaml and deploy/k8s/*.yaml checked without a cluster: Serve's own schema (and every key known:
Serve ignores unknown ones without a word), Kubernetes' schemas (kubernetes-validate, strict) for the pod templates
and core objects, the KubeRay fields used, and the archive job's command line against our own parser. The images
checked without Docker: their layers' order, health checks, entry point and names."""

import json
import os
import re
import shlex
import subprocess
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


# --- the images ------------------------------------------------------------------------------------------------------
DOCKERFILE = ROOT / "Dockerfile"
RAY_DOCKERFILE = ROOT / "deploy" / "ray" / "Dockerfile"
SERVE_COMMAND = ["python", "-m", "service", "serve"]


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, its arguments) in order, continuation lines joined and comment lines left out, as Docker reads
    them."""
    found, pending = [], ""
    for line in dockerfile.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        if pending.strip():
            op, _, args = pending.strip().partition(" ")
            found.append((op.upper(), args.strip()))
        pending = ""
    return found


def image_config(dockerfile: Path) -> dict[str, str]:
    """HEALTHCHECK, ENTRYPOINT, CMD and ARG defaults of the image a Dockerfile builds, with what it inherits from the
    service's image (the Ray image is built FROM it: test_image_names_agree checks the name)."""
    config: dict[str, str] = {}
    for op, args in instructions(dockerfile):
        if op == "FROM" and args.startswith("${BASE}"):
            config = image_config(DOCKERFILE) | {k: v for k, v in config.items() if k.startswith("ARG ")}
        elif op in ("HEALTHCHECK", "ENTRYPOINT", "CMD"):
            config[op] = args
        elif op == "ARG" and "=" in args:
            name, _, default = args.partition("=")
            config[f"ARG {name}"] = default
    return config


def test_a_code_change_reinstalls_no_dependency():
    """Docker reuses every layer above the first changed COPY: the dependencies are installed from pyproject.toml
    alone, above any COPY of the code, and what comes after installs the project without them."""
    steps = instructions(DOCKERFILE)
    code = next(i for i, (op, args) in enumerate(steps) if op == "COPY" and args.split()[:-1] != ["pyproject.toml"])
    installs = [(i, args) for i, (op, args) in enumerate(steps) if op == "RUN" and "pip install" in args]
    assert any(i < code and "pyproject.toml" in args for i, args in installs), "no dependency layer before the code"
    late = [args for i, args in installs if i > code and "--no-deps" not in args]
    assert late == [], f"installs dependencies after the code is copied: {late}"


def test_the_images_pin_torch_as_pyproject_does():
    import tomllib

    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [torch_pin] = [p for p in pins if p.startswith("torch==")]
    torch_installs = re.findall(r"pip install (torch\S*)", DOCKERFILE.read_text())
    assert torch_installs == [torch_pin]


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, RAY_DOCKERFILE], ids=["service", "ray"])
def test_each_images_health_check_probes_what_its_command_serves(dockerfile):
    config = image_config(dockerfile)
    probe = config.get("HEALTHCHECK", "NONE")
    if "/readyz" in probe:
        assert json.loads(config["CMD"]) == SERVE_COMMAND, f"{probe} checks a server that {config['CMD']} never starts"
        port = re.search(r"SUMMARIZER_PORT=(\d+)", DOCKERFILE.read_text())[1]
        assert f":{port}/readyz" in probe
    else:
        assert probe == "NONE", probe
    if dockerfile == DOCKERFILE:
        assert "/readyz" in probe


def test_the_service_image_warns_when_its_model_store_is_not_writable(tmp_path):
    """A host folder mounted on /models that uid 10001 cannot write (made by root, say): a warning naming the fixes
    before the service starts; the command runs either way (a read-only store with its copies made is valid)."""
    config = image_config(DOCKERFILE)
    entry = json.loads(config["ENTRYPOINT"])
    copied = {args.split()[-1]: args.split()[0] for op, args in instructions(DOCKERFILE) if op == "COPY"}
    script = ROOT / copied[entry[-1]]
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    for store, warned in ((tmp_path, False), (blocked / "models", True)):
        env = {"PATH": os.environ["PATH"], "SUMMARIZER_MODELS_DIR": str(store)}
        done = subprocess.run([*entry[:-1], str(script), "echo", "served"], env=env, capture_output=True, text=True,
                              timeout=30)  # fmt: skip
        assert done.returncode == 0 and done.stdout == "served\n"
        assert bool(done.stderr) == warned, done.stderr
    assert "not writable" in done.stderr and "chown" in done.stderr and "--user" in done.stderr
    assert "SUMMARIZER_CACHE_DIR" in done.stderr and "SUMMARIZER_JOBS_DB" in done.stderr
    assert image_config(RAY_DOCKERFILE)["ENTRYPOINT"] == "[]"  # KubeRay mounts the store read-only on purpose


def _docker_commands(text: str) -> list[list[str]]:
    return [shlex.split(c) for c in re.findall(r"docker (?:build|run)\b[^&`\n]*", text)]


_RUN_FLAGS = {"--rm", "-d", "--detach", "-i", "-t", "-it", "--init", "--privileged"}  # docker run options without value


def _run_image(words: list[str]) -> str:
    rest = iter(words[2:])
    for word in rest:
        if not word.startswith("-"):
            return word
        if word not in _RUN_FLAGS and "=" not in word:
            next(rest)  # the option's value
    raise AssertionError(f"no image in {' '.join(words)}")


def _repository_and_tag(reference: str) -> tuple[str, str]:
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):  # a registry host
        reference = rest
    repository, _, tag = reference.partition(":")
    return repository, tag or "latest"


def test_image_names_agree():
    """One name for the service's image and one for the Ray image, in the README, the docs, the Dockerfiles'
    comments, the Ray image's base and the Kubernetes manifests."""
    texts = {p.relative_to(ROOT): p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), DOCKERFILE,
                                                         *(ROOT / "deploy").rglob("Dockerfile"), *K8S.glob("*.yaml")]}
    builds, runs = {}, []
    for where, text in texts.items():
        for words in _docker_commands(text):
            if words[1] == "build":
                builds.setdefault(words[-1].rstrip("/"), set()).add(words[words.index("-t") + 1])
            else:
                runs.append((where, _run_image(words)))
    assert builds.keys() == {".", "deploy/ray"} and all(len(tags) == 1 for tags in builds.values()), builds
    [service_image], [ray_image] = builds["."], builds["deploy/ray"]
    assert image_config(RAY_DOCKERFILE)["ARG BASE"] == service_image
    assert runs and all(image in (service_image, ray_image) for _, image in runs), runs
    ray_repository, ray_tag = _repository_and_tag(ray_image)
    pulled = [container["image"] for _, doc in manifests() if doc["kind"] in KUBERAY
              for _, template in pod_templates(cluster_of(doc)) for container in template["spec"]["containers"]]
    assert pulled
    for image in pulled:
        repository, tag = _repository_and_tag(image)
        assert repository == ray_repository and (tag == ray_tag or tag.endswith(f"-{ray_tag}")), image
