"""Where model files come from: a local directory, the project's ``models/`` store, or the Hugging Face hub cache.

Only weights, configs and tokenizer files are ever fetched (``ALLOWED_FILES``); the IndicTrans2 repos' Python files
are never downloaded, so nothing from the hub can be executed.
"""

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelFilesMissing

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
REQUIRED_FILES = {
    "translation": ("config.json", "model.SRC", "model.TGT", "dict.SRC.json", "dict.TGT.json"),
    "summarization": ("config.json", "spiece.model"),
}
OPTIONAL_FILES = ("generation_config.json", "tokenizer_config.json", "special_tokens_map.json")
# The manifest is models/manifest.json of the source tree (or of the working folder, as in the Docker image).
MANIFESTS = (Path(__file__).resolve().parent.parent / "models" / "manifest.json", Path("models") / "manifest.json")
REVISION_FILE = "REVISION"
COMMIT = re.compile(r"[0-9a-f]{40}")  # a full commit hash; anything else (a branch, a tag) can move
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSource:
    spec: str  # what the settings said: a hub id or a path
    path: Path  # the local directory holding the files
    revision: str  # the commit hash the files came from, or "local"
    origin: str  # "local" | "store" | "hub-cache"


def weights_identity(source: ModelSource) -> dict:
    """What names a model's weights: hub id (or resolved path) and revision, and the weights file's size and
    modification time, so a model edited in place (a local directory, an unpinned "main") is a different one."""
    weights = next(source.path / name for name in WEIGHT_FILES if (source.path / name).is_file())
    stat = weights.stat()
    origin = str(source.path.resolve()) if source.origin == "local" else source.spec  # a path however it was written
    return {"source": origin, "revision": source.revision, "weights": weights.name, "weights_bytes": stat.st_size,
            "weights_mtime_ns": stat.st_mtime_ns}  # fmt: skip


def pinned_revisions() -> dict[str, str]:
    """hub id → revision, from models/manifest.json (settings' model_revisions override it)."""
    for manifest in MANIFESTS:
        if manifest.is_file():
            return {m["id"]: m["revision"] for m in json.loads(manifest.read_text())["models"]}
    return {}


def is_commit(revision: str) -> bool:
    return COMMIT.fullmatch(revision) is not None


def pin_hint(hub_id: str, revision: str, commit: str) -> str:
    """What to do about a revision that is a branch or tag: the commit it gave today, and where to pin it."""
    return (f"{hub_id}: revision '{revision}' is not pinned (it gave commit {commit} now); pin it with "
            f"SUMMARIZER_MODEL_REVISIONS='{{\"{hub_id}\": \"{commit}\"}}' or in models/manifest.json")


def store_dir(models_dir: Path, hub_id: str) -> Path:
    return Path(models_dir) / hub_id.replace("/", "--")


def missing_files(directory: Path, kind: str) -> list[str]:
    missing = [name for name in REQUIRED_FILES[kind] if not (directory / name).is_file()]
    if not any((directory / name).is_file() for name in WEIGHT_FILES):
        missing.append(" or ".join(WEIGHT_FILES))
    return missing


SETTING = {"translation": "SUMMARIZER_TRANSLATION_MODEL", "summarization": "SUMMARIZER_SUMMARIZATION_MODEL"}
NEXT_STEPS = (
    "Fetch the default models once with `python -m service download-models` where the hub is reachable (it writes "
    "./models/, which can be copied to machines without it), or point SUMMARIZER_TRANSLATION_MODEL and "
    "SUMMARIZER_SUMMARIZATION_MODEL at local directories holding the files (with SUMMARIZER_OFFLINE=true); for a "
    "try-out without the real weights, `python scripts/make_test_models.py DIR` builds small random ones."
)


def _missing_message(spec: str, kind: str, missing: list[str], where: str) -> str:
    return f"the {kind} model '{spec}' ({SETTING[kind]}) is missing {', '.join(missing)} in {where}"


def resolve(spec: str, kind: str, models_dir: Path, revisions: dict[str, str], offline: bool) -> ModelSource:
    """Find the files of one model, downloading them into the hub cache only when allowed."""
    local = Path(spec).expanduser()
    if local.is_dir():
        if missing := missing_files(local, kind):
            raise ModelFilesMissing(_missing_message(spec, kind, missing, str(local)))
        return ModelSource(spec, local.resolve(), _recorded_revision(local), "local")
    stored = store_dir(models_dir, spec)
    if stored.is_dir() and not missing_files(stored, kind):
        return ModelSource(spec, stored.resolve(), _recorded_revision(stored), "store")
    revision = revisions.get(spec) or pinned_revisions().get(spec, "main")
    try:
        path, commit = download(spec, kind, revision, local_dir=None, local_files_only=offline)
    except Exception as exc:  # hub unreachable, offline cache miss, unknown repo
        where = f"{stored} and the hub cache (offline)" if offline else f"{stored}, and the hub failed ({type(exc).__name__})"
        raise ModelFilesMissing(_missing_message(spec, kind, missing_files(stored, kind), where)) from exc
    if commit != revision:
        log.warning(pin_hint(spec, revision, commit))
    return ModelSource(spec, path, commit, "hub-cache")


def _recorded_revision(directory: Path) -> str:
    marker = directory / REVISION_FILE
    return marker.read_text().strip() if marker.is_file() else "local"


def download(hub_id: str, kind: str, revision: str, local_dir: Path | None,
             local_files_only: bool = False) -> tuple[Path, str]:  # fmt: skip
    """Fetch weights, configs and tokenizer files (never code) of one model at a revision: (where, the commit a
    branch or tag resolved to). A download into ``local_dir`` records the commit in its REVISION file."""
    from huggingface_hub import HfApi, snapshot_download

    patterns = list(REQUIRED_FILES[kind]) + list(OPTIONAL_FILES)
    if local_files_only:
        patterns += list(WEIGHT_FILES)
        commit = revision
    else:
        info = HfApi().model_info(hub_id, revision=revision, files_metadata=False)
        files = {s.rfilename for s in info.siblings or []}
        patterns.append(next((w for w in WEIGHT_FILES if w in files), WEIGHT_FILES[-1]))
        commit = info.sha or revision
    path = Path(
        snapshot_download(
            hub_id,
            revision=commit,
            allow_patterns=patterns,
            local_dir=local_dir,
            local_files_only=local_files_only,
        )
    )
    if local_dir is None and not is_commit(commit):
        commit = path.name  # offline, a branch: the hub cache keeps each snapshot under its commit (snapshots/<commit>)
    if missing := missing_files(path, kind):
        raise FileNotFoundError(f"{hub_id}@{commit}: missing {', '.join(missing)}")
    if local_dir is not None:
        (path / REVISION_FILE).write_text(commit + "\n")
    return path, commit
