"""The hostile-input catalogue: what a caller may send, and what it gets back. Nothing stalls the service, nothing
is a 5xx, nothing hangs. (The request-schema error matrix is in test_api.py, the linear-time proofs in
test_linear_text.py.)"""

import json
import logging
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import httpx
import pytest
from fastapi.testclient import TestClient

from service.api import create_app

from .conftest import ROOT, SEED_TEXT, free_port, running_server, service_env, wait_ready

ONE_SENTENCE = {"text": "भाजपा ने आज बैठक की।"}
# Six requests of each are sent at once: runs that made backtracking patterns explode, and text that was worked on
# the event loop (a sentence of 20 000 dandas; a body of 30 000 one-letter articles).
ADVERSARIAL_TEXTS = {
    "ascii digits": "भारत में " + "1" * 3000,
    "devanagari digits": "भारत में " + "१" * 3000,
    "tamil digits": "भारत में " + "௧" * 3000,
    "bengali digits": "भारत में " + "১" * 3000,
    "digit and separator run": "भारत में " + "1.1-1/1,1:1'1+" * 300,
    "at signs": "भारत में " + "@" * 5000,
    "dots": "भारत में " + "." * 5000,
    "dashes": "भारत में " + "-" * 5000,
    "address-like": "भारत में " + "a" * 3000 + "@" + "b." * 3000,
    "hashes": "भारत में " + "#" * 5000,
    "long word": "भारत में " + "a" * 5000,
    "dandas": "क" + "।" * 19_999,
}
THIRTY_THOUSAND_ARTICLES = json.dumps(
    {"articles": [{"id": str(i), "text": "क"} for i in range(30_000)]}, ensure_ascii=False, separators=(",", ":")
).encode()


@pytest.fixture(scope="module")
def server(tiny_models, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile")
    with running_server(
        tiny_models, workdir, header_timeout_s=2, body_timeout_s=2, shutdown_grace_s=5, auth_failures_per_minute=0
    ) as (url, process):
        yield url, process, workdir / "server.log"


def post_json(url: str, body: bytes, timeout: float = 120) -> httpx.Response:
    return httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=timeout)


def in_flight(url: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith("http_requests_in_flight ")))


def test_service_answers_everyone_while_hostile_requests_run(server):
    url, _, _ = server
    statuses: dict[str, list] = {}

    def send(name, call):
        try:
            statuses.setdefault(name, []).append(call().status_code)
        except httpx.HTTPError as exc:
            statuses.setdefault(name, []).append(repr(exc))

    calls = {name: lambda t=text: httpx.post(url + "/translate", json={"text": t}, timeout=300)
             for name, text in ADVERSARIAL_TEXTS.items()}  # fmt: skip
    calls["30 000 articles"] = lambda: post_json(url + "/summarize", THIRTY_THOUSAND_ARTICLES, timeout=300)
    threads = [threading.Thread(target=send, args=item) for item in calls.items() for _ in range(6)]
    for thread in threads:
        thread.start()
    slowest_health, normal = 0.0, None
    # Another newsroom (another client address): the engines share their batches between callers, so its small
    # request is admitted and answered while one caller's flood is refused to that caller.
    other_newsroom = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=url, timeout=30, transport=other_newsroom) as probe:
        deadline = time.monotonic() + 60
        while in_flight(url) < 20 and any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            pass  # until the hostile requests are in the server
        while any(t.is_alive() for t in threads):
            started = time.monotonic()
            assert probe.get("/healthz").status_code == 200
            slowest_health = max(slowest_health, time.monotonic() - started)
            if normal is None:
                normal = probe.post("/summarize", json=ONE_SENTENCE, timeout=300).status_code
    for thread in threads:
        thread.join()
    assert slowest_health < 1.0, f"/healthz took {slowest_health:.2f} s under hostile load"
    assert normal == 200
    documented = {"30 000 articles": {413}}  # over the article limit; the translations succeed (or 429 when full)
    for name, got in statuses.items():
        assert set(got) <= documented.get(name, {200, 429}), (name, got)
    assert httpx.post(url + "/summarize", json=ONE_SENTENCE, timeout=120).status_code == 200


