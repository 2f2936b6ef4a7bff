"""Durable jobs: an embedded SQLite store of accepted ``/summarize`` work, its results and its webhook deliveries.

A job is committed (``synchronous=FULL``) before its 202 is sent, so a process killed at any point loses nothing:
jobs found ``running`` at start-up were cut off and are queued again; finished results stay for their TTL. One
writer connection behind a lock; callers run these methods off the event loop.

The store is bounded in bytes, in all and per key: a waiting job counts twice its body (room for its result), a
finished one what it keeps (its result or error; its body is dropped). Triggers keep the per-key sums, so a check
costs one lookup. A store that fails (a full disk, a lock held too long, a corrupt file) raises ``JobsUnavailable``
and says so in ``problem``; it is opened again at the next call, so a file put right heals without a restart.
"""

import functools
import json
import logging
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import JobsUnavailable, JobStorageFull, Overloaded
from .sqlite_db import connect, transaction

log = logging.getLogger(__name__)
STATUSES = ("queued", "running", "done", "failed", "cancelled")
RETRY_AFTER_S = 10  # what a caller is told when the store fails

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
# Version 1: what each job counts against the bounds, and the sums per owner (kept by triggers).
USAGE = [
    "ALTER TABLE jobs ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0",
    "UPDATE jobs SET bytes = ifnull(length(CAST(result AS BLOB)), 0) + ifnull(length(CAST(error AS BLOB)), 0) "
    "+ ifnull(length(CAST(callback_url AS BLOB)), 0) "
    "+ CASE WHEN status IN ('queued', 'running') THEN 2 * length(CAST(request AS BLOB)) ELSE 0 END",
    "UPDATE jobs SET request = '{}' WHERE status IN ('done', 'failed', 'cancelled')",
    "CREATE INDEX jobs_owner ON jobs (owner, status, updated)",
    "CREATE TABLE usage (owner TEXT PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID",
    "INSERT INTO usage SELECT owner, sum(bytes) FROM jobs GROUP BY owner",
    "CREATE TRIGGER usage_insert AFTER INSERT ON jobs BEGIN INSERT INTO usage VALUES (NEW.owner, NEW.bytes) "
    "ON CONFLICT (owner) DO UPDATE SET bytes = bytes + excluded.bytes; END",
    "CREATE TRIGGER usage_update AFTER UPDATE OF bytes ON jobs BEGIN "
    "UPDATE usage SET bytes = bytes + NEW.bytes - OLD.bytes WHERE owner = NEW.owner; END",
    "CREATE TRIGGER usage_delete AFTER DELETE ON jobs BEGIN "
    "UPDATE usage SET bytes = bytes - OLD.bytes WHERE owner = OLD.owner; END",
    "PRAGMA user_version = 1",
]


@dataclass(frozen=True)
class Bounds:
    """What one ``add`` may fill: jobs waiting, bytes in all, bytes per key; ``ttl_s`` tells when space frees."""

    max_queued: int
    max_bytes: int
    max_bytes_per_key: int
    ttl_s: float


@dataclass
class Job:
    id: str
    owner: str
    status: str
    priority: str
    request: dict  # empty once the job is finished
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


