"""How the service opens its SQLite files (the translation memory, the job store): autocommit connections usable
from any thread, in WAL mode (readers never wait for the writer; several processes may share a file), and explicit
``BEGIN IMMEDIATE`` transactions for the writes that must be atomic."""

import sqlite3
from contextlib import contextmanager
from pathlib import Path


def connect(path: Path, synchronous: str, timeout_s: float) -> sqlite3.Connection:
    """``synchronous``: "FULL" where a committed write must survive a power cut, "NORMAL" where losing the last
    one only costs work done again."""
    db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db


@contextmanager
def transaction(db: sqlite3.Connection):
    """A write transaction, taken at once (so two writers never both read, then fail to upgrade), rolled back on
    any exception, a failed COMMIT (a full disk) included: the connection is never left inside a transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL, an I/O error)
            db.execute("ROLLBACK")
        raise
