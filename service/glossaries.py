"""Glossaries: a key's named lists of terms (a source term → its English target), kept in the service's SQLite file,
or in the translation memory's Redis when ``CACHE_URL`` is set (shared by the replicas), enforced in translation
(``service.text.indic_processing.protect``) and checked (``service.checks.glossary``).

A glossary belongs to the key that made it: every call names its owner, and another owner's glossary is not there.
Bounded (``Settings``): entries, bytes of a body, characters of a term, glossaries per key; a request's inline
entries too. A glossary's version is a digest of its entries: the translation memory's key of a sentence a term was
found in includes it.
"""

import csv
import hashlib
import io
import json
import sqlite3
import threading
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .checks.glossary import Glossary, term_words
from .errors import GlossariesUnavailable, GlossaryNotFound, GlossaryTooLarge, InvalidRequest, TooManyGlossaries
from .sqlite_db import connect, transaction

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
TABLE_TYPES = {"text/csv": ",", "text/tab-separated-values": "\t", "text/plain": "\t"}  # media type → delimiter
_HEADER = ("source", "target")  # a table's first row may name its columns
_LANGUAGE_COLUMNS = 4  # DeepL's CSV form: source, target, source language, target language


@dataclass(frozen=True)
class Limits:
    entries: int
    body_bytes: int
    term_chars: int
    per_key: int
    inline_entries: int

    @classmethod
    def of(cls, settings) -> "Limits":
        return cls(settings.max_glossary_entries, settings.max_glossary_bytes, settings.max_glossary_term_chars,
                   settings.max_glossaries_per_key, settings.max_inline_glossary_entries)  # fmt: skip


Entries = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class StoredGlossary:
    name: str
    version: str
    entries: Entries
    updated: float

    def summary(self) -> dict:
        return {"name": self.name, "version": self.version, "entry_count": len(self.entries), "updated": self.updated}


@dataclass(frozen=True)
class AppliedGlossary:
    """What a request's work carries: its entries, their version and the matcher built from them (once)."""

    entries: Entries
    version: str
    matcher: Glossary
    name: str | None = None


def version_of(entries: Entries) -> str:
    return hashlib.sha256(json.dumps(entries, ensure_ascii=False).encode()).hexdigest()[:16]


def applied(entries: Entries, name: str | None = None) -> AppliedGlossary:
    return AppliedGlossary(entries, version_of(entries), Glossary(entries), name)


# --- checking what a caller sends ------------------------------------------------------------------------------------
def _unusable_character(text: str) -> str | None:
    """A control character, a line or paragraph break, a lone surrogate or a noncharacter: no part of a term."""
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Zl", "Zp") or (category == "Cn" and (ord(char) & 0xFFFE == 0xFFFE
                                                                           or 0xFDD0 <= ord(char) <= 0xFDEF)):
            return f"U+{ord(char):04X}"
    return None


def check_entries(pairs, limits: Limits, max_entries: int, setting: str) -> Entries:
    """(source, target) pairs as a glossary keeps them: stripped, each side at most ``term_chars`` characters with a
    word in it, no control characters, no source twice (two sources with the same words are one term). 413
    ``glossary_too_large`` over ``max_entries`` (named by ``setting``) or a term's length, 422 ``invalid_glossary``
    naming the entry otherwise."""
    if len(pairs) > max_entries:
        raise GlossaryTooLarge(f"{len(pairs)} glossary entries; the limit is {max_entries} ({setting})")
    kept, seen = [], {}
    for number, (source, target) in enumerate(pairs, 1):
        source, target = source.strip(), target.strip()
        for side, text in (("source", source), ("target", target)):
            if len(text) > limits.term_chars:
                raise GlossaryTooLarge(f"glossary entry {number}: its {side} has {len(text)} characters; the limit is "
                                       f"{limits.term_chars} (SUMMARIZER_MAX_GLOSSARY_TERM_CHARS)")  # fmt: skip
            if (bad := _unusable_character(text)) is not None:
                raise InvalidRequest(f"glossary entry {number}: its {side} holds {bad}", "invalid_glossary")
            if not term_words(text):
                raise InvalidRequest(f"glossary entry {number}: its {side} has no word (letters or digits)",
                                     "invalid_glossary")  # fmt: skip
        words = term_words(source)
        if words in seen:
            raise InvalidRequest(f"glossary entry {number}: its source {source!r} is entry {seen[words]}'s term "
                                 "again", "invalid_glossary")  # fmt: skip
        seen[words] = number
        kept.append((source, target))
    return tuple(kept)


