"""Durable jobs: an embedded SQLite store of accepted ``/summarize`` work, its results and its webhook deliveries.

A job is committed (``synchronous=FULL``) before its 202 is sent, so a process killed at any point loses nothing:
jobs found ``running`` at start-up were cut off and are queued again; finished results stay for their TTL. One
writer connection behind a lock; callers run these methods off the event loop.
"""

import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .sqlite_db import connect, transaction

STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    request TEXT NOT NULL,
    callback_url TEXT,
    result TEXT,
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    webhook TEXT NOT NULL DEFAULT 'none',  -- none | pending | delivered | failed
    webhook_attempts INTEGER NOT NULL DEFAULT 0,
    webhook_due REAL,
    webhook_error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (status, priority, created);
CREATE INDEX IF NOT EXISTS jobs_webhooks ON jobs (webhook, webhook_due);
"""


@dataclass
class Job:
    id: str
    owner: str
    status: str
    priority: str
    request: dict
    callback_url: str | None
    result: dict | None
    error: dict | None
    created: float
    updated: float
    webhook: str
    webhook_attempts: int

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Job":
        loads = lambda text: None if text is None else json.loads(text)  # noqa: E731
        return cls(row["id"], row["owner"], row["status"], row["priority"], json.loads(row["request"]),
                   row["callback_url"], loads(row["result"]), loads(row["error"]), row["created"], row["updated"],
                   row["webhook"], row["webhook_attempts"])  # fmt: skip


class JobStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = connect(self.path, "FULL", timeout_s=10)  # an accepted job survives a power cut, not only a kill
        self._db.row_factory = sqlite3.Row
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def _run(self, sql: str, params=()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, params)

    def add(self, owner: str, request: dict, priority: str, callback_url: str | None, max_queued: int) -> Job | None:
        """A new queued job, or None when ``max_queued`` jobs are already waiting."""
        job_id, now = secrets.token_urlsafe(16), time.time()
        with self._lock, transaction(self._db):
            (waiting,) = self._db.execute("SELECT count(*) FROM jobs WHERE status = 'queued'").fetchone()
            if waiting >= max_queued:
                return None  # nothing written: the transaction commits empty
            self._db.execute(
                "INSERT INTO jobs (id, owner, status, priority, request, callback_url, created, updated) "
                "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
                (job_id, owner, priority, json.dumps(request, ensure_ascii=False), callback_url, now, now),
            )
        return self.get(job_id)

    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """The job, or None when there is none by that id for this owner (another owner's job is not disclosed)."""
        row = self._run("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or (owner is not None and row["owner"] != owner):
            return None
        return Job.from_row(row)

    def claim(self) -> Job | None:
        """The next queued job (interactive first, then oldest), marked running."""
        with self._lock:
            row = self._db.execute(
                "UPDATE jobs SET status = 'running', updated = ? WHERE id = (SELECT id FROM jobs WHERE status = "
                "'queued' ORDER BY priority = 'bulk', created LIMIT 1) RETURNING *",
                (time.time(),),
            ).fetchone()
        return None if row is None else Job.from_row(row)

    def finish(self, job_id: str, result: dict | None = None, error: dict | None = None) -> None:
        """Done with a result or failed with an error; a webhook, if the job has a callback, is due now. A job
        cancelled meanwhile stays cancelled."""
        status = "done" if error is None else "failed"
        now = time.time()
        self._run(
            "UPDATE jobs SET status = ?, result = ?, error = ?, updated = ?, "
            "webhook = CASE WHEN callback_url IS NULL THEN 'none' ELSE 'pending' END, webhook_due = ? "
            "WHERE id = ? AND status = 'running'",
            (status, _dump(result), _dump(error), now, now, job_id),
        )

    def requeue(self, job_id: str) -> None:
        self._run("UPDATE jobs SET status = 'queued', updated = ? WHERE id = ? AND status = 'running'",
                  (time.time(), job_id))  # fmt: skip

    def requeue_running(self) -> int:
        """At start-up: jobs a previous process was running when it stopped go back to the queue."""
        return self._run("UPDATE jobs SET status = 'queued', updated = ? WHERE status = 'running'",
                         (time.time(),)).rowcount  # fmt: skip

    def cancel(self, job_id: str, owner: str) -> Job | None:
        """Queued or running → cancelled (no result, no webhook); a finished job is left as it is."""
        self._run(
            "UPDATE jobs SET status = 'cancelled', updated = ? WHERE id = ? AND owner = ? "
            "AND status IN ('queued', 'running')",
            (time.time(), job_id, owner),
        )
        return self.get(job_id, owner)

    def due_webhooks(self, now: float, limit: int = 16) -> list[Job]:
        rows = self._run("SELECT * FROM jobs WHERE webhook = 'pending' AND webhook_due <= ? ORDER BY webhook_due "
                         "LIMIT ?", (now, limit)).fetchall()  # fmt: skip
        return [Job.from_row(r) for r in rows]

    def webhook_delivered(self, job_id: str) -> None:
        self._run("UPDATE jobs SET webhook = 'delivered', webhook_attempts = webhook_attempts + 1, "
                  "webhook_error = NULL WHERE id = ?", (job_id,))  # fmt: skip

    def webhook_failed(self, job_id: str, error: str, retry_at: float | None) -> None:
        """One failed attempt: tried again at ``retry_at``, or given up (None)."""
        self._run(
            "UPDATE jobs SET webhook = ?, webhook_attempts = webhook_attempts + 1, webhook_due = ?, "
            "webhook_error = ? WHERE id = ?",
            ("pending" if retry_at is not None else "failed", retry_at, error[:500], job_id),
        )

    def purge(self, finished_before: float) -> int:
        """Finished jobs older than their TTL are deleted (a webhook still being retried keeps its job)."""
        return self._run(
            "DELETE FROM jobs WHERE status IN ('done', 'failed', 'cancelled') AND updated < ? AND webhook != 'pending'",
            (finished_before,),
        ).rowcount

    def counts(self) -> dict[str, int]:
        rows = self._run("SELECT status, count(*) FROM jobs GROUP BY status").fetchall()
        return {status: 0 for status in STATUSES} | {r[0]: r[1] for r in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _dump(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)
