"""Issue 13 on a real cluster: two Ray nodes on this machine (their own temporary directory and processes, stopped
by id, also when ``local_cluster up`` is interrupted while starting), the service deployed through
deploy/ray/serve.yaml and answering from both nodes as the plain server does, and an archive through Ray Data: its
bad lines reported as the local command reports them, killed midway and resumed, each id once, nothing started
when nothing is left."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.api.schemas import ArticleOut
from service.deploy.local_cluster import LocalCluster, free_port, local_serve_config

from .conftest import ROOT, SHARED, service_env
from .test_bulk_archive import GOOD_IDS, MISTAKES, REFUSED, archive, errors_of, expected_errors

pytestmark = pytest.mark.slow
PASSAGES = [json.loads(line) for line in (SHARED / "corpus" / "hindi_news.jsonl").read_text("utf-8").splitlines()]
KEY = "k-ray-1"


def _command_line(process) -> str:
    import psutil

    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # gone, or not ours to read
        return ""


def _alive(process) -> bool:
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_local_cluster_up_interrupted_while_starting_leaves_nothing_running(signum):
    """First in this file: no other cluster runs beside it."""
    import psutil

    up = subprocess.Popen([sys.executable, "-m", "service.deploy.local_cluster", "up", "--nodes", "2"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True)  # fmt: skip
    command = psutil.Process(up.pid)
    started: dict[int, psutil.Process] = {}
    root = None
    try:
        deadline = time.monotonic() + 300  # a busy machine
        while root is None and up.poll() is None and time.monotonic() < deadline:
            started |= {p.pid: p for p in command.children(recursive=True)}
            lines = [_command_line(p) for p in started.values()]
            if any("raylet" in line for line in lines):  # the head node runs; the second one is not up yet
                [temp_dir] = {a for line in lines for a in line.split() if a.startswith("--temp-dir=")}
                root = str(Path(temp_dir.removeprefix("--temp-dir=")).parent)
            time.sleep(0.05)
        assert root, f"the head node did not start: {up.stderr.read() if up.poll() is not None else ''}"
        os.killpg(up.pid, signum)  # as a terminal's Ctrl-C: the command's process group (the nodes have their own)
        out, err = up.communicate(timeout=120)
        assert "nodes up" not in out, "interrupted too late: the cluster was up"
        started |= {p.pid: p for p in psutil.process_iter() if root in _command_line(p)}
        left = [p for p in started.values() if _alive(p)]
        assert not left, f"left running: {[_command_line(p)[:120] for p in left]}"
        assert not Path(root).exists()
        assert up.returncode == 130 and "Traceback" not in err and "stopped" in err, err[-3000:]
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
        if root:
            started |= {p.pid: p for p in psutil.process_iter() if root in _command_line(p)}
        for process in started.values():  # on the old code: the nodes this test started
            try:
                process.kill()
            except psutil.Error:
                pass


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


def archive_command(cluster, archive_path: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "service", "summarize-file", str(archive_path), "-o", str(out), "--ray",
            cluster.address, "--ray-actors", "2", "--ray-batch-size", "2"]  # fmt: skip


def run_archive(cluster, archive_path: Path, out: Path, env: dict | None = None, timeout_s: float = 600):
    return subprocess.run(archive_command(cluster, archive_path, out), cwd=ROOT, env=env or cluster.env,
                          capture_output=True, text=True, timeout=timeout_s)  # fmt: skip


def test_archive_on_ray_reports_each_bad_line_as_the_local_command_does(cluster, tmp_path):
    """test_bulk_archive's archive of every kind of bad line, and articles the service refuses: each line in the
    errors file with its number and reason, the good ones done, in the API's shape."""
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(archive(MISTAKES + REFUSED))
    done = run_archive(cluster, source, out)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    failed = len(expected_errors(MISTAKES + REFUSED))
    assert done.stdout.strip().splitlines()[-1] == f"done {len(GOOD_IDS)}, failed {failed}, skipped 0"
    assert errors_of(out) == expected_errors(MISTAKES + REFUSED)
    results = [ArticleOut.model_validate_json(row) for row in out.read_text("utf-8").splitlines()]
    assert sorted(r.id for r in results) == GOOD_IDS and all(r.summary["hi"] and r.translation.en for r in results)


def test_archive_on_ray_killed_midway_then_resumed_each_id_once(cluster, tmp_path):
    archive_path = tmp_path / "archive.jsonl"
    # 20 passages, one over max_article_chars (its reason goes to the errors file) and one id a second time.
    items = PASSAGES[:20] + [{"id": "too-long", "text": "क" * 2001}, PASSAGES[3]]
    archive_path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in items), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen(archive_command(cluster, archive_path, out), cwd=ROOT, env=cluster.env, stdout=log,
                             stderr=log, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not output_ids(out) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # polls the output file: the first result line is the state waited for
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    cut_at = len(output_ids(out))
    assert 0 < cut_at < 20, f"the run should be cut midway, it had written {cut_at}:\n{(tmp_path / 'first.log').read_text()[-3000:]}"

    second = run_archive(cluster, archive_path, out)
    assert second.returncode == 1, second.stderr[-3000:]  # the local command's status: some article failed
    assert f"done {20 - cut_at}, failed 2, skipped {cut_at}" in second.stdout
    assert sorted(output_ids(out)) == sorted(p["id"] for p in PASSAGES[:20])  # each id exactly once
    errors = {e["id"]: e for e in map(json.loads, (tmp_path / "out.errors.jsonl").read_text().splitlines())}
    assert errors.keys() == {"too-long", PASSAGES[3]["id"]}
    assert (errors["too-long"]["status"], errors["too-long"]["code"]) == (413, "article_too_long")
    assert (errors[PASSAGES[3]["id"]]["line"], errors[PASSAGES[3]["id"]]["code"]) == (22, "duplicate_id")


def test_archive_on_ray_with_every_id_done_starts_nothing(cluster, tmp_path):
    """Resuming checks before anything loads: the actors would fail here, on models that are not there."""
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in PASSAGES[:20]), encoding="utf-8")
    out.write_text("".join(json.dumps({"id": p["id"]}) + "\n" for p in PASSAGES[:20]), encoding="utf-8")
    nowhere = {**cluster.env, "SUMMARIZER_TRANSLATION_MODEL": str(tmp_path / "none"),
               "SUMMARIZER_SUMMARIZATION_MODEL": str(tmp_path / "none")}  # fmt: skip
    done = run_archive(cluster, source, out, env=nowhere, timeout_s=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "done 0, failed 0, skipped 20"
