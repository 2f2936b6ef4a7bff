"""Dynamic batching across requests: one ``BatchScheduler`` per model, one worker thread each.

Callers submit items (sentences for translation, articles for summaries) with a cost (their token count) and a
key (generation options that must be equal within a batch) and await one future per item. The worker forms each
batch around the *oldest* waiting item — so nothing waits behind later work for more than one batch — filled with
the same-key items closest to it in length, bounded by ``max_batch_tokens`` (rows × longest row) and
``max_batch_size``, after waiting at most ``max_wait_ms`` for the batch to fill. A batch that raises (CUDA out of
memory, a bad item) is split in halves and retried down to single items, so only an item that fails alone fails.

Two lanes: ``interactive`` (synchronous requests, interactive jobs) and ``bulk`` (jobs, archives). A batch is formed
from the interactive lane whenever it holds work, so a live request waits for at most the batch in progress; bulk
is never starved: after ``INTERACTIVE_STREAK`` interactive batches in a row while bulk work waits, the next batch is
bulk. Batches never mix lanes.
"""

import asyncio
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..errors import InferenceFailed, Overloaded, ShuttingDown, TooLargeForQueue

log = logging.getLogger(__name__)

RunBatch = Callable[[list[Any], Hashable], Sequence[Any]]
LANES = ("interactive", "bulk")
INTERACTIVE_STREAK = 4  # interactive batches in a row while bulk waits, then one bulk batch


@dataclass(eq=False)
class _Item:
    payload: Any
    cost: int
    key: Hashable
    future: Future = field(default_factory=Future)
    enqueued_at: float = field(default_factory=time.monotonic)
    taken: bool = False


@dataclass
class SchedulerStats:
    """Counters the metrics endpoint and the benchmark read; updated by the worker thread only."""

    batches: int = 0
    items: int = 0
    splits: int = 0
    failed_items: int = 0
    batch_sizes: list[int] = field(default_factory=list)  # last 1000 batch sizes

    def record(self, size: int) -> None:
        self.batches += 1
        self.items += size
        self.batch_sizes.append(size)
        del self.batch_sizes[:-1000]


