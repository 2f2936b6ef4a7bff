"""Model revisions: the manifest pins commits, and a branch name is resolved to the commit it gave, which is what the
service reports and what `download-models` records and prints (a fake hub: no network)."""

import json
from types import SimpleNamespace

import huggingface_hub
import pytest

from service import model_store
from service.config import Settings

from .conftest import ROOT

COMMIT = "0123456789abcdef0123456789abcdef01234567"
MT5 = "csebuetnlp/mT5_multilingual_XLSum"


def test_manifest_pins_every_model_to_a_commit():
    manifest = json.loads((ROOT / "models" / "manifest.json").read_text())
    revisions = {m["id"]: m["revision"] for m in manifest["models"]}
    assert revisions == model_store.pinned_revisions()
    assert all(model_store.is_commit(r) for r in revisions.values()), revisions
    settings = Settings()
    assert {settings.translation_model, settings.summarization_model} <= revisions.keys()


@pytest.mark.parametrize("revision", ["main", "v1.0", "0123456", COMMIT.upper(), COMMIT + "0", f" {COMMIT}"])
def test_only_a_full_commit_hash_counts_as_pinned(revision):
    assert not model_store.is_commit(revision)


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """A hub whose 'main' is COMMIT in every repository, each holding both models' files (and a README, never
    fetched); snapshots land where huggingface_hub puts them."""
    required = {name for names in model_store.REQUIRED_FILES.values() for name in names}
    files = [*required, "pytorch_model.bin", "README.md"]

    class Api:
        def model_info(self, repo_id, revision, files_metadata):
            assert revision in ("main", COMMIT)
            return SimpleNamespace(sha=COMMIT, siblings=[SimpleNamespace(rfilename=f) for f in files])

    def snapshot_download(repo_id, revision, allow_patterns, local_dir, local_files_only):
        commit = COMMIT if revision in ("main", COMMIT) else revision
        path = local_dir or tmp_path / "hub" / "snapshots" / commit
        path.mkdir(parents=True, exist_ok=True)
        for name in files:
            if name in allow_patterns:
                (path / name).write_text("{}")
        return str(path)

    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)


@pytest.mark.parametrize("offline", [False, True])
def test_a_branch_is_reported_as_the_commit_it_resolved_to(fake_hub, tmp_path, offline, caplog):
    with caplog.at_level("WARNING", logger="service.model_store"):
        source = model_store.resolve(MT5, "summarization", tmp_path / "store", {MT5: "main"}, offline)
    assert source.origin == "hub-cache" and source.revision == COMMIT
    assert f"revision 'main' is not pinned (it gave commit {COMMIT}" in caplog.text
    assert "SUMMARIZER_MODEL_REVISIONS" in caplog.text
    caplog.clear()
    pinned = model_store.resolve(MT5, "summarization", tmp_path / "store", {MT5: COMMIT}, offline)
    assert pinned.revision == COMMIT and "not pinned" not in caplog.text


def test_download_models_records_and_prints_the_commit_to_pin(fake_hub, tmp_path, capsys):
    from service.__main__ import download_models

    settings = Settings(models_dir=tmp_path / "store")
    settings.model_revisions = {settings.translation_model: "main", MT5: "main"}  # as an operator trying 'main'
    assert download_models(settings, ctranslate2=False) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "store" / "csebuetnlp--mT5_multilingual_XLSum" / "REVISION").read_text() == COMMIT + "\n"
    assert f"commit {COMMIT}" in out
    assert f"""SUMMARIZER_MODEL_REVISIONS='{{"{MT5}": "{COMMIT}"}}'""" in out
