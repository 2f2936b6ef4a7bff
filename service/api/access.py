"""Who may call, and how often: API keys (constant-time check), a token bucket per key (or per client address
when no keys are configured), and daily character quotas per key (kept in SQLite, refunded for refused requests).
Keys are never logged: a caller is identified by a short hash of its key."""

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from contextvars import ContextVar
from pathlib import Path

from ..config import AcceptedKey
from ..sqlite_db import connect, transaction
from .middleware import HEALTH_PATHS, send_error

# Health checks, and the editor's page with its static files (the page asks for the key and sends it itself) and the
# list of languages it offers, and Swagger UI's script and style (the /docs page itself, and the schema, need a key).
DOCS_ASSETS = "/docs-assets"
FILE_PREFIXES = ("/static/", DOCS_ASSETS + "/")  # the mounted folders of files
OPEN_PATHS = HEALTH_PATHS | {"/", "/languages"}
OPEN_PREFIXES = FILE_PREFIXES


def presented_key(headers: dict[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return headers.get("x-api-key") or None


def matching_key(presented: str, accepted: list[AcceptedKey]) -> AcceptedKey | None:
    """Compare against every key, in constant time each, without stopping at the first match."""
    given = presented.encode()
    found = None
    for key in accepted:
        if hmac.compare_digest(given, key.key.encode()):
            found = key
    return found


# The quota charges of the request being handled: AccessGuard opens the list, DailyQuotas.charge adds to it (the
# routes charge deep in the handler, this is how the guard learns what to give back when the request is refused).
_request_charges: ContextVar[list | None] = ContextVar("request_charges", default=None)
QUOTA_SCHEMA = "CREATE TABLE IF NOT EXISTS quota_use (name TEXT, day INTEGER, chars INTEGER, PRIMARY KEY (name, day))"


class DailyQuotas:
    """Characters of text per key name and UTC day, in a SQLite file (``path``; kept across restarts, and shared by
    replicas that share the file) or in memory (None). A request that is refused is given its charge back."""

    def __init__(self, path: Path | None = None):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # NORMAL: a power cut may forget the last charges, never corrupt the file. A short wait: this runs on the
        # event loop, and another replica holds the write lock only for one small transaction.
        self._db = connect(Path(path) if path is not None else ":memory:", "NORMAL", timeout_s=2)
        self._db.execute(QUOTA_SCHEMA)
        self._db.execute("DELETE FROM quota_use WHERE day < ?", (_day(time.time()),))  # yesterday's are spent
        self._lock = threading.Lock()

    def charge(self, name: str, limit: int, chars: int, now: float | None = None) -> float:
        """0 when ``chars`` fit in today's quota (and they are counted), else seconds until it resets."""
        now = time.time() if now is None else now
        day = _day(now)
        with self._lock, transaction(self._db):
            row = self._db.execute("SELECT chars FROM quota_use WHERE name = ? AND day = ?", (name, day)).fetchone()
            used = row[0] if row else 0
            if used + chars > limit:
                return (day + 1) * 86400 - now
            self._db.execute("INSERT OR REPLACE INTO quota_use VALUES (?, ?, ?)", (name, day, used + chars))
        if (charges := _request_charges.get()) is not None:
            charges.append((self, name, day, chars))
        return 0.0

    def refund(self, name: str, day: int, chars: int) -> None:
        with self._lock:
            self._db.execute("UPDATE quota_use SET chars = max(0, chars - ?) WHERE name = ? AND day = ?",
                             (chars, name, day))  # fmt: skip

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _day(now: float) -> int:
    return int(now // 86400)


def refused(status: int) -> bool:
    """Statuses a request is answered with when the service did not do its work: it is not charged for them. Not 499:
    a client that hangs up after its work began (work done, or dropped from the queues) is charged."""
    return (400 <= status < 500 and status != 499) or status == 503


def caller_id(key: str) -> str:
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:12]


class TokenBuckets:
    """``rate_per_minute`` requests per caller, bursts up to ``burst``; remembers at most ``max_callers``."""

    def __init__(self, rate_per_minute: float, burst: int, max_callers: int = 100_000):
        self.rate_per_s = rate_per_minute / 60
        self.burst = burst
        self.max_callers = max_callers
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _tokens(self, caller: str, now: float) -> float:
        """The caller's tokens at ``now``: what it had, refilled at the rate since, at most ``burst``."""
        tokens, last = self._buckets.get(caller, (float(self.burst), now))
        return min(self.burst, tokens + (now - last) * self.rate_per_s)

    def wait(self, caller: str, now: float | None = None) -> float:
        """Seconds until ``caller`` has a token (0 when it has one now), spending nothing."""
        tokens = self._tokens(caller, time.monotonic() if now is None else now)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate_per_s

    def take(self, caller: str, now: float | None = None) -> float:
        """0 when allowed (a token is spent), else the seconds until a token is there."""
        now = time.monotonic() if now is None else now
        tokens = self._tokens(caller, now)
        self._buckets.pop(caller, None)  # re-inserted below: the most recent caller goes last (evicted last)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate_per_s
        self._buckets[caller] = (tokens, now)
        if len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)
        return wait


class AccessGuard:
    """Pure ASGI middleware: 401 without a key, 403 with a wrong one, 429 + Retry-After over the rate. An address that
    sent ``failures_per_minute`` wrong keys (a burst of as many, then that rate) gets 429 for every key it sends, the
    right one included (else a guesser would tell a hit from the 429s), until its bucket refills."""

    def __init__(self, app, keys: list[AcceptedKey], rate_per_minute: float, burst: int, failures_per_minute: float = 10):
        self.app = app
        self.keys = keys
        self.buckets = TokenBuckets(rate_per_minute, burst) if rate_per_minute > 0 else None
        # Keys with a rate of their own (0: no limit for that key).
        self.key_buckets = {k.name: TokenBuckets(k.rate_per_minute, burst) if k.rate_per_minute else None
                            for k in keys if k.rate_per_minute is not None}  # fmt: skip
        per_minute = max(1, round(failures_per_minute))
        self.failures = TokenBuckets(failures_per_minute, per_minute) if failures_per_minute > 0 else None

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES) or scope["method"] == "OPTIONS":
            return await self.app(scope, receive, send)
        request_id = scope.get("state", {}).get("request_id")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = presented_key(headers)
        address = "ip:" + (scope.get("client") or ("unknown",))[0]
        if self.keys:
            if key is None:
                message = "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
                return await send_error(send, 401, "missing_api_key", message, request_id, [("www-authenticate", "Bearer")])
            if self.failures is not None and (wait := self.failures.wait(address)) > 0:
                retry = max(1, round(wait + 0.5))
                message = f"too many wrong API keys from this address; retry in {retry} s"
                return await send_error(send, 429, "too_many_failed_keys", message, request_id, [("retry-after", retry)])
            accepted = matching_key(key, self.keys)
            if accepted is None:
                if self.failures is not None:
                    self.failures.take(address)
                return await send_error(send, 403, "invalid_api_key", "this API key is not accepted", request_id)
            caller = caller_id(key)
            state = scope.setdefault("state", {})
            state["key_name"], state["daily_chars"] = accepted.name, accepted.daily_chars
            buckets = self.key_buckets.get(accepted.name, self.buckets)
        else:
            caller, buckets = address, self.buckets
        scope.setdefault("state", {})["caller"] = caller
        if buckets is not None and (wait := buckets.take(caller)) > 0:
            retry = max(1, round(wait + 0.5))
            message = f"rate limit reached for this caller; retry in {retry} s"
            return await send_error(send, 429, "rate_limited", message, request_id, [("retry-after", retry)])
        await self._charged_unless_refused(scope, receive, send)

    async def _charged_unless_refused(self, scope, receive, send):
        """Runs the request; the quota charges it made are given back when it is answered with a refusal (before the
        answer goes out, so that the caller's next request sees them back)."""
        charges = []
        token = _request_charges.set(charges)

        async def send_refunding_refusals(message):
            if message["type"] == "http.response.start" and refused(message["status"]):
                for quotas, name, day, chars in charges:
                    quotas.refund(name, day, chars)
                charges.clear()
            await send(message)

        try:
            await self.app(scope, receive, send_refunding_refusals)
        finally:
            _request_charges.reset(token)
