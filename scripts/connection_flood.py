"""A connection flood against a running service, on loopback: attackers try to hold N idle connections (reopening
each one the service closes) while another client probes /healthz and sends one real request. Prints (or writes)
what the other client got.

    python scripts/connection_flood.py --url http://127.0.0.1:8000 --connections 1200 --mode silent --probes 100

Modes: ``silent`` (connect, never send a byte), ``slowloris`` (a request head sent one byte at a time, never
finished), ``keepalive`` (one whole request, then idle on keep-alive), ``mixed`` (a third of each). ``--peers N``
spreads the attackers over 127.0.0.11 … 127.0.0.(10+N); the probing client is 127.0.0.2. Loopback only.
"""

import argparse
import asyncio
import ipaddress
import json
import multiprocessing
import statistics
import sys
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx

MODES = ("silent", "slowloris", "keepalive")
PROBE_CLIENT = "127.0.0.2"
REAL_REQUEST = {"text": "भाजपा ने आज बैठक की।", "options": {"summary_languages": ["en"]}}


class Flood:
    """``connections`` attacker slots, each reopening its connection whenever the service closes it."""

    def __init__(self, host: str, port: int, connections: int, mode: str, peers: int, slow_byte_s: float = 0.5):
        self.host, self.port, self.slow_byte_s = host, port, slow_byte_s
        modes = [MODES[i % 3] if mode == "mixed" else mode for i in range(connections)]
        self.slots = [(slot_mode, f"127.0.0.{11 + i % peers}") for i, slot_mode in enumerate(modes)]
        self.open = self.opened = self.refused = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._hold(mode, source)) for mode, source in self.slots]

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _hold(self, mode: str, source: str) -> None:
        while not self._stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port, local_addr=(source, 0))
            except OSError:
                self.refused += 1
                await asyncio.sleep(0.05)  # the listen queue is full: the service is not accepting
                continue
            self.open += 1
            self.opened += 1
            try:
                await self._idle(mode, reader, writer)
            except (OSError, EOFError):  # reset, or closed before the answer (asyncio.IncompleteReadError)
                pass
            finally:
                self.open -= 1
                writer.close()

    async def _idle(self, mode: str, reader, writer) -> None:
        """Holds the connection the way ``mode`` says until the service closes it."""
        if mode == "keepalive":
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
            await reader.readuntil(b"}")  # the whole answer ({"status":"ok"}); then idle on keep-alive
        if mode == "slowloris":
            for byte in f"GET /info HTTP/1.1\r\nHost: {self.host}\r\nX-Padding: {'a' * 10_000}".encode():
                writer.write(bytes([byte]))
                await writer.drain()
                try:
                    if await asyncio.wait_for(reader.read(1), self.slow_byte_s) == b"":
                        return  # closed by the service
                except asyncio.TimeoutError:
                    continue
        await reader.read()  # b"" once the service closes it


async def _flood(host, port, connections, mode, peers, settle_s, ready, stop, results) -> None:
    flood = Flood(host, port, connections, mode, peers)
    flood.start()
    deadline = time.monotonic() + settle_s
    while flood.opened < connections and time.monotonic() < deadline:  # every slot has connected once
        await asyncio.sleep(0.05)
    ready.set()
    while not stop.is_set():
        await asyncio.sleep(0.05)
    held = flood.open
    await flood.stop()
    results.put({"held_at_end": held, "opened": flood.opened, "connect_failures": flood.refused})


def _flood_process(*args) -> None:
    asyncio.run(_flood(*args))


@contextmanager
def flood_in_background(url: str, connections: int, mode: str = "silent", peers: int = 1, settle_s: float = 30.0):
    """The flood in a process of its own (its reconnecting must not slow the probes down); yields a dict that holds
    the flood's counts once the block is left."""
    parts = urlsplit(url)
    if not ipaddress.ip_address(parts.hostname).is_loopback:
        raise SystemExit("loopback only: the url must be http://127.x.x.x:port")
    context = multiprocessing.get_context("spawn")
    ready, stop, results = context.Event(), context.Event(), context.Queue()
    arguments = (parts.hostname, parts.port, connections, mode, peers, settle_s, ready, stop, results)
    process = context.Process(target=_flood_process, args=arguments, daemon=True)
    process.start()
    counts = {}
    try:
        if not ready.wait(settle_s + 30):
            raise RuntimeError("the flood did not start")
        yield counts
    finally:
        stop.set()
        counts.update(results.get(timeout=60))
        process.join(10)


def probe(url: str, count: int, interval_s: float = 0.1, timeout_s: float = 2.0) -> dict:
    """``count`` GET /healthz from another address, each on a new connection; what came back and how fast."""
    statuses, seconds = {}, []
    transport = httpx.HTTPTransport(local_address=PROBE_CLIENT)
    fresh = httpx.Limits(max_keepalive_connections=0)  # a new connection each time: it has to be accepted
    with httpx.Client(transport=transport, timeout=timeout_s, limits=fresh) as client:
        for _ in range(count):
            started = time.monotonic()
            try:
                response = client.get(url + "/healthz")
                status = str(response.status_code)
                if not response.headers.get("content-type", "").startswith("application/json"):
                    status += " (not JSON)"
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            seconds.append(time.monotonic() - started)
            statuses[status] = statuses.get(status, 0) + 1
            time.sleep(max(0.0, interval_s - (time.monotonic() - started)))
    return {"probes": count, "statuses": statuses, "ok_share": statuses.get("200", 0) / count,
            "seconds": {"median": round(statistics.median(seconds), 3), "max": round(max(seconds), 3)}}  # fmt: skip


def real_request(url: str, timeout_s: float = 120) -> dict:
    """One /summarize from another address."""
    started = time.monotonic()
    with httpx.Client(transport=httpx.HTTPTransport(local_address=PROBE_CLIENT), timeout=timeout_s) as client:
        try:
            status = client.post(url + "/summarize", json=REAL_REQUEST).status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
    return {"status": status, "seconds": round(time.monotonic() - started, 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--connections", type=int, default=1200)
    parser.add_argument("--mode", choices=MODES + ("mixed",), default="silent")
    parser.add_argument("--peers", type=int, default=1, help="attacker addresses (127.0.0.11 on)")
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--interval-s", type=float, default=0.1, help="between probes")
    parser.add_argument("--timeout-s", type=float, default=2.0, help="a probe's timeout")
    parser.add_argument("--settle-s", type=float, default=30.0, help="at most this long for the flood to connect")
    parser.add_argument("--json", help="write the result here too")
    args = parser.parse_args(argv)
    result = {"connections": args.connections, "mode": args.mode, "peers": args.peers}
    with flood_in_background(args.url, args.connections, args.mode, args.peers, args.settle_s) as flood:
        result["healthz"] = probe(args.url, args.probes, args.interval_s, args.timeout_s)
        result["summarize"] = real_request(args.url)
    result["flood"] = flood
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