def parse_table(text: str, delimiter: str) -> list[tuple[str, str]]:
    """A CSV (RFC 4180 quoting) or TSV glossary, one entry a row: source, target (DeepL's four columns, with the
    languages, are taken too); blank rows skipped, a first row "source, target" taken as a header. 422 naming the row
    otherwise."""
    quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=True)
    pairs = []
    try:
        for number, row in enumerate(rows, 1):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) not in (2, _LANGUAGE_COLUMNS):
                raise InvalidRequest(f"glossary row {number}: {len(row)} columns; a row is source, target",
                                     "invalid_glossary")  # fmt: skip
            if number == 1 and tuple(cell.strip().lower() for cell in row[:2]) == _HEADER:
                continue
            pairs.append((row[0], row[1]))
    except csv.Error as exc:
        raise InvalidRequest(f"glossary row {rows.line_num}: {exc}", "invalid_glossary") from None
    return pairs


def resolve(store, limits: Limits, owner: str, name: str | None, entries) -> AppliedGlossary | None:
    """The glossary a request asks for: ``owner``'s glossary ``name`` (404 when that owner has none by that name,
    whoever else may), or ``entries`` sent with it (checked, within ``inline_entries``); None for neither. Blocking:
    callers run it in a thread."""
    if name is not None:
        stored = store.get(owner, name)
        if stored is None:
            raise GlossaryNotFound(f"no glossary {name!r} for this key (GET /glossaries lists them)")
        return applied(stored.entries, name)
    if entries is None:
        return None
    return applied(check_entries(entries, limits, limits.inline_entries, "SUMMARIZER_MAX_INLINE_GLOSSARY_ENTRIES"))


# --- stores ------------------------------------------------------------------------------------------------------
def _guarded(method):
    """A store's failure (a lock held too long, a broken file, Redis down) as ``GlossariesUnavailable``."""

    def guarded(self, *args):
        try:
            return method(self, *args)
        except (GlossariesUnavailable, TooManyGlossaries):
            raise
        except Exception as exc:  # noqa: BLE001 - sqlite3 and redis errors alike
            raise GlossariesUnavailable(f"the glossary store failed ({type(exc).__name__}); retry shortly") from exc

    return guarded


def _record(name: str, entries: Entries, updated: float) -> StoredGlossary:
    return StoredGlossary(name, version_of(entries), entries, updated)


