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

    code = "import sys, service.api, service.client, service.bulk, service.text.splitting, service.text.checks; " \
           "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
