"""The real thing: `python -m service serve` under uvicorn on a free port, and its start-up failure message."""

import json
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from .conftest import ROOT, SEED_TEXT, free_port, running_server, service_env


@pytest.fixture(scope="module")
def server(tiny_models, tmp_path_factory):
    """A server of this module's own: its last test stops it with SIGTERM."""
    with running_server(tiny_models, tmp_path_factory.mktemp("server")) as (url, process):
        yield url, process


def test_seed_article_over_real_http(server):
    url, _ = server
    body = json.loads((ROOT / "seeds" / "summarize_request.json").read_text(encoding="utf-8"))
    response = httpx.post(url + "/summarize", json=body, timeout=120)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["summary"]["hi"] and result["summary"]["en"]
    assert len(result["translation"]["paragraphs"]) == len([p for p in SEED_TEXT.split("\n") if p.strip()])
    assert httpx.get(url + "/readyz").status_code == 200
    paths = httpx.get(url + "/openapi.json").json()["paths"]
    assert "/summarize" in paths and "/translate" in paths


def test_errors_over_real_http(server):
    url, _ = server
    assert httpx.post(url + "/summarize", json={"text": "hello"}).json()["error"]["code"] == "unsupported_language"
    assert httpx.post(url + "/summarize", content=b"{", headers={"content-type": "application/json"}).status_code == 400
    assert httpx.post(url + "/summarize", json={"text": "भाजपा ने बैठक की।"}, timeout=60).status_code == 200


def test_load_every_request_answered_memory_bounded(server, tmp_path):
    from scripts.load_test import main as load_test

    url, process = server
    out = tmp_path / "load.json"
    assert load_test(["--url", url, "--clients", "6", "--seconds", "8", "--pid", str(process.pid), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["no_answer"] == 0 and set(result["statuses"]) <= {"200", "429"} and result["statuses"]["200"] > 0
    assert result["rss_mib"]["growth"] < 300


def test_sigterm_drains_in_flight_work_then_exits_0(server):
    url, process = server
    body = {"text": SEED_TEXT, "options": {"summary_languages": ["hi", "en"]}}
    answers = []

    def post():
        answers.append(httpx.post(url + "/summarize", json=body, timeout=120).status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: in_flight(url) >= 5, "the four requests in flight")  # 4 + the scrape itself
    process.send_signal(signal.SIGTERM)
    wait_for(lambda: httpx.get(url + "/readyz", timeout=10).status_code == 503, "/readyz to turn 503")
    ready = httpx.get(url + "/readyz", timeout=10)
    assert ready.json()["error"]["code"] == "shutting_down"
    refused = httpx.post(url + "/summarize", json={"text": "भाजपा ने बैठक की।"}, timeout=10)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "shutting_down"
    for t in threads:
        t.join(120)
    assert answers == [200, 200, 200, 200]
    assert process.wait(60) == 0


def in_flight(url: str) -> float:
    metrics = httpx.get(url + "/metrics", timeout=10).text
    return float(next(line.split()[-1] for line in metrics.splitlines() if line.startswith("http_requests_in_flight ")))


def wait_for(condition, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_missing_models_offline_fail_fast_with_one_message(tmp_path):
    env = service_env(offline="true", models_dir=tmp_path / "models", port=free_port())
    env["HF_HOME"] = str(tmp_path / "hf")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "service", "serve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert time.monotonic() - started < 60
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert "ai4bharat/indictrans2-indic-en-dist-200M" in message
    assert "python -m service download-models" in message and "SUMMARIZER_TRANSLATION_MODEL" in message


def test_corrupt_model_files_stop_the_server_with_one_message(tiny_models, tmp_path):
    import shutil

    broken = tmp_path / "indictrans2"
    shutil.copytree(tiny_models / "indictrans2", broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file" * 100)
    env = service_env(offline="true", translation_model=broken, summarization_model=tiny_models / "mt5",
                      port=free_port(), models_dir=tmp_path / "store")  # fmt: skip
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "service", "serve"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert time.monotonic() - started < 90
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: models failed to load:")


def test_a_removed_setting_stops_serve_and_names_its_replacement(tmp_path):
    env = service_env(offline="true", models_dir=tmp_path / "models", port=free_port(), cpu_quantize="int8")
    done = subprocess.run(
        [sys.executable, "-m", "service", "serve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert "SUMMARIZER_CPU_QUANTIZE was removed" in message and "SUMMARIZER_CT2_COMPUTE_TYPE=int8" in message
