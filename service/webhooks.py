"""Job webhooks: which callback URLs are accepted (strict syntax), where a result may be sent (the SSRF guard), how
it is signed, and one delivery attempt.

Signature: ``X-Signature: sha256=<hex HMAC-SHA256 of "<X-Signature-Timestamp>.<body>" with the webhook secret>``.
The timestamp is inside the signed bytes, so a receiver that rejects old timestamps (5 minutes) rejects replays.

The guard resolves the host once, checks every address it resolves to (each IPv4 address an IPv6 one may carry
included), and the POST goes to the checked address itself: a second DNS answer is never asked for (no rebinding).
"""

import hashlib
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import httpx
import idna

from .errors import CallbackRefused

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
net = ipaddress.ip_network

# Cloud metadata and host-agent services outside 169.254.0.0/16: Alibaba, AWS (IPv6), Google (IPv6), Oracle, Azure.
METADATA_ADDRESSES = [net(n) for n in (
    "100.100.100.200/32", "fd00:ec2::254/128", "fd20:ce::254/128", "192.0.0.192/32", "168.63.129.16/32",
)]  # fmt: skip
METADATA_NAMES = {
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal",
}  # fmt: skip
# Never a destination, whatever the settings: "this host", and addresses no receiver has.
NEVER = [net(n) for n in ("0.0.0.0/8", "240.0.0.0/4", "224.0.0.0/4", "::/128", "ff00::/8", "fec0::/10")]
# IPv6 forms that carry an IPv4 address in their last 32 bits: mapped, SIIT-translated, NAT64's well-known prefix,
# and the deprecated "compatible" form (below, without :: and ::1).
LAST_32_BITS = [net(n) for n in ("::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96", "::/96")]
# NAT64's local-use prefix (RFC 8215): the operator's prefix length decides where the IPv4 address sits.
NAT64_LOCAL, NAT64_LOCAL_LENGTHS = net("64:ff9b:1::/48"), (48, 56, 64, 96)


