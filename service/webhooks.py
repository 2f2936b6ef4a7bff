"""Job webhooks: where a result may be sent (SSRF guard), how it is signed, and one delivery attempt.

Signature: ``X-Signature: sha256=<hex HMAC-SHA256 of "<X-Signature-Timestamp>.<body>" with the webhook secret>``.
The timestamp is inside the signed bytes, so a receiver that rejects old timestamps (5 minutes) rejects replays.
"""

import hashlib
import hmac
import ipaddress
import socket
import time
from urllib.parse import urlsplit

import httpx

from .errors import CallbackRefused

# Never a destination unless the operator says so: link-local (cloud metadata at 169.254.169.254 and AWS's
# fd00:ec2::254 among them), "this host", multicast and reserved space. Loopback and private addresses are allowed
# only through the host allow-list.
BLOCKED = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "100.100.100.200/32",
    "::/128", "fe80::/10", "ff00::/8", "fd00:ec2::254/128",
)]  # fmt: skip


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Exact names or addresses, or ``*.example.com`` for its subdomains."""
    host = host.lower().rstrip(".")
    for pattern in allowed:
        pattern = pattern.lower().rstrip(".")
        if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def check_callback(url: str, allowed: list[str], allow_link_local: bool = False) -> None:
    """``CallbackRefused`` unless ``url`` is http(s), names an allowed host, and resolves only to addresses outside
    the blocked ranges. Resolves the name (blocking: run it off the event loop); checked again at each delivery."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackRefused("callback_url must be an http or https URL with a host")
    if parts.username or parts.password:
        raise CallbackRefused("callback_url must not carry credentials")
    if not allowed:
        raise CallbackRefused("this service sends no webhooks: SUMMARIZER_WEBHOOK_ALLOWED_HOSTS is empty")
    if not host_allowed(parts.hostname, allowed):
        raise CallbackRefused(f"callback host {parts.hostname!r} is not in SUMMARIZER_WEBHOOK_ALLOWED_HOSTS")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as exc:
        raise CallbackRefused(f"callback host {parts.hostname!r} does not resolve: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not allow_link_local and any(address in network for network in BLOCKED):
            raise CallbackRefused(f"callback host {parts.hostname!r} resolves to {address}, a blocked address")


async def deliver(client: httpx.AsyncClient, url: str, body: bytes, secret: str, job_id: str) -> str | None:
    """One POST of a job's result; None on a 2xx answer, else what went wrong. Redirects are not followed."""
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Job-Id": job_id,
        "X-Signature-Timestamp": timestamp,
        "X-Signature": signature(secret, timestamp, body),
    }
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"