def test_oversized_body_with_content_length_gets_its_413(server):
    """urllib (like requests and PHP) sends the whole body before reading: it must read a JSON 413, not a reset."""
    url, _, _ = server
    request = urllib.request.Request(url + "/summarize", data=b" " * 20_000_000, method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 413
    assert json.loads(refused.value.read())["error"]["code"] == "request_too_large"


def test_chunked_body_over_the_limit_is_413(server):
    url, _, _ = server
    chunks = (b'{"text": "' + b"a" * 100_000 for _ in range(30))  # 3 MB, no Content-Length
    response = httpx.post(url + "/summarize", content=chunks, headers={"content-type": "application/json"}, timeout=60)
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


def raw_connection(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def read_until_closed(conn: socket.socket) -> str:
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received.decode("latin-1")


def test_a_body_that_never_arrives_is_408(server):
    url, _, _ = server
    with raw_connection(url) as conn:
        conn.sendall(b"POST /summarize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"text\": ")  # fmt: skip
        answer = read_until_closed(conn)  # the server answers after body_timeout_s = 2, then closes
    assert answer.startswith("HTTP/1.1 408") and '"request_timeout"' in answer


@pytest.mark.parametrize("sent", [b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"], ids=["idle", "slow headers"])
def test_connections_without_a_request_are_closed(server, sent):
    url, _, _ = server
    with raw_connection(url) as conn:
        conn.sendall(sent)
        started = time.monotonic()
        assert conn.recv(1024) == b""  # closed by the server (header_timeout_s = 2), not by this test's timeout
        assert time.monotonic() - started < 20


def test_small_hostile_requests(server):
    url, _, _ = server
    surrogate = post_json(url + "/summarize", b'{"text": "\\ud800 \xe0\xa4\x95"}')
    assert surrogate.status_code == 422 and "surrogate" in surrogate.json()["error"]["message"]
    for method in ("PUT", "PATCH", "DELETE"):
        response = httpx.request(method, url + "/summarize", json=ONE_SENTENCE)
        assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"
    for path in ("/healthz", "/readyz"):
        assert httpx.head(url + path).status_code == 200
    over = post_json(url + "/summarize", json.dumps({"articles": [{"id": str(i), "text": "क"} for i in range(1500)]}).encode())
    assert over.status_code == 413 and over.json()["error"]["code"] == "article_too_long"


def test_sigterm_after_hostile_load_exits_within_the_grace(server):
    url, process, log = server
    assert httpx.post(url + "/summarize", json=ONE_SENTENCE, timeout=120).status_code == 200
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert time.monotonic() - started < 5 + 5
    assert "Traceback" not in log.read_text()


# --- shutdown cuts off what outlasts the grace ----------------------------------------------------------------------
def test_work_outlasting_the_grace_gets_json_503_and_exit_0(tiny_models, tmp_path):
    slow = {"articles": [{"id": str(i), "text": SEED_TEXT} for i in range(16)],
            "options": {"translation_num_beams": 8, "summary_num_beams": 8}}  # fmt: skip
    # A long deadline: admission would refuse this much work under the default one (it is predicted to take minutes).
    with running_server(tiny_models, tmp_path, shutdown_grace_s=1, translation_max_new_tokens=256,
                        request_timeout_s=3600) as (url, process):
        answers = []
        thread = threading.Thread(target=lambda: answers.append(httpx.post(url + "/summarize", json=slow, timeout=120)))
        thread.start()
        deadline = time.monotonic() + 60
        while in_flight(url) < 2 and time.monotonic() < deadline:  # the slow request and the scrape itself
            pass
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
        stopped_s = time.monotonic() - started
        thread.join(30)
    assert code == 0 and stopped_s < 1 + 8, stopped_s
    [answer] = answers
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "shutting_down"
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log and "terminate called" not in log


# --- descriptors ----------------------------------------------------------------------------------------------------
def test_idle_sockets_cannot_exhaust_descriptors(tiny_models, tmp_path):
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    with running_server(tiny_models, tmp_path, preexec_fn=low_limit, header_timeout_s=2) as (url, _):
        idle = []
        for _ in range(300):  # more than the server's descriptors: it cannot accept them all
            try:
                idle.append(raw_connection(url))
            except OSError:
                break
        try:
            deadline = time.monotonic() + 30
            while True:  # once the idle ones are closed (header timeout), the service answers again
                try:
                    if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the service did not recover from idle connections"
            assert httpx.post(url + "/summarize", json=ONE_SENTENCE, timeout=60).status_code == 200
        finally:
            for conn in idle:
                conn.close()
        log = (tmp_path / "server.log").read_text()
        assert log.count("out of system resource") <= 5 and len(log) < 200_000


# --- in-process cases -----------------------------------------------------------------------------------------------
def test_a_request_no_queue_can_hold_is_413_not_429(settings_factory):
    with TestClient(create_app(settings_factory(max_queued_items=60))) as c:
        wait_ready(c)
        article = " ".join(f"वाक्य संख्या {i} यहाँ है।" for i in range(80))
        response = c.post("/summarize", json={"text": article, "options": {"summary_languages": []}})
        assert response.status_code == 413 and response.json()["error"]["code"] == "too_large_for_queue"
        texts = c.post("/translate", json={"texts": [article]})
        assert texts.status_code == 413 and "60" in texts.json()["error"]["message"]
        assert c.post("/summarize", json=ONE_SENTENCE).status_code == 200


def test_retry_after_follows_the_drain_rate():
    from service.engine.scheduler import BatchScheduler
    from service.errors import Overloaded

    release = threading.Event()
    batches = []

    def run_batch(items, _key):
        batches.append(len(items))
        if len(batches) == 1:
            time.sleep(0.2)  # the model's work: 4 items in ≥ 0.2 s, at most 20 items/s
        else:
            release.wait(30)
        return items

    engine = BatchScheduler("test", run_batch, max_batch_tokens=10_000, max_batch_size=4, max_wait_ms=0,
                            max_queued_items=100)  # fmt: skip
    try:
        for future in engine.submit(list(range(4)), [1] * 4):
            future.result(30)
        engine.submit(list(range(4)), [1] * 4)  # taken by the worker, which now waits
        while engine.queue_depth:
            pass
        engine.submit(list(range(100)), [1] * 100)
        with pytest.raises(Overloaded) as full:
            engine.submit(list(range(100)), [1] * 100)
        assert 5 <= full.value.retry_after_s <= 60  # 100 items over the bound at ≤ 20 items/s
    finally:
        release.set()
        engine.close(timeout_s=10)


def test_wrong_keys_from_one_address_are_limited(settings_factory):
    settings = settings_factory(api_keys=["right"], auth_failures_per_minute=3, warmup=False)
    with TestClient(create_app(settings)) as c:
        statuses = [c.get("/info", headers={"X-API-Key": f"guess-{i}"}).status_code for i in range(4)]
        assert statuses == [403, 403, 403, 429]
        blocked = c.get("/info", headers={"X-API-Key": "right"})  # else the 429s would tell a hit
        assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "too_many_failed_keys"
        assert int(blocked.headers["retry-after"]) >= 1
        assert c.get("/healthz").status_code == 200


def test_editor_page_docs_and_metrics_labels(settings_factory):
    with TestClient(create_app(settings_factory(warmup=False))) as c:
        page = c.get("/")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
        docs = c.get("/docs").text
        assert "https://" not in docs and "/docs-assets/swagger-ui-bundle.js" in docs  # nothing from a CDN
        assert c.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
        assert c.get("/static/app.js").status_code == 200
        metrics = c.get("/metrics").text
        for route in ("/docs", "/docs-assets/{file}", "/static/{file}"):
            assert f'route="{route}"' in metrics, route


def test_text_log_lines_carry_the_request_fields():
    from service.logs import TextFormatter

    record = logging.LogRecord("service.access", logging.INFO, __file__, 1, "request", None, None)
    record.__dict__.update(method="POST", path="/summarize", status=200, duration_ms=12.5, request_id="r-1")
    line = TextFormatter().format(record)
    for field in ("method=POST", "path=/summarize", "status=200", "duration_ms=12.5", "request_id=r-1"):
        assert field in line, line


def test_a_passed_deadline_stops_text_work_between_sentences(runtime):
    from service.errors import DeadlineExceeded
    from service.workers import Deadline

    translator = runtime.pipeline.translator
    checks = 0
    deadline = Deadline(60)

    class Counting(Deadline):
        def check(self):
            nonlocal checks
            checks += 1
            if checks > 3:
                deadline.abandon()
            deadline.check()

    with pytest.raises(DeadlineExceeded):
        translator.prepare(SEED_TEXT.split("।") * 20, "hin_Deva", Counting())
    assert checks == 4  # stopped at the fourth sentence, not after all of them


# --- start-up refuses to run open by mistake ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content, env, message",
    [
        (b"", {}, "holds no key"),
        (b"# keys go here\n\n   \n", {}, "holds no key"),
        (None, {}, "cannot be read"),
        (b"\xff\xfe\x00", {}, "cannot be read"),
        (None, {"require_api_key": "true", "api_keys_file": ""}, "no key is configured"),
    ],
    ids=["empty", "comments only", "missing", "not UTF-8", "required but none"],
)
def test_unusable_keys_stop_serve_with_one_line(tmp_path, content, env, message):
    keys = tmp_path / "keys.txt"
    if content is not None:
        keys.write_bytes(content)
    settings = {"api_keys_file": keys, "port": free_port(), "offline": "true", "models_dir": tmp_path} | env
    environment = service_env(**{k: v for k, v in settings.items() if v != ""})
    done = subprocess.run([sys.executable, "-m", "service", "serve"], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert message in done.stderr.strip().splitlines()[-1]


def test_keys_lose_bom_and_whitespace(settings_factory, tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_bytes("\ufeffkey-one  \r\n\t key-two\n".encode())
    assert [k.key for k in settings_factory(api_keys_file=keys).accepted_keys()] == ["key-one", "key-two"]


# --- the command line -----------------------------------------------------------------------------------------------
def test_corrupt_result_line_is_skipped_and_the_run_stays_resumable(tmp_path, capsys):
    from service.bulk import completed_ids

    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "a"}\n{"id": "b", "summ\n{"id": "c"}\n[1, 2]\n{"id": "d"', encoding="utf-8")
    assert completed_ids(out) == {"a", "c"}  # "d" was cut mid-write: dropped, redone
    assert "out.jsonl:2" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8").endswith('[1, 2]\n')


def test_download_without_a_hub_says_what_to_do(tmp_path):
    env = service_env(models_dir=tmp_path / "models")
    env["HF_HOME"] = str(tmp_path / "hf")
    done = subprocess.run([sys.executable, "-m", "service", "download-models"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "SUMMARIZER_OFFLINE=true" in last and "make_test_models.py" in last


def test_missing_models_message_names_both(tmp_path):
    env = service_env(offline="true", models_dir=tmp_path / "models", port=free_port())
    env["HF_HOME"] = str(tmp_path / "hf")
    done = subprocess.run([sys.executable, "-m", "service", "serve"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2 and "ai4bharat/indictrans2" in last and "csebuetnlp/mT5" in last
    assert "neither" not in last and "not available offline" not in last
