"""uvicorn, hardened for hostile clients and bounded shutdown.

* Idle connections cost a descriptor and no work, so they never take the place of requests. A connection is idle
  while it has no request in progress: before its request head is complete (silent, or sending it slowly) and
  between requests on keep-alive. At most ``max_idle_connections`` are idle, ``max_idle_connections_per_client``
  from one address; above that an idle connection is closed (``IdleConnections``: the oldest of that address, or of
  the address holding the most). An idle connection is closed anyway after ``header_timeout_s`` without a complete
  head (from opening, or from its previous response). A connection whose next request already waits in the kernel
  (sent, not yet read by a busy event loop) is never closed as idle: its client would get a reset and no answer.
* At most ``max_connections`` requests are in progress (JSON 503 ``busy`` above, ``RequestSlots``); /healthz and
  /readyz are always answered. uvicorn's own limit (a plain-text 503 that counted idle connections) is off.
* The process asks for its hard descriptor limit and sizes both caps, and how many connections are accepted at a
  time, to fit under it (``ConnectionBudget``), so a flood of connections is closed rather than exhausting
  descriptors (which stops every accept for a second); the connections waiting to be accepted wait in the kernel's
  queue (``LISTEN_QUEUE``), not in descriptors. The event loop's "accept failed: too many open files" error, should
  it still come, is logged at most once every 10 s.
* SIGTERM: stop taking work (/readyz and new requests answer 503), let the requests in flight finish for up to
  ``grace_s``, then answer those still running with a JSON 503 ``shutting_down``, close the engines and exit 0,
  within the grace plus a few seconds. A second signal stops at once.
"""

import dataclasses
import fcntl
import itertools
import logging
import os
import resource
import signal
import socket
import struct
import sys
import termios
import threading
import time
from collections import OrderedDict

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .api.middleware import RequestSlots

log = logging.getLogger("service")
CUT_OFF_WAIT_S = 2.0  # after the grace: how long the cut-off requests get to send their 503
UVICORN_SHUTDOWN_S = 2  # then: uvicorn's own wait for connections to close
LISTEN_QUEUE = 4096  # connections the kernel holds until accepted (no descriptor each); Linux caps it at somaxconn
IDLE_CLOSED = "idle connection closed: over the idle connection limit"
CLOSE_SCAN = 8  # idle connections looked at, oldest first, for one to close (each one costs a system call)
HEAD_RECHECK_S = 0.5  # a connection whose head timer fired with bytes waiting is looked at again after this


