"""The job store under failure and its bounds (issue 25, items 7 and 12): a failing write never strands a job or
kills a worker, a store that cannot be used is a JSON 503 with Retry-After while /summarize keeps serving, a corrupt
file does not stop the service, and the store is bounded in bytes, in all and per key, finished results included."""

import json
import sqlite3
import threading
import time

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.api.jobs import JobRequest
from service.config import Settings
from service.errors import JobsUnavailable, JobStorageFull
from service.jobs import Bounds, JobStore

from .conftest import SEED_TEXT, wait_ready
from .test_jobs import BRIEF, K1, K2, wait_job

FULL_DISK = "database or disk is full"


def wait_for(condition, what: str, timeout_s: float = 60):
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.02)
    return value


def store_sql(client, sql: str) -> None:
    """SQL on the app's own store connection (temporary triggers live on one connection)."""
    store = client.app.state.jobs.store
    with store._lock:
        store._db.execute(sql)


def no_models():
    raise RuntimeError("no models in this test")


def bare_settings(tmp_path, **overrides) -> Settings:
    return Settings(models_dir=tmp_path / "none", jobs_db=tmp_path / "jobs.sqlite3", warmup=False, cache="off",
                    **overrides)  # fmt: skip


def assert_503_jobs_unavailable(answer, limit: str | None = None):
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "jobs_unavailable" and int(answer.headers["Retry-After"]) >= 1
    assert limit is None or limit in answer.json()["error"]["message"], answer.text


def test_a_failed_result_write_is_retried_until_the_job_is_done(settings_factory, tmp_path):
    release = threading.Event()

    def gated_models():
        from service.runtime import build_runtime

        release.wait(60)
        return build_runtime(settings)

    settings = settings_factory(jobs_db=str(tmp_path / "jobs.sqlite3"))
    with TestClient(create_app(settings, gated_models)) as client:
        job_id = client.post("/jobs", json={"text": BRIEF}).json()["job_id"]
        # From now on the store refuses to write results and new jobs, as a full disk does.
        for event in ("UPDATE OF result", "INSERT"):
            name = event.split()[0].lower()
            store_sql(client, f"CREATE TEMP TRIGGER full_{name} BEFORE {event} ON jobs "
                              f"BEGIN SELECT RAISE(FAIL, '{FULL_DISK}'); END")  # fmt: skip
        release.set()
        wait_ready(client)
        ready = wait_for(lambda: (r := client.get("/readyz").json())["jobs"]["available"] is False and r,
                         "the failed write to show in /readyz")  # fmt: skip
        assert FULL_DISK in ready["jobs"]["problem"] and ready["status"] == "ready"
        assert_503_jobs_unavailable(client.post("/jobs", json={"text": BRIEF}))
        assert client.post("/summarize", json={"text": BRIEF}).status_code == 200  # translation serves on
        assert client.get("/metrics").status_code == 200
        assert client.get(f"/jobs/{job_id}").json()["status"] == "running"  # computed, its result waits in memory
        store_sql(client, "DROP TRIGGER full_update")
        store_sql(client, "DROP TRIGGER full_insert")
        job = wait_job(client, f"/jobs/{job_id}", timeout_s=60)  # the worker lived: its retry lands the result
        assert job["status"] == "done" and job["result"]["summary"]
        assert wait_for(lambda: client.get("/readyz").json()["jobs"]["available"], "/readyz to say jobs work again")
        assert client.post("/jobs", json={"text": BRIEF}).status_code == 202


