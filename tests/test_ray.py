"""Issue 13 on a real cluster: two Ray nodes on this machine (their own temporary directory and processes, stopped
by id), the service deployed through deploy/ray/serve.yaml and answering from both nodes as the plain server does,
and an archive through Ray Data that is killed midway and resumed, each id once."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.deploy.local_cluster import LocalCluster, free_port, local_serve_config

from .conftest import ROOT, SHARED, service_env

pytestmark = pytest.mark.slow
PASSAGES = [json.loads(line) for line in (SHARED / "corpus" / "hindi_news.jsonl").read_text("utf-8").splitlines()]
KEY = "k-ray-1"


@pytest.fixture(scope="module")
def settings(tiny_models, tmp_path_factory) -> dict:
    return dict(translation_model=tiny_models / "indictrans2", summarization_model=tiny_models / "mt5",
                translation_max_new_tokens=12, models_dir=tmp_path_factory.mktemp("ray-store"), offline="true",
                cache="off", api_keys=json.dumps([KEY]), max_article_chars=2000)  # fmt: skip


@pytest.fixture(scope="module")
def cluster(settings):
    env = {k: v for k, v in service_env(**settings).items() if k.startswith(("SUMMARIZER_", "HF_"))}
    with LocalCluster(nodes=2, cpus_per_node=2, env=env) as started:
        yield started


def bad_requests(passage: str) -> list[tuple[str, dict, bytes]]:
    """(name, headers, body) of mistakes a caller makes; the answer must match the plain server's."""
    keyed = {"X-API-Key": KEY, "Content-Type": "application/json"}
    return [
        ("no key", {"Content-Type": "application/json"}, json.dumps({"text": passage}).encode()),
        ("wrong key", {**keyed, "X-API-Key": "nope"}, json.dumps({"text": passage}).encode()),
        ("over max_article_chars", keyed, json.dumps({"text": "क" * 2001}).encode()),
        ("malformed JSON", keyed, b'{"text": '),
        ("no text", keyed, b"{}"),
    ]


def answers(post, passage: str) -> list[tuple[str, int, str]]:
    out = []
    for name, headers, body in bad_requests(passage):
        response = post("/summarize", headers=headers, content=body)
        out.append((name, response.status_code, response.json()["error"]["code"]))
    return out


def test_serve_two_nodes_answer_like_the_plain_server(cluster, settings, monkeypatch):
    from fastapi.testclient import TestClient

    from service.api import create_app
    from service.config import Settings

    from .conftest import wait_ready

    port = free_port()
    try:
        cluster.deploy(local_serve_config(port, service_env(**settings), replicas=2, replica_cpus=2))
        url = f"http://127.0.0.1:{port}"
        served_by = set()
        with httpx.Client(base_url=url, timeout=120) as http:
            for passage in PASSAGES[:12]:
                response = http.post("/summarize", json={"text": passage["text"], "id": passage["id"]},
                                     headers={"X-API-Key": KEY})
                assert response.status_code == 200, response.text
                body = response.json()
                assert body["id"] == passage["id"], body
                assert isinstance(body["translation"]["en"], str) and isinstance(body["summary"]["hi"], str), body
                served_by.add(response.headers["x-served-by"].split("/")[0])
            assert len(served_by) == 2, f"replicas on both nodes should answer, saw {served_by}"
            over_serve = answers(http.post, PASSAGES[0]["text"])
        for name, value in cluster.env.items():
            if name.startswith("SUMMARIZER_"):
                monkeypatch.setenv(name, value)  # the replicas' settings, as they read them
        with TestClient(create_app(Settings())) as plain:
            wait_ready(plain)
            over_plain = answers(plain.post, PASSAGES[0]["text"])
        assert over_serve == over_plain
        assert {code for _, status, code in over_serve} >= {"missing_api_key", "invalid_api_key"}, over_serve
    finally:
        cluster.serve("shutdown", "-y")


def output_ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text("utf-8").splitlines()] if path.exists() else []


def test_archive_on_ray_killed_midway_then_resumed_each_id_once(cluster, tmp_path):
    archive = tmp_path / "archive.jsonl"
    # 20 passages, one over max_article_chars (its reason goes to the errors file) and one id a second time.
    items = PASSAGES[:20] + [{"id": "too-long", "text": "क" * 2001}, PASSAGES[3]]
    archive.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in items), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "service", "summarize-file", str(archive), "-o", str(out), "--ray",
               cluster.address, "--ray-actors", "2", "--ray-batch-size", "2"]  # fmt: skip
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen(command, cwd=ROOT, env=cluster.env, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 300
    while not output_ids(out) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # polls the output file: the first result line is the state waited for
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    cut_at = len(output_ids(out))
    assert 0 < cut_at < 20, f"the run should be cut midway, it had written {cut_at}:\n{(tmp_path / 'first.log').read_text()[-3000:]}"

    second = subprocess.run(command, cwd=ROOT, env=cluster.env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 1, second.stderr[-3000:]  # the local command's status: some article failed
    assert f"done {20 - cut_at}, failed 1," in second.stdout
    assert sorted(output_ids(out)) == sorted(p["id"] for p in PASSAGES[:20])  # each id exactly once
    errors = [json.loads(line) for line in (tmp_path / "out.errors.jsonl").read_text().splitlines()]
    assert errors and all(e["id"] == "too-long" and e["status"] == 413 and e["code"] == "article_too_long" for e in errors)
