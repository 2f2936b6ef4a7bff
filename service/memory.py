"""Translation memory: what a model produced for a sentence (before placeholders are restored) and for a whole
article's summary, kept under a key of everything that changes that output, so an updated article costs only its
changed sentences.

Keys are SHA-256 digests of the caller's scope (its API key's name, so one key never sees what another sent, not
even as a faster answer; one scope for all with ``CACHE_SCOPE=shared``), the model's input (token ids of the
pre-processed text, so the URLs and long numbers that became ``<ID1>``, … do not matter: the current request's are
restored), the languages, and the model's fingerprint (id, resolved revision, backend, compute type, decoding limits)
plus the request's beam count.

Stores: SQLite in WAL mode on local disk (default; bounded by its size, least recently used entries evicted) or
Redis shared between replicas (entries expire after a TTL; Redis' own ``maxmemory-policy`` bounds it). Every store
call runs on the memory's own threads and a request waits for it at most ``CACHE_TIMEOUT_MS``, then is served as if
nothing were cached. A store that fails (a lock, a lost file, a full disk, Redis down, stalled or refusing) is left
out (one warning) and checked again every ``CACHE_RETRY_S`` (reopened: a lost, truncated or corrupt SQLite file is
replaced by a new one) until it answers (one line: it is back).
"""

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from .sqlite_db import connect, transaction

log = logging.getLogger(__name__)

SHARED_SCOPE = "shared"  # the one scope of CACHE_SCOPE=shared
# Store calls in flight at once, reads and writes apart: a lookup never queues behind a slow write (an eviction of
# a large SQLite file takes seconds). A hung call holds its thread until the store's own wait runs out.
READ_THREADS, WRITE_THREADS = 4, 2
PROBE_KEY = b"translation-memory-probe"  # not a 32-byte digest: never an entry's key
MIN_FILE_BYTES = 512  # SQLite's smallest page: a database file we opened is never shorter


