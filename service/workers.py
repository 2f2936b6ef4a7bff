"""Where CPU work on request text runs: a bounded pool of threads, never the event loop (which must keep answering
/healthz and everyone else), under the request's deadline.

A thread cannot be cancelled, so the work asks its ``Deadline`` between steps (sentences, pieces, texts) whether its
request is still wanted; a request that timed out or whose caller hung up is abandoned there.
"""

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .errors import DeadlineExceeded, Overloaded


class Deadline:
    """When a request's work must be done by (``None``: never), whether it was abandoned before, and who asked
    (``caller``: the API key's name, or the client's address without keys; the engines share batches fairly
    between callers)."""

    def __init__(self, seconds: float | None = None, caller: str = ""):
        self.seconds = seconds
        self.caller = caller
        self._at = None if seconds is None else time.monotonic() + seconds
        self._abandoned = False

    @property
    def at(self) -> float | None:
        """The deadline on ``time.monotonic``'s clock (None: no deadline)."""
        return self._at

    @property
    def remaining_s(self) -> float:
        return math.inf if self._at is None else self._at - time.monotonic()

    def abandon(self) -> None:
        self._abandoned = True

    @property
    def passed(self) -> bool:
        return self._abandoned or (self._at is not None and time.monotonic() > self._at)

    def check(self) -> None:
        """Raise ``DeadlineExceeded`` once the deadline has passed or the request was abandoned."""
        if self.passed:
            limit = f"within {self.seconds:g} s" if self.seconds is not None else "before it was abandoned"
            raise DeadlineExceeded(f"not finished {limit}; its remaining work was dropped")


class TextWorkers:
    """``threads`` threads for cleaning, splitting, tokenizing and post-processing; at most ``max_pending`` jobs
    waiting or running (``Overloaded`` past that, which the API answers with 429)."""

    def __init__(self, threads: int, max_pending: int):
        self.max_pending = max_pending
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="text")
        self._pending = 0

    @property
    def pending(self) -> int:
        return self._pending

    async def run(self, deadline: Deadline | None, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` on a worker thread; a cancelled caller abandons the deadline, so the work stops at its
        next check instead of running on for nobody."""
        if self._pending >= self.max_pending:
            raise Overloaded(f"{self._pending} text preparations are waiting; retry shortly")
        deadline = deadline or Deadline()
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, _checked, deadline, function, args)
        except asyncio.CancelledError:
            deadline.abandon()
            raise
        finally:
            self._pending -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _checked(deadline: Deadline, function: Callable[..., Any], args: tuple) -> Any:
    deadline.check()  # it may have waited in the queue past its deadline
    return function(*args)


async def all_or_none(awaitables: Iterable[Awaitable]) -> list:
    """Await all concurrently, results in order. The first failure cancels the others (their queued model work
    leaves the engines at once) and is raised once they have stopped, so a failed request leaves no work behind."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