def _guarded(method):
    """A SQLite failure becomes ``JobsUnavailable`` (503 with Retry-After) and is remembered in ``problem`` until
    the same operation succeeds (a read that works says nothing of a full disk), or a job is written."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            value = method(self, *args, **kwargs)
        except (sqlite3.Error, OSError) as exc:  # OSError: the folder cannot be made
            self._failed(method.__name__, f"{type(exc).__name__}: {exc}")
            message = f"the job store cannot be used right now ({exc}); retry later"
            raise JobsUnavailable(message, RETRY_AFTER_S) from exc
        self._worked(method.__name__)
        return value

    return guarded


class JobStore:
    def __init__(self, path: Path, lock_timeout_s: float = 2.0):
        """Never raises: a store that cannot be opened now is a ``problem``, and opened again at the next call."""
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self._problems: dict[str, str] = {}  # operation → its last failure
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        try:
            with self._locked():
                self._open()
        except (sqlite3.Error, OSError) as exc:
            self._failed("open", f"{type(exc).__name__}: {exc}")

    @property
    def problem(self) -> str | None:
        """Why the store cannot be used now, or None."""
        return next(iter(self._problems.values()), None)

    def _failed(self, operation: str, problem: str) -> None:
        if not self._problems:
            log.error("job store %s unavailable: %s; jobs are refused (503) until it works again", self.path, problem)
        self._problems[operation] = problem
        if "malformed" in problem or "not a database" in problem:  # opened again at the next call
            with self._lock:
                self._close()

    def _worked(self, operation: str) -> None:
        if not self._problems:
            return
        if operation in ("add", "finish"):  # a job was written: whatever failed before works now
            self._problems.clear()
        self._problems.pop(operation, None)
        self._problems.pop("open", None)
        if not self._problems:
            log.info("job store %s works again", self.path)

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # FULL: an accepted job survives a power cut, not only a kill. A lock held elsewhere is waited for
            # lock_timeout_s at most: then 503, not a request hanging.
            db = connect(self.path, "FULL", timeout_s=self.lock_timeout_s)
            try:
                db.row_factory = sqlite3.Row
                db.executescript(SCHEMA)
                with transaction(db):  # a replica sharing the file may be upgrading it at the same time
                    if db.execute("PRAGMA user_version").fetchone()[0] < 1:
                        for statement in USAGE:
                            db.execute(statement)
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @contextmanager
    def _locked(self):
        if not self._lock.acquire(timeout=self.lock_timeout_s):
            raise JobsUnavailable(f"the job store is busy (over {self.lock_timeout_s:g} s); retry later", RETRY_AFTER_S)
        try:
            yield
        finally:
            self._lock.release()

    def _run(self, sql: str, params=()) -> sqlite3.Cursor:
        with self._locked():
            return self._open().execute(sql, params)

    @_guarded
    def add(self, owner: str, request: dict, priority: str, callback_url: str | None, bounds: Bounds) -> Job:
        """A new queued job; ``Overloaded`` when ``max_queued`` jobs are waiting, ``JobStorageFull`` when the key's
        share is full, ``JobsUnavailable`` when the store is."""
        body = json.dumps(request, ensure_ascii=False)
        size = 2 * len(body.encode()) + len((callback_url or "").encode())
        job_id, now = secrets.token_urlsafe(16), time.time()
        with self._locked():
            db = self._open()
            with transaction(db):
                self._check_room(db, owner, size, bounds)
                db.execute(
                    "INSERT INTO jobs (id, owner, status, priority, request, callback_url, created, updated, bytes) "
                    "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?)",
                    (job_id, owner, priority, body, callback_url, now, now, size),
                )
        return Job(job_id, owner, "queued", priority, request, callback_url, None, None, now, now, "none", 0)

    @staticmethod
    def _check_room(db: sqlite3.Connection, owner: str, size: int, bounds: Bounds) -> None:
        (waiting,) = db.execute("SELECT count(*) FROM jobs WHERE status = 'queued'").fetchone()
        if waiting >= bounds.max_queued:
            raise Overloaded(f"{bounds.max_queued} jobs are waiting already (SUMMARIZER_MAX_QUEUED_JOBS); retry "
                             "later", 30)  # fmt: skip
        (total,) = db.execute("SELECT ifnull(sum(bytes), 0) FROM usage").fetchone()
        mine = (db.execute("SELECT bytes FROM usage WHERE owner = ?", (owner,)).fetchone() or (0,))[0]
        if mine + size > bounds.max_bytes_per_key:
            (oldest,) = db.execute("SELECT min(updated) FROM jobs WHERE owner = ? AND status IN "
                                   "('done', 'failed', 'cancelled')", (owner,)).fetchone()  # fmt: skip
            wait = 30 if oldest is None else max(1, int(oldest + bounds.ttl_s - time.time()) + 1)
            raise JobStorageFull(
                f"this key's jobs hold {_mb(mine)} MB and this one needs {_mb(size)} MB (its body twice: room for its "
                f"result); the limit is {_mb(bounds.max_bytes_per_key)} MB per key (SUMMARIZER_JOBS_MAX_MB_PER_KEY); "
                f"finished jobs are kept SUMMARIZER_JOB_TTL_S = {bounds.ttl_s:g} s",
                wait,
            )
        if total + size > bounds.max_bytes:
            raise JobsUnavailable(f"the job store is full: {_mb(total)} MB held, {_mb(size)} MB needed, limit "
                                  f"{_mb(bounds.max_bytes)} MB (SUMMARIZER_JOBS_MAX_MB); retry later", 60)  # fmt: skip

    @_guarded
    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """The job, or None when there is none by that id for this owner (another owner's job is not disclosed)."""
        row = self._run("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or (owner is not None and row["owner"] != owner):
            return None
        return Job.from_row(row)

    @_guarded
    def claim(self) -> Job | None:
        """The next queued job (interactive first, then oldest), marked running."""
        row = self._run(
            "UPDATE jobs SET status = 'running', updated = ? WHERE id = (SELECT id FROM jobs WHERE status = "
            "'queued' ORDER BY priority = 'bulk', created LIMIT 1) RETURNING *",
            (time.time(),),
        ).fetchone()
        return None if row is None else Job.from_row(row)

    @_guarded
    def finish(self, job_id: str, result: dict | None = None, error: dict | None = None) -> None:
        """Done with a result or failed with an error (its body dropped); a webhook, if the job has a callback, is
        due now. A job cancelled meanwhile stays cancelled."""
        status = "done" if error is None else "failed"
        result_text, error_text = _dump(result), _dump(error)
        kept = len((result_text or "").encode()) + len((error_text or "").encode())
        now = time.time()
        self._run(
            "UPDATE jobs SET status = ?, request = '{}', result = ?, error = ?, updated = ?, "
            "bytes = ? + length(CAST(ifnull(callback_url, '') AS BLOB)), "
            "webhook = CASE WHEN callback_url IS NULL THEN 'none' ELSE 'pending' END, webhook_due = ? "
            "WHERE id = ? AND status = 'running'",
            (status, result_text, error_text, now, kept, now, job_id),
        )

    @_guarded
    def requeue(self, job_id: str) -> None:
        self._run("UPDATE jobs SET status = 'queued', updated = ? WHERE id = ? AND status = 'running'",
                  (time.time(), job_id))  # fmt: skip

    @_guarded
    def requeue_running(self) -> int:
        """At start-up: jobs a previous process was running when it stopped go back to the queue."""
        return self._run("UPDATE jobs SET status = 'queued', updated = ? WHERE status = 'running'",
                         (time.time(),)).rowcount  # fmt: skip

    @_guarded
    def cancel(self, job_id: str, owner: str) -> Job | None:
        """Queued or running → cancelled (no result, no webhook, its body dropped); a finished job is left as it
        is."""
        self._run(
            "UPDATE jobs SET status = 'cancelled', request = '{}', bytes = 0, updated = ? WHERE id = ? AND owner = ? "
            "AND status IN ('queued', 'running')",
            (time.time(), job_id, owner),
        )
        return self.get(job_id, owner)

    @_guarded
    def due_webhooks(self, now: float, wanted, limit: int) -> list[Job]:
        """Up to ``limit`` jobs whose webhook is due, oldest first, among those ``wanted(job_id, callback_url)``
        accepts (the runner passes over deliveries in flight and hosts at their bound, so one slow host never
        holds back the others). Reads only ids and URLs until it has its jobs."""
        with self._locked():
            db = self._open()
            ids = []
            for job_id, url in db.execute("SELECT id, callback_url FROM jobs WHERE webhook = 'pending' AND "
                                          "webhook_due <= ? ORDER BY webhook_due", (now,)):  # fmt: skip
                if len(ids) == limit:
                    break
                if wanted(job_id, url):
                    ids.append(job_id)
            return [Job.from_row(db.execute("SELECT * FROM jobs WHERE id = ?", (i,)).fetchone()) for i in ids]

    @_guarded
    def webhook_delivered(self, job_id: str) -> None:
        self._run("UPDATE jobs SET webhook = 'delivered', webhook_attempts = webhook_attempts + 1, "
                  "webhook_error = NULL WHERE id = ?", (job_id,))  # fmt: skip

    @_guarded
    def webhook_failed(self, job_id: str, error: str, retry_at: float | None) -> None:
        """One failed attempt: tried again at ``retry_at``, or given up (None)."""
        self._run(
            "UPDATE jobs SET webhook = ?, webhook_attempts = webhook_attempts + 1, webhook_due = ?, "
            "webhook_error = ? WHERE id = ?",
            ("pending" if retry_at is not None else "failed", retry_at, error[:500], job_id),
        )

    @_guarded
    def purge(self, finished_before: float) -> int:
        """Finished jobs older than their TTL are deleted (a webhook still being retried keeps its job)."""
        return self._run(
            "DELETE FROM jobs WHERE status IN ('done', 'failed', 'cancelled') AND updated < ? AND webhook != 'pending'",
            (finished_before,),
        ).rowcount

    def counts(self) -> dict[str, int]:
        """Jobs by status, for the metrics; nothing while the store is unavailable (``problem`` says why)."""
        try:
            rows = self._counts()
        except JobsUnavailable:
            return {}
        return {status: 0 for status in STATUSES} | {r[0]: r[1] for r in rows}

    @_guarded
    def _counts(self) -> list:
        return self._run("SELECT status, count(*) FROM jobs GROUP BY status").fetchall()

    @_guarded
    def usage_bytes(self, owner: str | None = None) -> int:
        """What the jobs of ``owner`` (or of everyone) count against the bounds."""
        where, params = ("WHERE owner = ?", (owner,)) if owner is not None else ("", ())
        return self._run(f"SELECT ifnull(sum(bytes), 0) FROM usage {where}", params).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._close()


def _dump(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f}"