def test_a_locked_store_is_a_prompt_503_with_retry_after(tmp_path):
    settings = bare_settings(tmp_path, jobs_lock_timeout_s=0.3)
    with TestClient(create_app(settings, no_models)) as client:
        holder = sqlite3.connect(settings.jobs_db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            started = time.monotonic()
            assert_503_jobs_unavailable(client.post("/jobs", json={"text": BRIEF}))
            assert time.monotonic() - started < 5  # the lock timeout, not 10 s
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert client.post("/jobs", json={"text": BRIEF}).status_code == 202


def test_a_corrupt_jobs_file_leaves_translation_serving(settings_factory, tmp_path, caplog):
    jobs_db = tmp_path / "jobs.sqlite3"
    jobs_db.write_bytes(b"this is not a database, it was damaged " * 200)
    with TestClient(create_app(settings_factory(jobs_db=str(jobs_db)))) as client:
        wait_ready(client)
        assert client.post("/summarize", json={"text": BRIEF}).status_code == 200
        jobs = client.get("/readyz").json()["jobs"]
        assert jobs["available"] is False and "not a database" in jobs["problem"]
        assert_503_jobs_unavailable(client.post("/jobs", json={"text": BRIEF}))
        assert client.get("/jobs/anything").status_code == 503
        assert client.get("/metrics").status_code == 200
    assert "job store" in caplog.text and "unavailable" in caplog.text
    assert jobs_db.read_bytes().startswith(b"this is not a database")  # kept for the operator, never replaced


def test_the_store_is_bounded_in_bytes_per_key_and_in_all(tmp_path):
    body = {"text": SEED_TEXT}
    stored = JobRequest(**body).model_dump(mode="json", exclude={"callback_url", "priority"}, exclude_none=True)
    size = 2 * len(json.dumps(stored, ensure_ascii=False).encode())  # a waiting job counts its body twice
    settings = bare_settings(tmp_path, api_keys=["k-1", "k-2"], jobs_max_mb_per_key=4.5 * size / 1e6,
                             jobs_max_mb=7.5 * size / 1e6)  # fmt: skip
    with TestClient(create_app(settings, no_models)) as client:
        answers = [client.post("/jobs", json=body, headers=K1) for _ in range(6)]
        assert [a.status_code for a in answers] == [202] * 4 + [429] * 2, [a.text for a in answers]
        refused = answers[-1]
        assert refused.json()["error"]["code"] == "job_storage_full" and int(refused.headers["Retry-After"]) >= 1
        assert "SUMMARIZER_JOBS_MAX_MB_PER_KEY" in refused.json()["error"]["message"]
        assert client.post("/jobs", json={"text": BRIEF}, headers=K1).status_code == 202  # a small one still fits
        answers = [client.post("/jobs", json=body, headers=K2) for _ in range(4)]  # another key has its own share…
        assert [a.status_code for a in answers] == [202, 202, 202, 503], [a.text for a in answers]
        assert_503_jobs_unavailable(answers[-1], "SUMMARIZER_JOBS_MAX_MB")  # …up to the store's bound
        cancelled = client.delete(f"/jobs/{answers[0].json()['job_id']}", headers=K2)
        assert cancelled.json()["status"] == "cancelled"  # a cancelled job keeps nothing: its room is free again
        assert client.post("/jobs", json=body, headers=K2).status_code == 202


def test_finished_results_count_and_expire(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    bounds = Bounds(max_queued=100, max_bytes=10**9, max_bytes_per_key=60_000, ttl_s=3600)
    job = store.add("key:a", {"text": BRIEF}, "bulk", None, bounds)
    reserved = store.usage_bytes("key:a")
    assert reserved >= 2 * len(BRIEF.encode())
    assert store.claim().id == job.id
    store.finish(job.id, {"translation": "x" * 50_000})
    assert store.usage_bytes("key:a") >= 50_000 > reserved  # the result counts, the body is dropped
    with pytest.raises(JobStorageFull, match="SUMMARIZER_JOBS_MAX_MB_PER_KEY") as refused:
        store.add("key:a", {"text": "क" * 5000}, "bulk", None, bounds)
    assert 3500 <= refused.value.retry_after_s <= 3602  # when the finished job expires
    store.add("key:b", {"text": "क" * 5000}, "bulk", None, bounds)  # another key's share is its own
    assert store.purge(time.time() + 1) == 1  # past its TTL: deleted, and no longer counted
    assert store.usage_bytes("key:a") == 0
    store.add("key:a", {"text": "क" * 5000}, "bulk", None, bounds)
    store.close()


def test_an_older_jobs_file_is_upgraded_with_its_usage(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(path) as db:  # the schema before the bounds
        db.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, owner TEXT NOT NULL, status TEXT NOT NULL, priority "
                   "TEXT NOT NULL, request TEXT NOT NULL, callback_url TEXT, result TEXT, error TEXT, created REAL NOT "
                   "NULL, updated REAL NOT NULL, webhook TEXT NOT NULL DEFAULT 'none', webhook_attempts INTEGER NOT "
                   "NULL DEFAULT 0, webhook_due REAL, webhook_error TEXT)")  # fmt: skip
        db.execute("INSERT INTO jobs (id, owner, status, priority, request, created, updated) "
                   "VALUES ('q', 'open', 'queued', 'bulk', ?, 0, 0)", ('{"text": "' + "a" * 1000 + '"}',))  # fmt: skip
        db.execute("INSERT INTO jobs (id, owner, status, priority, request, result, created, updated) "
                   "VALUES ('d', 'open', 'done', 'bulk', '{}', ?, 0, 0)", ('"' + "b" * 3000 + '"',))  # fmt: skip
    store = JobStore(path)
    assert 5000 <= store.usage_bytes("open") <= 5100 and store.get("q").request["text"] == "a" * 1000
    with pytest.raises(JobsUnavailable, match="SUMMARIZER_JOBS_MAX_MB"):
        store.add("open", {"text": BRIEF}, "bulk", None, Bounds(100, 5200, 10**9, 60))
    store.close()
