"""Shared fixtures: where ../shared is, tiny random models (built once per run), settings and app clients."""

import gc
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from service.deploy.local_cluster import free_port  # tests import it from here too

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SHARED_DIR", ROOT.parent / "shared")).resolve()
FIXTURES = SHARED / "fixtures" / "indictrans2"
SEED_TEXT = (ROOT / "seeds" / "seed_article_hi.txt").read_text(encoding="utf-8")


def _default(setting: str):
    from service.config import Settings

    return Settings.model_fields[setting].default


SAMPLE_CHARS = _default("language_sample_chars")  # the service's defaults, for the text functions that take them
MAX_CODE_CHARS = _default("max_language_code_chars")


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
def settings_factory(tiny_models, tmp_path_factory):
    from service.config import Settings

    jobs_db = tmp_path_factory.mktemp("jobs") / "jobs.sqlite3"  # not in the (persistent) test-models folder

    def make(**overrides):
        base = dict(
            translation_model=str(tiny_models / "indictrans2"),
            summarization_model=str(tiny_models / "mt5"),
            translation_max_new_tokens=12,
            models_dir=str(tiny_models / "no-store"),
            offline=True,
            max_wait_ms=2,
            cache="off",  # tests count engine work; the translation memory's own tests turn it on
            jobs_db=str(jobs_db),
            quotas_db=str(tmp_path_factory.mktemp("quotas") / "quotas.sqlite3"),  # each app's own day of charges
        )
        return Settings(**(base | overrides))

    return make


@pytest.fixture(scope="session")
def runtime(settings_factory):
    from service.runtime import build_runtime

    rt = build_runtime(settings_factory(translation_backend="torch"))  # the torch path's own tests use it
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


def service_env(**settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUMMARIZER_")}
    env.update({f"SUMMARIZER_{k.upper()}": str(v) for k, v in settings.items()})
    env["HF_HUB_OFFLINE"] = "1"
    return env


@contextmanager
def running_server(models: Path, workdir: Path, preexec_fn=None, **settings):
    """`python -m service serve` on a free port with the tiny models, ready; stopped with SIGTERM afterwards."""
    import httpx

    port = free_port()
    base = dict(translation_model=models / "indictrans2", summarization_model=models / "mt5",
                translation_max_new_tokens=12, port=port, models_dir=workdir / "store",
                cache="off")  # fmt: skip  # tests time and count engine work; the memory's tests turn it on
    env = service_env(**(base | settings))
    log = (workdir / "server.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve"], cwd=ROOT, env=env, stdout=log, stderr=log, preexec_fn=preexec_fn
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise AssertionError("server did not become ready:\n" + log.read()[-3000:])
            time.sleep(0.2)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


@pytest.fixture(scope="session")
def live_server(tiny_models, tmp_path_factory):
    """One shared server for tests that only send requests (client, bulk CLI, schema fuzzing, the editor page), with
    the translation memory on, as deployed."""
    with running_server(tiny_models, tmp_path_factory.mktemp("live"), cache="on") as (url, _):
        yield url


@pytest.fixture(scope="session")
def keyed_server(tiny_models, tmp_path_factory):
    """Key "k-1" required, and a tight rate limit (burst 2, then one request every 2 s)."""
    with running_server(
        tiny_models, tmp_path_factory.mktemp("keyed"), api_keys='["k-1"]', rate_limit_per_minute=30, rate_limit_burst=2
    ) as (url, _):
        yield url


def cpu_seconds(function, text: str) -> float:
    """CPU time of this thread (a busy neighbour process does not inflate it); the best of a few short runs."""
    best = float("inf")
    gc.disable()  # a collection triggered by the many match objects of a long input is not the pattern's cost
    try:
        for _ in range(3):
            started = time.thread_time()
            function(text)
            best = min(best, time.thread_time() - started)
            if best > 0.2:
                break
    finally:
        gc.enable()
    return best
