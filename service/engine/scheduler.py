"""Dynamic batching across requests: one ``BatchScheduler`` per model, one worker thread each.

Callers submit items (sentences for translation, articles for summaries) with a cost (their token count) and a
key (generation options that must be equal within a batch) and await one future per item. The worker forms each
batch around the *oldest* waiting item — so nothing waits behind later work for more than one batch — filled with
the same-key items closest to it in length, bounded by ``max_batch_tokens`` (rows × longest row) and
``max_batch_size``, after waiting at most ``max_wait_ms`` for the batch to fill. A batch that raises (CUDA out of
memory, a bad item) is split in halves and retried down to single items, so only an item that fails alone fails.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..errors import InferenceFailed, Overloaded, ShuttingDown

log = logging.getLogger(__name__)

RunBatch = Callable[[list[Any], Hashable], Sequence[Any]]


@dataclass(eq=False)
class _Item:
    payload: Any
    cost: int
    key: Hashable
    future: Future = field(default_factory=Future)
    enqueued_at: float = field(default_factory=time.monotonic)


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
        self._pending: list[_Item] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"engine-{name}", daemon=True)
        self._thread.start()

    # --- callers' side ----------------------------------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        return len(self._pending)

    def is_overloaded(self, extra_items: int = 0) -> bool:
        return len(self._pending) + extra_items > self.max_queued_items

    def submit(self, payloads: Sequence[Any], costs: Sequence[int], key: Hashable = None) -> list[Future]:
        """Queue items; all or none (a request is never half-queued). Raises Overloaded when the queue is full."""
        items = [_Item(p, max(1, int(c)), key) for p, c in zip(payloads, costs, strict=True)]
        with self._cond:
            if self._closed:
                raise ShuttingDown(f"{self.name} engine is shutting down")
            if len(self._pending) + len(items) > self.max_queued_items:
                raise Overloaded(f"{self.name} queue is full ({len(self._pending)} items waiting); retry shortly")
            self._pending.extend(items)
            self._cond.notify()
        return [item.future for item in items]

    async def run(self, payloads: Sequence[Any], costs: Sequence[int], key: Hashable = None) -> list[Any]:
        """Submit and await every item's result; cancelling the awaiting task drops its items not yet started."""
        if not payloads:
            return []
        futures = self.submit(payloads, costs, key)
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
            leftover, self._pending = self._pending, []
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
        while not self._pending:
            if self._closed:
                return None
            self._cond.wait()
        while not self._closed:
            oldest = self._pending[0]
            due = oldest.enqueued_at + self.max_wait_s - time.monotonic()
            if due <= 0 or self._can_fill(oldest.key):
                break
            self._cond.wait(due)
        if self._closed:
            return None
        return self._take_batch()

    def _can_fill(self, key: Hashable) -> bool:
        same = [item for item in self._pending if item.key == key]
        if len(same) >= self.max_batch_size:
            return True
        return len(same) * max(item.cost for item in same) >= self.max_batch_tokens

    def _take_batch(self) -> list[_Item]:
        """The oldest item plus the same-key items nearest to it in length, within the batch bounds."""
        self._pending = [item for item in self._pending if not item.future.cancelled()]
        if not self._pending:
            return []
        anchor = self._pending[0]
        candidates = sorted(
            (item for item in self._pending if item.key == anchor.key), key=lambda item: abs(item.cost - anchor.cost)
        )
        batch, longest = [], 0
        for item in candidates:
            widest = max(longest, item.cost)
            if batch and (len(batch) + 1 > self.max_batch_size or (len(batch) + 1) * widest > self.max_batch_tokens):
                continue
            batch.append(item)
            longest = widest
        taken = set(map(id, batch))
        self._pending = [item for item in self._pending if id(item) not in taken]
        # An item cancelled between the filter above and here is dropped now; the rest are marked running.
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
        if self.on_batch:
            self.on_batch(self.name, len(batch), len(batch) * max(i.cost for i in batch), time.perf_counter() - start)
        for item, result in zip(batch, results):
            item.future.set_result(result)