class SqliteGlossaries:
    """One row per (owner, name), its entries as JSON; one connection, its calls one at a time. The file is opened at
    the first call (a file that cannot be opened fails that call with 503, never the service's start) and again
    after a call that failed."""

    SCHEMA = ("CREATE TABLE IF NOT EXISTS glossaries (owner TEXT NOT NULL, name TEXT NOT NULL, entries TEXT NOT NULL, "
              "entry_count INTEGER NOT NULL, version TEXT NOT NULL, updated REAL NOT NULL, PRIMARY KEY (owner, name))")

    def __init__(self, path: Path, timeout_s: float):
        self.path, self.timeout_s = Path(path), timeout_s
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @contextmanager
    def _connection(self):
        """The connection, this call's alone; closed when the call fails, so the next one opens the file again."""
        with self._lock:
            try:
                if self._db is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._db = connect(self.path, "FULL", self.timeout_s)  # an accepted PUT survives a power cut
                    self._db.execute(self.SCHEMA)
                yield self._db
            except sqlite3.Error:
                self._close()
                raise

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @_guarded
    def put(self, owner: str, name: str, entries: Entries, per_key: int) -> StoredGlossary:
        stored = _record(name, entries, time.time())
        with self._connection() as db, transaction(db):
            (others,) = db.execute("SELECT count(*) FROM glossaries WHERE owner = ? AND name != ?",
                                         (owner, name)).fetchone()  # fmt: skip
            if others >= per_key:
                raise TooManyGlossaries(f"this key keeps {others} glossaries, the most it may "
                                        f"(SUMMARIZER_MAX_GLOSSARIES_PER_KEY); delete one first")  # fmt: skip
            db.execute("INSERT OR REPLACE INTO glossaries VALUES (?, ?, ?, ?, ?, ?)",
                             (owner, name, json.dumps(entries, ensure_ascii=False), len(entries), stored.version,
                              stored.updated))  # fmt: skip
        return stored

    @_guarded
    def get(self, owner: str, name: str) -> StoredGlossary | None:
        with self._connection() as db:
            row = db.execute("SELECT entries, updated FROM glossaries WHERE owner = ? AND name = ?",
                                   (owner, name)).fetchone()  # fmt: skip
        return None if row is None else _record(name, tuple(map(tuple, json.loads(row[0]))), row[1])

    @_guarded
    def delete(self, owner: str, name: str) -> bool:
        with self._connection() as db:
            return db.execute("DELETE FROM glossaries WHERE owner = ? AND name = ?", (owner, name)).rowcount > 0

    @_guarded
    def summaries(self, owner: str) -> list[dict]:
        with self._connection() as db:
            rows = db.execute("SELECT name, version, entry_count, updated FROM glossaries WHERE owner = ? "
                                    "ORDER BY name", (owner,)).fetchall()  # fmt: skip
        return [{"name": n, "version": v, "entry_count": c, "updated": u} for n, v, c, u in rows]

    def close(self) -> None:
        with self._lock:
            self._close()


class RedisGlossaries:
    """Per owner: a hash of its glossaries' summaries (name → JSON) and a string per glossary (its entries), written
    together by one script, which also keeps the owner within its count. No TTL: a glossary lives until deleted."""

    PUT = """
    if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then
        return redis.call('HLEN', KEYS[1])
    end
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
    redis.call('SET', KEYS[2], ARGV[3])
    return -1
    """

    def __init__(self, url: str, timeout_s: float, prefix: str = "summarizer:glossaries:"):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                           retry=Retry(NoBackoff(), 0))  # fmt: skip
        self.prefix = prefix
        self._put = self.client.register_script(self.PUT)

    def _keys(self, owner: str, name: str = "") -> tuple[str, str]:
        return f"{self.prefix}{owner}", f"{self.prefix}{owner}:{name}"

    @_guarded
    def put(self, owner: str, name: str, entries: Entries, per_key: int) -> StoredGlossary:
        stored = _record(name, entries, time.time())
        summary = json.dumps(stored.summary())
        count = self._put(keys=list(self._keys(owner, name)),
                          args=[name, summary, json.dumps(entries, ensure_ascii=False), per_key])  # fmt: skip
        if count >= 0:
            raise TooManyGlossaries(f"this key keeps {count} glossaries, the most it may "
                                    f"(SUMMARIZER_MAX_GLOSSARIES_PER_KEY); delete one first")  # fmt: skip
        return stored

    @_guarded
    def get(self, owner: str, name: str) -> StoredGlossary | None:
        summaries, entries = self._keys(owner, name)
        pipe = self.client.pipeline(transaction=True)
        summary, value = pipe.hget(summaries, name).get(entries).execute()
        if summary is None or value is None:
            return None
        return _record(name, tuple(map(tuple, json.loads(value))), json.loads(summary)["updated"])

    @_guarded
    def delete(self, owner: str, name: str) -> bool:
        summaries, entries = self._keys(owner, name)
        removed, _ = self.client.pipeline(transaction=True).hdel(summaries, name).delete(entries).execute()
        return removed > 0

    @_guarded
    def summaries(self, owner: str) -> list[dict]:
        found = self.client.hgetall(self._keys(owner)[0])
        return sorted((json.loads(v) for v in found.values()), key=lambda s: s["name"])

    def close(self) -> None:
        self.client.close()


def open_glossaries(settings) -> "SqliteGlossaries | RedisGlossaries":
    if settings.cache_url:
        return RedisGlossaries(settings.cache_url, settings.glossaries_timeout_s)
    return SqliteGlossaries(settings.glossaries_path(), settings.glossaries_timeout_s)