def unread_bytes(transport) -> int:
    """Bytes the kernel holds for this connection that the event loop has not read yet: a request on its way. A
    connection that looks idle but has them must not be closed: its client has sent a request and would get a reset
    and no answer (a busy event loop reads late)."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return 0
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
    except (OSError, ValueError):  # closed meanwhile (fileno -1), or not a socket
        return 0


class IdleConnections:
    """The connections without a request in progress, oldest first, by client address. Adding one over a cap closes
    an idle connection: over the per-client cap, that client's oldest; over the total, the oldest of the client that
    holds the most (so a flood from many addresses closes its own connections, not a newcomer's that has yet to
    send its request). Each step is O(1): clients are kept in buckets by how many idle connections they hold."""

    def __init__(self, max_total: int, max_per_client: int):
        self.max_total, self.max_per_client = max_total, max_per_client
        self._count = 0
        self._by_client: dict[str | None, OrderedDict] = {}  # client address (None: unknown) → its idle connections
        self._holding: dict[int, dict[str | None, None]] = {}  # n → the clients holding n idle connections
        self._most = 0  # the largest n held

    def __len__(self) -> int:
        return self._count

    def add(self, connection, client: str | None) -> None:
        theirs = self._by_client.setdefault(client, OrderedDict())
        theirs[connection] = None
        self._moved(client, len(theirs) - 1, len(theirs))
        if client is not None and len(theirs) > self.max_per_client:
            self._close_oldest(theirs)
        if self._count > self.max_total:
            heaviest = next(iter(self._holding[self._most]))
            self._close_oldest(self._by_client[heaviest])

    def discard(self, connection, client: str | None) -> None:
        theirs = self._by_client.get(client, {})
        if connection not in theirs:
            return
        del theirs[connection]
        self._moved(client, len(theirs) + 1, len(theirs))
        if not theirs:
            del self._by_client[client]

    def _moved(self, client, before: int, after: int) -> None:
        self._count += after - before
        if before:
            del self._holding[before][client]
            if not self._holding[before]:
                del self._holding[before]
        if after:
            self._holding.setdefault(after, {})[client] = None
        if after > self._most:
            self._most = after
        elif before == self._most and before not in self._holding:
            self._most = after  # counts move one at a time: the next largest is one less

    def _close_oldest(self, theirs: OrderedDict) -> None:
        """Close the oldest of these idle connections whose client has not sent its next request yet (see
        ``unread_bytes``); when the oldest few all have, close none: they are about to leave the idle set."""
        for connection in itertools.islice(theirs, CLOSE_SCAN):
            if unread_bytes(connection.transport) == 0:
                self._close(connection)
                return

    def _close(self, connection) -> None:
        self.discard(connection, connection.client_address)
        connection.transport.close()
        log.warning(IDLE_CLOSED)  # at most once every 10 s, with a count (make_server's filter)


def guarded_protocol(header_timeout_s: float, idle: IdleConnections) -> type[H11Protocol]:
    class GuardedProtocol(H11Protocol):
        """uvicorn's HTTP/1.1 protocol, telling ``idle`` when the connection has no request in progress, and closing
        it when it has not sent a complete request head in time."""

        _head_timer = None

        def _between_requests(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        @property
        def client_address(self) -> str | None:
            return self.client[0] if self.client else None

        def _now_idle(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(header_timeout_s, self._head_timed_out)
            idle.add(self, self.client_address)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            if not self._between_requests():
                return
            if unread_bytes(self.transport):  # its request arrived while the event loop was busy: read it first
                self._head_timer = self.loop.call_later(HEAD_RECHECK_S, self._head_timed_out)
            else:
                self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._now_idle()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if not self._between_requests():  # a request is being handled: the request deadline governs now
                self._disarm()
                idle.discard(self, self.client_address)

        def on_response_complete(self) -> None:
            super().on_response_complete()  # may start the next (pipelined) request
            if not self.transport.is_closing() and self._between_requests():
                self._now_idle()

        def connection_lost(self, exc) -> None:
            self._disarm()
            idle.discard(self, self.client_address)
            super().connection_lost(exc)

    return GuardedProtocol


class _OncePerInterval(logging.Filter):
    """Lets a repeating error through once per ``interval_s`` (asyncio logs every failed accept)."""

    def __init__(self, text: str, interval_s: float = 10.0):
        super().__init__()
        self.text, self.interval_s, self._last, self._dropped = text, interval_s, float("-inf"), 0

    def filter(self, record: logging.LogRecord) -> bool:
        if self.text not in record.getMessage():
            return True
        now = time.monotonic()
        if now - self._last < self.interval_s:
            self._dropped += 1
            return False
        if self._dropped:
            record.msg = f"{record.msg} ({self._dropped} more like it not logged)"
        self._last, self._dropped = now, 0
        record.exc_info = None  # the traceback is the same every time
        return True


def raise_descriptor_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


@dataclasses.dataclass(frozen=True)
class ConnectionBudget:
    """How the descriptors are shared: some kept for files (models, logs, SQLite, pipes: about 15 are open), the rest
    for connections: requests in progress, idle connections (in all and per client), and those accepted but not yet
    closed. asyncio accepts up to ``accept_batch`` connections each time the listening socket is ready, and an idle
    connection over its cap is closed two loop turns after it was accepted: three batches may be open at once. The
    connections waiting to be accepted cost no descriptor: the kernel queues them (``LISTEN_QUEUE``)."""

    requests: int
    idle: int
    idle_per_client: int
    accept_batch: int
    reserved: int

    @classmethod
    def of(cls, settings, descriptors: int) -> "ConnectionBudget":
        reserved = min(128, max(32, descriptors // 8))
        left = max(64, descriptors - reserved)
        batch = min(256, max(8, left // 16))
        idle = min(settings.max_idle_connections, (left - 3 * batch) // 4)
        requests = min(settings.max_connections, left - 3 * batch - idle)
        return cls(requests, idle, min(settings.max_idle_connections_per_client, idle), batch, reserved)


def make_server(app, settings) -> uvicorn.Server:
    # The event loop shares the GIL with the text workers and the engines' decoding loops; with the default 5 ms
    # switch interval /healthz took up to 1.6 s under the hostile-input load test, with 1 ms up to 0.5 s.
    sys.setswitchinterval(0.001)
    logging.getLogger("asyncio").addFilter(_OncePerInterval("socket.accept() out of system resource"))
    log.addFilter(_OncePerInterval(IDLE_CLOSED))
    descriptors = raise_descriptor_limit()
    budget = ConnectionBudget.of(settings, descriptors)
    log.info("file descriptor limit %d: at most %d requests in progress, %d idle connections (%d per client), "
             "accepted %d at a time", descriptors, budget.requests, budget.idle, budget.idle_per_client,
             budget.accept_batch)  # fmt: skip
    protocol = guarded_protocol(settings.header_timeout_s, IdleConnections(budget.idle, budget.idle_per_client))
    config = uvicorn.Config(
        RequestSlots(app, budget.requests), host=settings.host, port=settings.port, access_log=False, log_config=None,
        http=protocol, ws="none", timeout_keep_alive=settings.keep_alive_s,
        backlog=budget.accept_batch,  # asyncio's accept batch; the kernel's queue is set after start-up
        limit_concurrency=None,  # uvicorn's counts idle connections too, and answers in plain text
        timeout_graceful_shutdown=UVICORN_SHUTDOWN_S,
        loop="asyncio",  # not uvloop (which the ray extra brings): the accept-error filter above is asyncio's
    )  # fmt: skip
    return _GracefulServer(config, app, settings.shutdown_grace_s)


class _GracefulServer(uvicorn.Server):
    def __init__(self, config, app, grace_s: float):
        super().__init__(config)
        self.app, self.grace_s, self.draining = app, grace_s, False

    async def startup(self, sockets=None):
        await super().startup(sockets)
        # asyncio listens with its accept batch as the queue length; a flood would fill so short a queue and the
        # kernel would drop other clients' connection attempts (retried only after 1, 3, 7 s). listen() again on
        # the same socket (a duplicate descriptor) sets its queue alone.
        for server in getattr(self, "servers", []):
            for listening in server.sockets:
                with socket.socket(fileno=os.dup(listening.fileno())) as same:
                    same.listen(LISTEN_QUEUE)

    def handle_exit(self, sig, frame):
        if sig != signal.SIGTERM or self.draining or self.should_exit:
            return super().handle_exit(sig, frame)
        self.draining = True
        state = self.app.state
        state.shutting_down, state.ready = True, False
        log.info("SIGTERM: refusing new work, draining %d request(s) for up to %.0f s", state.in_flight, self.grace_s)
        threading.Thread(target=self._drain, args=(state.loop,), name="drain", daemon=True).start()

    def _drain(self, loop):
        state = self.app.state
        deadline = time.monotonic() + self.grace_s
        while state.in_flight > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if state.in_flight > 0:
            log.warning("grace over: answering %d request(s) still running with 503 shutting_down", state.in_flight)
            loop.call_soon_threadsafe(state.cut_off)
            deadline = time.monotonic() + CUT_OFF_WAIT_S
            while state.in_flight > 0 and time.monotonic() < deadline:
                time.sleep(0.02)
        self.should_exit = True
