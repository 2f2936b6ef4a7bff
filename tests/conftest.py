"""Shared fixtures: where ../shared is, tiny random models (built once per run), settings and app clients."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SHARED_DIR", ROOT.parent / "shared")).resolve()
FIXTURES = SHARED / "fixtures" / "indictrans2"
SEED_TEXT = (ROOT / "seeds" / "seed_article_hi.txt").read_text(encoding="utf-8")


def pytest_configure(config):
    if not FIXTURES.is_dir():
        raise pytest.UsageError(f"shared fixtures not found at {SHARED}; set SHARED_DIR to the shared/ folder")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """TEST_MODELS_DIR when CI built them already, else built here (a few seconds)."""
    given = os.environ.get("TEST_MODELS_DIR")
    if given and (Path(given) / "indictrans2" / "config.json").is_file():
        return Path(given)
    out = tmp_path_factory.mktemp("models")
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_test_models.py"), str(out), "--shared", str(SHARED)], check=True
    )
    return out


@pytest.fixture(scope="session")
def settings_factory(tiny_models):
    from service.config import Settings

    def make(**overrides):
        base = dict(
            translation_model=str(tiny_models / "indictrans2"),
            summarization_model=str(tiny_models / "mt5"),
            translation_max_new_tokens=12,
            models_dir=str(tiny_models / "no-store"),
            offline=True,
            max_wait_ms=2,
        )
        return Settings(**(base | overrides))

    return make


@pytest.fixture(scope="session")
def runtime(settings_factory):
    from service.runtime import build_runtime

    rt = build_runtime(settings_factory())
    yield rt
    rt.close()


def wait_ready(client, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"not ready after {timeout_s} s: {client.get('/readyz').json()}")


@pytest.fixture(scope="module")
def client(settings_factory):
    from fastapi.testclient import TestClient

    from service.api import create_app

    with TestClient(create_app(settings_factory())) as c:
        wait_ready(c)
        yield c
