"""Asynchronous jobs: the API, ownership, cancellation, signed webhooks with retries, the SSRF guard, and
durability (kill -9 with jobs queued; after the restart each finishes and its webhook arrives once)."""

import json
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.jobs import Bounds
from service.webhooks import check_callback, host_allowed, signature
from service.errors import CallbackRefused

from .conftest import SEED_TEXT, running_server, wait_ready

SECRET = "s3cret-for-tests"
BRIEF = "भाजपा ने आज दिल्ली में बैठक की।"


class Receiver:
    """A webhook receiver on a loopback address that verifies signatures; ``fail_first`` answers 500 to the first
    N; ``answer`` is the status of the others (and ``location`` their Location header); with ``hold`` each request
    is counted in ``held`` and answered only once ``hold`` is set."""

    def __init__(self, fail_first: int = 0, host: str = "127.0.0.1", port: int = 0, answer: int = 204,
                 location: str | None = None, hold: threading.Event | None = None):  # fmt: skip
        self.deliveries, self.refused, self.held, self.hosts = [], 0, 0, []
        self.fail_left = fail_first
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers["X-Signature-Timestamp"]
                valid = self.headers["X-Signature"] == signature(SECRET, stamp, body) and abs(time.time() - int(stamp)) < 300
                if hold is not None:
                    with receiver.arrived:
                        receiver.held += 1
                        receiver.arrived.notify_all()
                    hold.wait(300)
                with receiver.arrived:
                    receiver.hosts.append(self.headers["Host"])
                    if receiver.fail_left > 0:
                        receiver.fail_left -= 1
                        receiver.refused += 1
                        self.send_response(500)
                    else:
                        receiver.deliveries.append((json.loads(body), valid, self.headers["X-Job-Id"]))
                        self.send_response(answer)
                        if location:
                            self.send_header("Location", location)
                    receiver.arrived.notify_all()
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_until(self, condition, what: str, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        with self.arrived:
            while not condition():
                left = deadline - time.monotonic()
                assert left > 0, f"{what}: not within {timeout_s} s"
                self.arrived.wait(left)

    def wait_for(self, count: int, timeout_s: float = 120) -> list:
        self.wait_until(lambda: len(self.deliveries) >= count, f"{count} webhooks", timeout_s)
        return self.deliveries

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def wait_job(client, status_url: str, headers=None, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        job = client.get(status_url, headers=headers or {}).json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


@pytest.fixture(scope="module")
def jobs_client(settings_factory, tmp_path_factory):
    settings = settings_factory(
        jobs_db=str(tmp_path_factory.mktemp("jobs") / "jobs.sqlite3"), api_keys=["k-1", "k-2"],
        webhook_secret=SECRET, webhook_allowed_hosts=["127.0.0.1"],
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        yield client


K1, K2 = {"X-API-Key": "k-1"}, {"X-API-Key": "k-2"}
BOUNDS = Bounds(max_queued=10, max_bytes=10**9, max_bytes_per_key=10**9, ttl_s=3600)


def test_a_job_gives_what_summarize_gives_and_only_to_its_key(jobs_client):
    body = {"text": SEED_TEXT, "id": "seed", "options": {"summary_languages": ["hi", "en"]}}
    accepted = jobs_client.post("/jobs", json=body, headers=K1)
    assert accepted.status_code == 202, accepted.text
    status_url = accepted.json()["status_url"]
    assert accepted.headers["Location"] == status_url == f"/jobs/{accepted.json()['job_id']}"
    job = wait_job(jobs_client, status_url, K1)
    assert job["status"] == "done" and job["webhook"] == "none" and job["priority"] == "bulk"
    direct = jobs_client.post("/summarize", json=body, headers=K1).json()
    assert job["result"]["translation"] == direct["translation"] and job["result"]["summary"] == direct["summary"]
    other = jobs_client.get(status_url, headers=K2)
    assert other.status_code == 404 and other.json()["error"]["code"] == "job_not_found"
    assert jobs_client.delete(status_url, headers=K2).status_code == 404
    assert jobs_client.get(status_url).status_code == 401


def test_bad_jobs_are_refused_at_once(jobs_client):
    assert jobs_client.post("/jobs", json={"text": "  "}, headers=K1).status_code == 422
    assert jobs_client.post("/jobs", json={"text": BRIEF, "priority": "urgent"}, headers=K1).status_code == 422
    two = {"text": BRIEF, "options": {"priority": "interactive"}}  # a job's priority is its top-level one
    assert jobs_client.post("/jobs", json=two, headers=K1).status_code == 422
    for url in ("http://169.254.169.254/latest/meta-data", "http://example.org/hook", "ftp://127.0.0.1/x",
                "http://user:pw@127.0.0.1/hook"):  # fmt: skip
        refused = jobs_client.post("/jobs", json={"text": BRIEF, "callback_url": url}, headers=K1)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "callback_refused", url


def test_the_ssrf_guard():
    assert host_allowed("hooks.example.com", ["*.example.com"]) and not host_allowed("example.com.evil", ["*.example.com"])
    with pytest.raises(CallbackRefused, match="blocked address"):
        check_callback("http://169.254.169.254/", ["169.254.169.254"])  # allowed by name, refused by address
    check_callback("http://169.254.169.254/", ["169.254.169.254"], allow_link_local=True)
    with pytest.raises(CallbackRefused, match="no webhooks"):
        check_callback("http://127.0.0.1/", [])


def test_the_webhook_is_signed_retried_and_delivered_once(jobs_client):
    receiver = Receiver(fail_first=1)
    try:
        body = {"text": BRIEF, "callback_url": receiver.url, "priority": "interactive"}
        job_id = jobs_client.post("/jobs", json=body, headers=K1).json()["job_id"]
        [(payload, valid, header_id)] = receiver.wait_for(1)
        assert valid and header_id == job_id == payload["job_id"] and payload["status"] == "done"
        assert payload["result"]["summary"]["hi"] and receiver.refused == 1  # the first attempt got a 500
        deadline = time.monotonic() + 30
        while (job := jobs_client.get(f"/jobs/{job_id}", headers=K1).json())["webhook"] != "delivered":
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
        assert len(receiver.deliveries) == 1
    finally:
        receiver.close()


def test_a_queued_job_can_be_cancelled_and_never_runs(settings_factory, tmp_path):
    release = threading.Event()

    def slow_factory():  # the models "load" until released: jobs wait in the store meanwhile
        from service.runtime import build_runtime

        release.wait(60)
        return build_runtime(settings)

    settings = settings_factory(jobs_db=str(tmp_path / "jobs.sqlite3"))
    with TestClient(create_app(settings, slow_factory)) as client:
        kept = client.post("/jobs", json={"text": BRIEF}).json()["job_id"]
        dropped = client.post("/jobs", json={"text": BRIEF + " दूसरा।"}).json()["job_id"]
        assert client.get(f"/jobs/{kept}").json()["status"] == "queued"  # accepted before the models are ready
        cancelled = client.delete(f"/jobs/{dropped}")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        release.set()
        wait_ready(client)
        assert wait_job(client, f"/jobs/{kept}")["status"] == "done"
        job = client.get(f"/jobs/{dropped}").json()
        assert job["status"] == "cancelled" and job["result"] is None
        metrics = client.get("/metrics").text
        assert 'jobs{status="cancelled"} 1.0' in metrics and 'jobs{status="done"} 1.0' in metrics


@pytest.mark.slow
def test_kill_9_with_five_jobs_queued_loses_none_and_delivers_each_webhook_once(tiny_models, tmp_path):
    receiver = Receiver()
    common = dict(webhook_secret=SECRET, webhook_allowed_hosts='["127.0.0.1"]', jobs_db=tmp_path / "jobs.sqlite3")
    try:
        # An intake replica (runs no job): the five jobs are queued for certain when it is killed.
        with running_server(tiny_models, tmp_path, job_concurrency=0, **common) as (url, process):
            ids = [
                httpx.post(url + "/jobs", json={"text": f"{BRIEF} खबर {i}।", "callback_url": receiver.url}).json()["job_id"]
                for i in range(5)
            ]
            assert {httpx.get(f"{url}/jobs/{i}").json()["status"] for i in ids} == {"queued"}
            process.send_signal(signal.SIGKILL)
            process.wait()
        with running_server(tiny_models, tmp_path, job_concurrency=2, **common) as (url, _):
            deliveries = receiver.wait_for(5)
            for job_id in ids:
                job = httpx.get(f"{url}/jobs/{job_id}").json()
                assert job["status"] == "done" and job["result"]["summary"]["hi"], job
            deadline = time.monotonic() + 30
            while {httpx.get(f"{url}/jobs/{i}").json()["webhook"] for i in ids} != {"delivered"}:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert sorted(d[2] for d in deliveries) == sorted(ids) and all(d[1] for d in deliveries)
        assert len(receiver.deliveries) == 5  # once each
    finally:
        receiver.close()


def test_finished_jobs_are_kept_for_their_ttl_and_a_pending_webhook_keeps_its_job(tmp_path):
    from service.jobs import JobStore

    store = JobStore(tmp_path / "jobs.sqlite3")
    plain = store.add("open", {"text": BRIEF}, "bulk", None, BOUNDS)
    hooked = store.add("open", {"text": BRIEF}, "interactive", "http://127.0.0.1/hook", BOUNDS)
    assert store.claim().id == hooked.id and store.claim().id == plain.id  # interactive first
    store.finish(plain.id, {"ok": True})
    store.finish(hooked.id, error={"code": "x", "message": "y"})
    assert store.get(hooked.id).webhook == "pending" and store.get(plain.id).webhook == "none"
    now = time.time()
    assert store.purge(now - 3600) == 0  # finished just now: within any TTL
    assert store.purge(now + 1) == 1  # past the TTL: the plain one goes; the one with a webhook to send stays
    assert store.get(plain.id) is None and store.get(hooked.id).status == "failed"
    store.webhook_failed(hooked.id, "HTTP 500", None)  # given up
    assert store.purge(now + 1) == 1 and store.get(hooked.id) is None
    store.close()