@dataclass(frozen=True)
class Callback:
    """A syntactically valid callback URL, split."""

    url: str
    scheme: str
    host: str  # lower case, no trailing dot; an IP literal in its canonical form (no brackets)
    port: int
    address: Address | None  # when the host is an IP literal


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: the callback URL with its host replaced by the checked address."""

    url: str
    host_header: str
    sni_hostname: str | None  # TLS: the certificate is checked against the name, not the address


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


def _refuse(what: str) -> NoReturn:
    raise CallbackRefused(f"callback_url {what}")


def parse_callback(url: str, max_chars: int) -> Callback:
    """``CallbackRefused`` unless ``url`` is a plain http(s) URL: printable ASCII without spaces, backslashes or a
    fragment, no credentials, a valid host (a DNS name valid under IDNA, or a canonical IP address literal without a
    zone), a port in 1-65535, at most ``max_chars`` characters. Only syntax: no name is resolved."""
    if len(url) > max_chars:
        _refuse(f"is over {max_chars} characters (SUMMARIZER_WEBHOOK_MAX_URL_CHARS)")
    if not (url.isascii() and url.isprintable()) or " " in url:
        _refuse("must be printable ASCII without spaces or control characters (international names as xn--)")
    if "\\" in url or "#" in url:
        _refuse("must not contain a backslash or a fragment (#)")
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed [ in the host
        _refuse("is not a URL")
    if parts.scheme not in ("http", "https") or not url.lower().startswith(parts.scheme + "://"):
        _refuse("must be an http:// or https:// URL")
    if "@" in parts.netloc:
        _refuse("must not carry credentials")
    host, port = _split_authority(parts.netloc)
    address, host = _check_host(host)
    return Callback(url, parts.scheme, host, port or (443 if parts.scheme == "https" else 80), address)


def _split_authority(netloc: str) -> tuple[str, int | None]:
    if netloc.startswith("["):
        host, closed, rest = netloc[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            _refuse("has a malformed [IPv6] host")
        host, port_text = "[" + host + "]", rest[1:] if rest else None
    else:
        host, colon, port_text = netloc.partition(":")
        port_text = port_text if colon else None
    if port_text is None:
        return host, None
    if not (port_text.isdigit() and len(port_text) <= 5 and 1 <= int(port_text) <= 65535):
        _refuse(f"has an invalid port {port_text!r} (1-65535)")
    return host, int(port_text)


def _check_host(host: str) -> tuple[Address | None, str]:
    """(the IP literal or None, the host in canonical form)."""
    if host.startswith("["):
        try:
            address = ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            _refuse(f"has an invalid IPv6 address {host}")
        if address.scope_id is not None:
            _refuse("must not name an IPv6 zone")
        return address, str(address)
    host = host.lower()
    host = host[:-1] if host.endswith(".") else host  # one trailing dot: the same fully qualified name
    if not host:
        _refuse("must name a host")
    last = host.rpartition(".")[2]
    if last.isdigit() or last.startswith("0x"):  # numbers are an IPv4 address: only a.b.c.d in decimal, no variants
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            _refuse(f"host {host!r} is not an IPv4 address in dotted decimal (a.b.c.d)")
        return address, str(address)
    try:
        idna.encode(host)  # letters, digits, hyphens; label and name lengths; valid xn-- labels
    except idna.IDNAError as exc:
        _refuse(f"host {host!r} is not a valid host name ({exc})")
    return None, host


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Exact names or addresses, or ``*.example.com`` for its subdomains."""
    host = _canonical(host)
    for pattern in allowed:
        pattern = _canonical(pattern)
        if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def _canonical(host: str) -> str:
    host = host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def carried_ipv4(address: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for: mapped, translated, compatible, NAT64's well-known prefix,
    6to4, and Teredo (its server and its client)."""
    if address.version == 4:
        return []
    carried = []
    if any(address in network for network in LAST_32_BITS) and int(address) > 1:  # :: and ::1 are not IPv4
        carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        carried.append(address.sixtofour)
    if address.teredo is not None:
        carried += list(address.teredo)
    return carried


def maybe_carried_ipv4(address: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a local-use NAT64 address may stand for, one per prefix length RFC 6052 allows (the
    operator's choice, unknown here)."""
    if address.version == 4 or address not in NAT64_LOCAL:
        return []
    octets = address.packed[:8] + address.packed[9:]  # bits 64-71 never carry the address
    return [ipaddress.IPv4Address(octets[n // 8 - (n == 96) :][:4]) for n in NAT64_LOCAL_LENGTHS]


def refusal(address: Address, allow_link_local: bool) -> str | None:
    """Why a connection to ``address`` is refused, or None. The IPv4 addresses it carries are checked too."""
    certain = [address, *carried_ipv4(address)]
    if any(candidate in network for candidate in certain for network in NEVER):
        return f"{address} is not a destination"
    if allow_link_local:
        return None
    for candidate in certain + maybe_carried_ipv4(address):
        if candidate.is_link_local or any(candidate in network for network in METADATA_ADDRESSES):
            return f"{address} is a link-local or cloud metadata address"
    return None


def resolve_callback(callback: Callback, allowed: list[str], allow_link_local: bool = False) -> Target:
    """``CallbackRefused`` unless the host is allowed and every address it resolves to passes ``refusal``; else the
    target pinned to the first address. Resolves the name (blocking: run it off the event loop)."""
    if not allowed:
        raise CallbackRefused("this service sends no webhooks: SUMMARIZER_WEBHOOK_ALLOWED_HOSTS is empty")
    if not host_allowed(callback.host, allowed):
        raise CallbackRefused(f"callback host {callback.host!r} is not in SUMMARIZER_WEBHOOK_ALLOWED_HOSTS")
    if callback.host in METADATA_NAMES and not allow_link_local:
        raise CallbackRefused(f"callback host {callback.host!r} is a cloud metadata service")
    addresses = [callback.address] if callback.address else _resolve(callback.host, callback.port)
    for address in addresses:
        if problem := refusal(address, allow_link_local):
            raise CallbackRefused(f"callback host {callback.host!r} resolves to a blocked address: {problem}")
    return _pinned(callback, addresses[0])


def _resolve(host: str, port: int) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        # A zone (fe80::1%eth0) is dropped: the address alone decides.
        addresses = [ipaddress.ip_address(info[4][0].partition("%")[0]) for info in infos]
    except (OSError, ValueError, UnicodeError) as exc:
        raise CallbackRefused(f"callback host {host!r} does not resolve: {exc}") from None
    if not addresses:
        raise CallbackRefused(f"callback host {host!r} does not resolve")
    return addresses


def _pinned(callback: Callback, address: Address) -> Target:
    parts = urlsplit(callback.url)
    shown = f"[{address}]" if address.version == 6 else str(address)
    netloc = shown if parts.port is None else f"{shown}:{parts.port}"
    url = urlunsplit((callback.scheme, netloc, parts.path, parts.query, ""))
    named = callback.address is None
    return Target(url, parts.netloc, callback.host if named and callback.scheme == "https" else None)


def check_callback(url: str, allowed: list[str], allow_link_local: bool = False, max_chars: int = 2000) -> Target:
    """``parse_callback`` then ``resolve_callback``: the one check of a URL, at submission and at each delivery."""
    return resolve_callback(parse_callback(url, max_chars), allowed, allow_link_local)


async def deliver(client: httpx.AsyncClient, target: Target, body: bytes, secret: str, job_id: str) -> str | None:
    """One POST of a job's result to the checked address; None on a 2xx answer, else what went wrong. Redirects are
    not followed; the receiver's answer body is never read."""
    timestamp = str(int(time.time()))
    headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "X-Job-Id": job_id,
        "X-Signature-Timestamp": timestamp,
        "X-Signature": signature(secret, timestamp, body),
    }
    extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
    request = client.build_request("POST", target.url, content=body, headers=headers, extensions=extensions)
    try:
        response = await client.send(request, stream=True)
        await response.aclose()
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"
