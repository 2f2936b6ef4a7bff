"""uvicorn, hardened for hostile clients and bounded shutdown.

* A connection must deliver a request's headers within ``header_timeout_s`` of opening (or of its previous
  response): idle and slow-header connections are closed, so they cannot hold every file descriptor.
* The process asks for its hard descriptor limit, uvicorn caps concurrent connections (``max_connections``, 503
  above), and the event loop's "accept failed: too many open files" error is logged at most once every 10 s.
* SIGTERM: stop taking work (/readyz and new requests answer 503), let the requests in flight finish for up to
  ``grace_s``, then answer those still running with a JSON 503 ``shutting_down``, close the engines and exit 0,
  within the grace plus a few seconds. A second signal stops at once.
"""

import logging
import resource
import signal
import sys
import threading
import time

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("service")
CUT_OFF_WAIT_S = 2.0  # after the grace: how long the cut-off requests get to send their 503
UVICORN_SHUTDOWN_S = 2  # then: uvicorn's own wait for connections to close


def guarded_protocol(header_timeout_s: float) -> type[H11Protocol]:
    class HeaderTimeoutProtocol(H11Protocol):
        """uvicorn's HTTP/1.1 protocol, closing a connection that has not sent a complete request head in time."""

        _head_timer = None

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(header_timeout_s, self._head_timed_out)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            if self.cycle is None or self.cycle.response_complete:
                self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()  # a request is being handled: the request deadline governs now

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol


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


def make_server(app, settings) -> uvicorn.Server:
    # The event loop shares the GIL with the text workers and the engines' decoding loops; with the default 5 ms
    # switch interval /healthz took up to 1.6 s under the hostile-input load test, with 1 ms up to 0.5 s.
    sys.setswitchinterval(0.001)
    logging.getLogger("asyncio").addFilter(_OncePerInterval("socket.accept() out of system resource"))
    descriptors = raise_descriptor_limit()
    connections = min(settings.max_connections, max(64, descriptors - 128))  # the rest: model files, logs, pipes
    log.info("file descriptor limit %d; at most %d connections", descriptors, connections)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, access_log=False, log_config=None,
        http=guarded_protocol(settings.header_timeout_s), timeout_keep_alive=settings.keep_alive_s,
        limit_concurrency=connections, timeout_graceful_shutdown=UVICORN_SHUTDOWN_S,
        loop="asyncio",  # not uvloop (which the ray extra brings): the accept-error filter above is asyncio's
    )  # fmt: skip
    return _GracefulServer(config, app, settings.shutdown_grace_s)


class _GracefulServer(uvicorn.Server):
    def __init__(self, config, app, grace_s: float):
        super().__init__(config)
        self.app, self.grace_s, self.draining = app, grace_s, False

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