def digest(*parts) -> bytes:
    """The key of one entry: a stable hash of JSON-able parts."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode()).digest()


class MemoryFileLost(Exception):
    """The SQLite file is not the one the store opened any more: removed, replaced or truncated."""


def _corrupt(exc: BaseException | None) -> bool:
    code = getattr(exc, "sqlite_errorcode", None) or 0
    return isinstance(exc, sqlite3.DatabaseError) and (code & 0xFF) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _probe(store) -> None:
    """A write (a new value: a real one) and a read through the store, as requests do them."""
    value = str(time.time_ns())
    store.put_many({PROBE_KEY: value})
    if store.get_many([PROBE_KEY]) != {PROBE_KEY: value}:
        raise RuntimeError("the probe entry was not read back")


class SqliteStore:
    """Entries in recency order: a row's id is its last use (a hit moves it to the end), so eviction deletes the
    lowest ids, which frees whole pages for reuse and keeps the file within its bound. Connections are per thread;
    several processes may share one file. Before every call the file at ``path`` is checked to be the one the
    connections opened (a removed or truncated file is not noticed by SQLite while its pages are cached);
    ``reset`` makes every thread open it again, and a missing, truncated or corrupt file is then replaced by a new
    one (with its ``-wal`` and ``-shm``: another database's log must never be applied to it)."""

    SCHEMA = "CREATE TABLE IF NOT EXISTS memory (id INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, value TEXT NOT NULL)"

    def __init__(self, path: Path, max_bytes: int, wait_s: float):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.wait_s = wait_s  # how long a call may wait for another writer's lock, on the memory's own thread
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._open_lock = threading.Lock()
        self._generation = 0  # bumped by reset: connections of an older generation are closed by their thread
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file this generation opened
        self._seen_mtime_ns = 0  # the file's modification time when it was last checked
        self._broken: tuple[int, int] | None = None  # a file a call found corrupt: the next open replaces it
        self._renewed = ""  # why the last open started a new file (said once by ``probe``)

    def __str__(self) -> str:
        return f"sqlite:{self.path}"

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        db = getattr(local, "db", None)
        if db is not None and local.generation == self._generation:
            self._check_file()
            return db
        if db is not None:
            self._forget(db)
        with self._open_lock:
            local.db, local.generation = self._open(), self._generation
        return local.db

    def _check_file(self) -> None:
        """A stat (never an open: closing another descriptor of the file would drop SQLite's locks on it)."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise MemoryFileLost(f"{self.path} was removed") from None
        if (stat.st_dev, stat.st_ino) != self._identity:
            raise MemoryFileLost(f"{self.path} was replaced")
        if stat.st_size < MIN_FILE_BYTES:
            raise MemoryFileLost(f"{self.path} was truncated to {stat.st_size} bytes")
        if stat.st_mtime_ns != self._seen_mtime_ns:  # written since: a checkpoint, or something overwrote it
            self._connect().close()  # reads the header afresh, not from a connection's cache
            self._seen_mtime_ns = stat.st_mtime_ns

    def _open(self) -> sqlite3.Connection:
        """A connection to the file at ``path``; a new file when it is missing, truncated or corrupt."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        stat = self.path.stat() if self.path.exists() else None
        if stat is None or stat.st_size < MIN_FILE_BYTES or (stat.st_dev, stat.st_ino) == self._broken:
            self._start_anew("the file was lost, truncated or corrupt")
        try:
            db = self._connect()
        except sqlite3.DatabaseError as exc:
            if not _corrupt(exc):
                raise
            self._start_anew(f"the file was corrupt ({exc})")
            db = self._connect()
        stat = os.stat(self.path)
        if self._identity is None:  # the first connection since a reset fixes which file this generation uses
            self._identity, self._seen_mtime_ns = (stat.st_dev, stat.st_ino), stat.st_mtime_ns
        elif (stat.st_dev, stat.st_ino) != self._identity:
            db.close()
            raise MemoryFileLost(f"{self.path} was replaced")
        self._opened.append(db)
        return db

    def _connect(self) -> sqlite3.Connection:
        db = connect(self.path, "NORMAL", timeout_s=self.wait_s)  # a lost last write costs a re-translation
        try:
            db.execute(self.SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def _start_anew(self, why: str) -> None:
        """Remove the file and its write-ahead log and index (a new database must not replay another's log)."""
        existed = self.path.exists()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self._broken = None
        if existed:
            self._renewed = f"; a new, empty file: {why}"

    def _forget(self, db: sqlite3.Connection) -> None:
        try:
            self._opened.remove(db)
            db.close()
        except (ValueError, sqlite3.Error):  # closed already, or by ``close``
            pass

    def reset(self, failure: BaseException | None = None) -> None:
        """After a failure: every thread opens the file again (a corrupt one is replaced) at its next call."""
        with self._open_lock:
            self._generation += 1
            if _corrupt(failure):  # only that file: another replica may have replaced it with a good one already
                self._broken = self._identity
            self._identity = None

    def probe(self) -> str:
        """Raises unless the store reads and writes; says what changed when the file was started anew."""
        _probe(self)
        renewed, self._renewed = self._renewed, ""
        return renewed

    def get_many(self, keys: list[bytes]) -> dict[bytes, str]:
        """A read only (in WAL mode it never waits for a writer); ``touch`` records the use."""
        db, found = self._connection(), {}
        for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(db.execute(f"SELECT key, value FROM memory WHERE key IN ({marks})", chunk).fetchall())
        return found

    def touch(self, keys: list[bytes]) -> None:
        """Mark entries as just used (the end of the recency order)."""
        db = self._connection()
        with transaction(db):
            db.executemany("UPDATE memory SET id = (SELECT max(id) + 1 FROM memory) WHERE key = ?", [(k,) for k in keys])

    def put_many(self, items: dict[bytes, str]) -> None:
        db = self._connection()
        with transaction(db):
            db.executemany("INSERT OR REPLACE INTO memory (key, value) VALUES (?, ?)", list(items.items()))
            self._evict(db)

    def _evict(self, db: sqlite3.Connection) -> None:
        """The least recently used twentieth out, again, until the pages in use fit in the bound."""
        while self._used_bytes(db) > self.max_bytes:
            (rows,) = db.execute("SELECT count(*) FROM memory").fetchone()
            if not rows:
                return
            db.execute("DELETE FROM memory WHERE id IN (SELECT id FROM memory ORDER BY id LIMIT ?)", (rows // 20 + 1,))

    @staticmethod
    def _used_bytes(db: sqlite3.Connection) -> int:
        (pages,) = db.execute("PRAGMA page_count").fetchone()
        (free,) = db.execute("PRAGMA freelist_count").fetchone()
        (size,) = db.execute("PRAGMA page_size").fetchone()
        return (pages - free) * size

    def size_bytes(self) -> int:
        return self._used_bytes(self._connection())

    def close(self) -> None:
        """Every thread's connection (the memory's threads are stopped by then)."""
        for db in list(self._opened):
            self._forget(db)
        self._local = threading.local()


class RedisStore:
    """Entries as plain Redis strings under a prefix, each with a TTL. No retries inside the client (its default
    retries with back-off for seconds): the memory decides when to try again."""

    def __init__(self, url: str, ttl_s: int, wait_s: float, prefix: str = "summarizer:tm:"):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.client = redis.Redis.from_url(url, socket_timeout=wait_s, socket_connect_timeout=wait_s,
                                           retry=Retry(NoBackoff(), 0))  # fmt: skip
        self.ttl_s = ttl_s
        self.prefix = prefix.encode()
        self._url = url

    def __str__(self) -> str:
        return "redis:" + self._url.split("@")[-1]  # never the password

    def get_many(self, keys: list[bytes]) -> dict[bytes, str]:
        values = self.client.mget([self.prefix + k for k in keys]) if keys else []
        return {k: v.decode() for k, v in zip(keys, values) if v is not None}

    def touch(self, keys: list[bytes]) -> None:
        """Entries live their TTL from their last write; Redis' own policy picks what to evict."""

    def put_many(self, items: dict[bytes, str]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for key, value in items.items():
            pipe.set(self.prefix + key, value, ex=self.ttl_s)
        # The server's error alone: redis-py's message would quote the command, a translation, into the log.
        if errors := [r for r in pipe.execute(raise_on_error=False) if isinstance(r, Exception)]:
            raise errors[0]

    def reset(self, failure: BaseException | None = None) -> None:
        """The client drops a broken connection itself and connects again at the next call."""

    def probe(self) -> str:
        _probe(self)
        return ""

    def size_bytes(self) -> int:
        return int(self.client.info("memory")["used_memory"])

    def close(self) -> None:
        self.client.close()


class Memory:
    """A store behind a guard. Store calls run on the memory's threads; a caller waits for one at most ``timeout_s``
    (past it, a miss or a skipped write for that caller: the call goes on, and counts if it fails). A store error
    takes the memory out (one warning): calls are then skipped and counted, and every ``retry_s`` one call checks the
    store (reopened) with a write and a read, within ``timeout_s``, before it is used again (one line: it is back).
    A slow answer alone never takes it out: on a starved CPU that would only add model work.
    ``observer.on_cache(kind, hits, misses)`` and ``observer.on_cache_error()`` feed the metrics."""

    def __init__(self, store, fingerprints: dict[str, str], observer=None, *, shared: bool, timeout_s: float,
                 retry_s: float):  # fmt: skip
        self.store = store
        self.fingerprints = fingerprints  # per model kind: what of the model and its settings shapes its output
        self.observer = observer
        self.shared = shared
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self._readers = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="translation-memory-read")
        self._writers = ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="translation-memory-write")
        self._lock = threading.Lock()
        self._up = True
        self._retry_at = 0.0
        self._checking = False

    def key(self, kind: str, scope: str, *parts) -> bytes:
        """``scope``: whose memory (see ``pipeline.JobOptions.cache_scope``); one for all when shared."""
        return digest(kind, self.fingerprints[kind], SHARED_SCOPE if self.shared else scope, *parts)

    @property
    def available(self) -> bool:
        return self._up

    def _failed(self, action: str, exc: BaseException) -> None:
        with self._lock:
            went_down, self._up = self._up, False
            self._retry_at = time.monotonic() + self.retry_s
        self.store.reset(exc)
        if went_down:
            log.warning("translation memory %s failed (%s: %s: %s); serving without it, trying again every %g s",
                        self.store, action, type(exc).__name__, exc, self.retry_s)  # fmt: skip
        if self.observer is not None:
            self.observer.on_cache_error()

    def _call(self, action: str, fn, *args, writes: bool = False, wait_out: bool = False):
        """``(True, fn(*args))`` from the memory's threads, or ``(False, None)`` when it failed, or did not finish
        within ``timeout_s``: then it is dropped if it has not started (nothing queues up behind a hung store), else
        it finishes on its own and counts if it fails; with ``wait_out`` the time out itself is a failure."""
        future = (self._writers if writes else self._readers).submit(fn, *args)
        done, _ = wait([future], timeout=self.timeout_s)
        if not done:
            dropped = future.cancel()
            if wait_out:
                self._failed(action, TimeoutError(f"no answer within {self.timeout_s * 1000:g} ms"))
            elif not dropped:
                self._after(action, future)
            return False, None
        if (exc := future.exception()) is not None:
            self._failed(action, exc)
            return False, None
        return True, future.result()

    def _after(self, action: str, future) -> None:
        """Count the failure of a call nobody waits for."""
        future.add_done_callback(
            lambda f: None if f.cancelled() or f.exception() is None else self._failed(action, f.exception())
        )

    def _usable(self) -> bool:
        """Up, or (once per ``retry_s``, one caller) checked and back now."""
        if self._up:
            return True
        with self._lock:
            if self._checking or time.monotonic() < self._retry_at:
                return False
            self._checking = True
        try:
            ok, renewed = self._call("check", self.store.probe, writes=True, wait_out=True)
            if ok:
                with self._lock:
                    self._up = True
                log.warning("translation memory %s is back%s", self.store, renewed)
            return ok
        finally:
            self._checking = False

    def start(self) -> None:
        """The first check, at start-up (no request waits: as long as the store's own wait): the log says whether
        the memory is there, and if not, it comes back by itself once the store answers."""
        try:
            renewed = self.store.probe()
        except Exception as exc:  # noqa: BLE001 - a store that fails at start is tried again like any other
            self._failed("start", exc)
        else:
            log.info("translation memory in %s%s", self.store, renewed)

    def lookup(self, kind: str, keys: list[bytes]) -> list[str | None]:
        found = {}
        if keys and self._usable():
            found = self._call("lookup", self.store.get_many, keys)[1] or {}
            if found:
                self._after("touch", self._writers.submit(self.store.touch, list(found)))
        if self.observer is not None:
            self.observer.on_cache(kind, len(found), len(keys) - len(found))
        return [found.get(k) for k in keys]

    def remember(self, items: dict[bytes, str]) -> None:
        if items and self._usable():
            self._call("write", self.store.put_many, items, writes=True)

    def size_bytes(self) -> float:
        """For the metrics; NaN while the store cannot say."""
        if not self._usable():
            return float("nan")
        ok, size = self._call("size", self.store.size_bytes)
        return float(size) if ok else float("nan")

    def close(self) -> None:
        for threads in (self._readers, self._writers):  # a call in flight ends within the store's own wait
            threads.shutdown(cancel_futures=True)
        try:
            self.store.close()
        except Exception:  # noqa: BLE001 - closing a dead connection
            pass


def open_memory(settings, fingerprints: dict[str, str], observer=None) -> Memory | None:
    """The configured memory, or None when ``SUMMARIZER_CACHE=off``. A store that cannot be reached at start is a
    warning, not a failed start: it is tried again every ``CACHE_RETRY_S`` like a store that fails later."""
    if settings.cache == "off":
        return None
    # How long a call may wait inside its own thread (for another writer's lock, for a socket): as long as a request
    # would, and up to half the retry interval, so a hung call's thread is free again by the next check.
    wait_s = max(settings.cache_timeout_ms / 1000, settings.cache_retry_s / 2)
    if settings.cache_url:
        store = RedisStore(settings.cache_url, settings.cache_ttl_s, wait_s)
    else:
        directory = settings.cache_dir or Path(settings.models_dir) / "cache"
        store = SqliteStore(Path(directory) / "translation-memory.sqlite3", int(settings.cache_max_mb * 2**20), wait_s)
    memory = Memory(store, fingerprints, observer, shared=settings.cache_scope == "shared",
                    timeout_s=settings.cache_timeout_ms / 1000, retry_s=settings.cache_retry_s)
    memory.start()
    return memory