class BatchScheduler:
    def __init__(
        self,
        name: str,
        run_batch: RunBatch,
        max_batch_tokens: int,
        max_batch_size: int,
        max_wait_ms: float,
        max_queued_items: int,
        on_batch: Callable[[str, int, int, float], None] | None = None,
    ):
        self.name = name
        self.run_batch = run_batch
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000
        self.max_queued_items = max_queued_items
        self.on_batch = on_batch  # (engine, rows, padded tokens, seconds) after each batch
        self.stats = SchedulerStats()
        self._items_per_s = 0.0  # how fast the queue drains (moving average over batches), for Retry-After
        # Per lane, arrival order. Items taken from the middle stay as tombstones until they reach the front.
        self._queues: dict[str, deque[_Item]] = {lane: deque() for lane in LANES}
        self._live = 0
        self._streak = 0  # interactive batches in a row while bulk work waited
        # Batches are formed from the oldest items only (a window), so forming one costs O(window), not O(queue).
        self._window_size = max(8 * max_batch_size, 256)
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"engine-{name}", daemon=True)
        self._thread.start()

    # --- callers' side ----------------------------------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        return self._live

    def is_overloaded(self, extra_items: int = 0) -> bool:
        return self._live + extra_items > self.max_queued_items

    def check_fits(self, count: int) -> None:
        """``TooLargeForQueue`` for work that could never be queued, however idle the engine."""
        if count > self.max_queued_items:
            raise TooLargeForQueue(
                f"this request needs {count} places in the {self.name} queue, which holds {self.max_queued_items}; "
                "send its articles or texts in several requests"
            )

    def retry_after_s(self, count: int) -> int:
        """Seconds until ``count`` more items would fit, at the measured drain rate (1 to 60)."""
        excess = self._live + count - self.max_queued_items
        if self._items_per_s <= 0:
            return 1
        return max(1, min(60, math.ceil(excess / self._items_per_s)))

    def submit(
        self, payloads: Sequence[Any], costs: Sequence[int], key: Hashable = None, lane: str = "interactive"
    ) -> list[Future]:
        """Queue items in a lane; all or none (a request is never half-queued). Raises Overloaded when the queue
        (both lanes together) is full, and TooLargeForQueue when it could never hold them."""
        items = [_Item(p, max(1, int(c)), key) for p, c in zip(payloads, costs, strict=True)]
        self.check_fits(len(items))
        with self._cond:
            if self._closed:
                raise ShuttingDown(f"{self.name} engine is shutting down")
            if self._live + len(items) > self.max_queued_items:
                retry = self.retry_after_s(len(items))
                raise Overloaded(f"{self.name} queue is full ({self._live} items waiting); retry in {retry} s", retry)
            self._queues[lane].extend(items)
            self._live += len(items)
            self._cond.notify()
        return [item.future for item in items]

    async def run(
        self, payloads: Sequence[Any], costs: Sequence[int], key: Hashable = None, lane: str = "interactive"
    ) -> list[Any]:
        """Submit and await every item's result; cancelling the awaiting task drops its items not yet started."""
        if not payloads:
            return []
        futures = self.submit(payloads, costs, key, lane)
        try:
            return list(await asyncio.gather(*(asyncio.wrap_future(f) for f in futures)))
        except BaseException:
            for future in futures:
                future.cancel()
            raise

    def close(self, timeout_s: float | None = None) -> None:
        """Stop taking work, finish the batch in progress, fail what is still queued."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        with self._cond:
            leftover = [item for queue in self._queues.values() for item in queue if not item.taken]
            for queue in self._queues.values():
                queue.clear()
            self._live = 0
        for item in leftover:
            if item.future.set_running_or_notify_cancel():
                item.future.set_exception(ShuttingDown(f"{self.name} engine stopped before this item ran"))

    # --- worker side ------------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                batch = self._wait_for_batch()
            if batch is None:
                return
            if batch:
                self._run(batch)

    def _wait_for_batch(self) -> list[_Item] | None:
        """With the lock held: wait until a batch is due, then take it. None once closed."""
        while True:
            window, bulk_waits = self._next_window()
            if window:
                break
            if self._closed:
                return None
            self._cond.wait()
        while not self._closed:
            oldest = window[0]
            due = oldest.enqueued_at + self.max_wait_s - time.monotonic()
            if due <= 0 or self._can_fill(window):
                break
            self._cond.wait(due)
            window, bulk_waits = self._next_window()  # an interactive item may have arrived meanwhile
            if not window:
                return []
        if self._closed:
            return None
        self._streak = self._streak + 1 if bulk_waits else 0
        return self._take_batch(window)

    def _next_window(self) -> tuple[list[_Item], bool]:
        """The window the next batch comes from (interactive first, bulk after a streak), and whether taking it
        keeps bulk work waiting (an interactive batch while bulk items wait: the streak grows)."""
        interactive, bulk = self._window("interactive"), self._window("bulk")
        if interactive and not (bulk and self._streak >= INTERACTIVE_STREAK):
            return interactive, bool(bulk)
        return bulk, False

    def _window(self, lane: str) -> list[_Item]:
        """The oldest live items of a lane, up to the window size; drops taken and cancelled items off the front."""
        queue = self._queues[lane]
        while queue and (queue[0].taken or queue[0].future.cancelled()):
            if not queue.popleft().taken:
                self._live -= 1  # cancelled before it was taken
        window = []
        for item in queue:
            if not item.taken:
                window.append(item)
                if len(window) == self._window_size:
                    break
        return window

    def _can_fill(self, window: list[_Item]) -> bool:
        key = window[0].key
        same = [item.cost for item in window if item.key == key]
        return len(same) >= self.max_batch_size or len(same) * max(same) >= self.max_batch_tokens

    def _take_batch(self, window: list[_Item]) -> list[_Item]:
        """The oldest item plus the same-key items nearest to it in length, within the batch bounds."""
        anchor = window[0]
        candidates = sorted(
            (item for item in window if item.key == anchor.key), key=lambda item: abs(item.cost - anchor.cost)
        )
        batch, longest = [], 0
        for item in candidates:
            widest = max(longest, item.cost)
            if batch and (len(batch) + 1 > self.max_batch_size or (len(batch) + 1) * widest > self.max_batch_tokens):
                continue
            batch.append(item)
            longest = widest
        for item in batch:
            item.taken = True
        self._live -= len(batch)
        # An item cancelled after the window was read is dropped now; the rest are marked running.
        return [item for item in batch if item.future.set_running_or_notify_cancel()]

    def _run(self, batch: list[_Item]) -> None:
        start = time.perf_counter()
        try:
            results = self.run_batch([item.payload for item in batch], batch[0].key)
            if len(results) != len(batch):
                raise RuntimeError(f"backend returned {len(results)} results for {len(batch)} items")
        except Exception as exc:  # noqa: BLE001 - any failure is isolated below
            if len(batch) > 1:
                self.stats.splits += 1
                log.warning("%s batch of %d failed (%s); retrying in halves", self.name, len(batch), exc)
                half = len(batch) // 2
                self._run(batch[:half])
                self._run(batch[half:])
                return
            self.stats.failed_items += 1
            log.error("%s item failed alone: %r", self.name, exc)
            batch[0].future.set_exception(InferenceFailed(f"{self.name} failed on this input: {exc}"))
            return
        self.stats.record(len(batch))
        rate = len(batch) / max(time.perf_counter() - start, 1e-6)
        self._items_per_s = rate if self._items_per_s <= 0 else 0.7 * self._items_per_s + 0.3 * rate
        if self.on_batch:
            self.on_batch(self.name, len(batch), len(batch) * max(i.cost for i in batch), time.perf_counter() - start)
        for item, result in zip(batch, results):
            item.future.set_result(result)
