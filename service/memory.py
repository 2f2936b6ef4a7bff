"""Translation memory: what a model produced for a sentence (before placeholders are restored) and for a whole
article's summary, kept under a key of everything that changes that output, so an updated article costs only its
changed sentences.

Keys are SHA-256 digests of the model's input (token ids of the pre-processed text, so the URLs and long numbers
that became ``<ID1>``, … do not matter: the current request's are restored), the languages, and the model's
fingerprint (id, resolved revision, backend, compute type, decoding limits) plus the request's beam count.

Stores: SQLite in WAL mode on local disk (default; bounded by its size, least recently used entries evicted) or
Redis shared between replicas (entries expire after a TTL; Redis' own ``maxmemory-policy`` bounds it). A store that
fails is skipped for a while with one warning, counted, and the request is served as if nothing were cached.
"""

import hashlib
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

from .sqlite_db import connect, transaction

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE_S = 10.0


def digest(*parts) -> bytes:
    """The key of one entry: a stable hash of JSON-able parts."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode()).digest()


class SqliteStore:
    """Entries in recency order: a row's id is its last use (a hit moves it to the end), so eviction deletes the
    lowest ids, which frees whole pages for reuse and keeps the file within its bound. Connections are per thread
    (the text workers share the store); several processes may share one file."""

    SCHEMA = "CREATE TABLE IF NOT EXISTS memory (id INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, value TEXT NOT NULL)"

    def __init__(self, path: Path, max_bytes: int):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._connection().execute(self.SCHEMA)

    def __str__(self) -> str:
        return f"sqlite:{self.path}"

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path, "NORMAL", timeout_s=5)  # a lost last write costs a re-translation
            self._local.db = db
            self._opened.append(db)
        return db

    def get_many(self, keys: list[bytes]) -> dict[bytes, str]:
        db, found = self._connection(), {}
        for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(db.execute(f"SELECT key, value FROM memory WHERE key IN ({marks})", chunk).fetchall())
        if found:
            with transaction(db):
                db.executemany(
                    "UPDATE memory SET id = (SELECT max(id) + 1 FROM memory) WHERE key = ?", [(k,) for k in found]
                )
        return found

    def put_many(self, items: dict[bytes, str]) -> None:
        db = self._connection()
        with transaction(db):
            db.executemany("INSERT OR IGNORE INTO memory (key, value) VALUES (?, ?)", list(items.items()))
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
        """Every thread's connection (the workers are stopped by then)."""
        for db in self._opened:
            db.close()
        self._opened.clear()
        self._local = threading.local()


class RedisStore:
    """Entries as plain Redis strings under a prefix, each with a TTL; short socket timeouts so an unreachable Redis
    costs a request at most about a second before the memory is skipped."""

    def __init__(self, url: str, ttl_s: int, prefix: str = "summarizer:tm:"):
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.ttl_s = ttl_s
        self.prefix = prefix.encode()
        self._url = url

    def __str__(self) -> str:
        return "redis:" + self._url.split("@")[-1]  # never the password

    def get_many(self, keys: list[bytes]) -> dict[bytes, str]:
        values = self.client.mget([self.prefix + k for k in keys]) if keys else []
        return {k: v.decode() for k, v in zip(keys, values) if v is not None}

    def put_many(self, items: dict[bytes, str]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for key, value in items.items():
            pipe.set(self.prefix + key, value, ex=self.ttl_s)
        pipe.execute()

    def size_bytes(self) -> int:
        return int(self.client.info("memory")["used_memory"])

    def close(self) -> None:
        self.client.close()


class Memory:
    """A store behind a guard: any store error is a miss (or a skipped write), logged once per outage and counted;
    the store is left alone for ``RETRY_AFTER_FAILURE_S`` before it is tried again. ``observer.on_cache(kind, hits,
    misses)`` and ``observer.on_cache_error()`` feed the metrics."""

    def __init__(self, store, fingerprints: dict[str, str], observer=None):
        self.store = store
        self.fingerprints = fingerprints  # per model kind: what of the model and its settings shapes its output
        self.observer = observer
        self._down_until = 0.0
        self._lock = threading.Lock()

    def key(self, kind: str, *parts) -> bytes:
        return digest(kind, self.fingerprints[kind], *parts)

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, action: str, exc: Exception) -> None:
        with self._lock:
            first = self._available()
            self._down_until = time.monotonic() + RETRY_AFTER_FAILURE_S
        if first:
            log.warning("translation memory %s failed (%s: %s); serving without it for %g s",
                        self.store, action, exc, RETRY_AFTER_FAILURE_S)  # fmt: skip
        if self.observer is not None:
            self.observer.on_cache_error()

    def lookup(self, kind: str, keys: list[bytes]) -> list[str | None]:
        found = {}
        if keys and self._available():
            try:
                found = self.store.get_many(keys)
            except Exception as exc:  # noqa: BLE001 - any store failure degrades to a miss
                self._failed("lookup", exc)
        if self.observer is not None:
            self.observer.on_cache(kind, len(found), len(keys) - len(found))
        return [found.get(k) for k in keys]

    def remember(self, items: dict[bytes, str]) -> None:
        if items and self._available():
            try:
                self.store.put_many(items)
            except Exception as exc:  # noqa: BLE001 - a failed write only loses a future hit
                self._failed("write", exc)

    def size_bytes(self) -> float:
        """For the metrics; NaN while the store cannot say."""
        if not self._available():
            return float("nan")
        try:
            return float(self.store.size_bytes())
        except Exception as exc:  # noqa: BLE001
            self._failed("size", exc)
            return float("nan")

    def close(self) -> None:
        try:
            self.store.close()
        except Exception:  # noqa: BLE001 - closing a dead connection
            pass


def open_memory(settings, fingerprints: dict[str, str], observer=None) -> Memory | None:
    """The configured memory, or None when ``SUMMARIZER_CACHE=off``. A store that cannot be opened is a warning and
    no memory, not a failed start."""
    if settings.cache == "off":
        return None
    try:
        if settings.cache_url:
            store = RedisStore(settings.cache_url, settings.cache_ttl_s)
        else:
            directory = settings.cache_dir or Path(settings.models_dir) / "cache"
            store = SqliteStore(Path(directory) / "translation-memory.sqlite3", int(settings.cache_max_mb * 2**20))
    except Exception as exc:  # noqa: BLE001
        log.warning("translation memory not available (%s); serving without it", exc)
        return None
    log.info("translation memory in %s", store)
    return Memory(store, fingerprints, observer)
