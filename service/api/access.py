"""Who may call, and how often: API keys (constant-time check) and a token bucket per key (or per client address
when no keys are configured). Keys are never logged: a caller is identified by a short hash of its key."""

import hashlib
import hmac
import threading
import time
from collections import OrderedDict

from ..config import AcceptedKey
from .middleware import send_error

# Health checks, and the editor's page with its static files (the page asks for the key and sends it itself), and
# Swagger UI's script and style (the /docs page itself, and the schema, need a key).
DOCS_ASSETS = "/docs-assets"
FILE_PREFIXES = ("/static/", DOCS_ASSETS + "/")  # the mounted folders of files
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/"})
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


class DailyQuotas:
    """Characters of text per key name and UTC day (this process's count: each replica counts its own)."""

    def __init__(self):
        self._used: dict[str, tuple[int, int]] = {}  # name → (day number, characters)
        self._lock = threading.Lock()

    def charge(self, name: str, limit: int, chars: int, now: float | None = None) -> float:
        """0 when ``chars`` fit in today's quota (and they are counted), else seconds until it resets."""
        now = time.time() if now is None else now
        day = int(now // 86400)
        with self._lock:
            used_day, used = self._used.get(name, (day, 0))
            used = used if used_day == day else 0
            if used + chars > limit:
                return (day + 1) * 86400 - now
            self._used[name] = (day, used + chars)
            return 0.0


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
        await self.app(scope, receive, send)
