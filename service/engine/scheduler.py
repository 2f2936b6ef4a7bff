"""Dynamic batching across requests: one ``BatchScheduler`` per model, one worker thread each.

Callers submit a group of items (one request's sentences for translation, or its articles for summaries) with a
cost per item (its token count), a key (generation options that must be equal within a batch) and the request's
``Deadline``, and await one future per item.

Order: within a lane, groups are served earliest deadline first (then in arrival order), so admitted requests finish
in order instead of all together: a batch takes the items of the most urgent group first and fills its remaining
room with the next items in deadline order, bounded by ``max_batch_tokens`` (rows × longest row) and
``max_batch_size``, after waiting at most ``max_wait_ms`` for the batch to fill. Callers (API key names) share a
batch fairly: while several callers wait, the batch's anchor rotates between them and no caller takes more than
its share of the rows until the others have had theirs, so one key's huge request delays another key's by about one
batch. A group whose deadline has passed, or that could not finish before it even if it ran alone at the measured
drain model, is dropped at once: its futures fail with ``DeadlineExceeded`` (a 504 early, not at the deadline).

Admission: the engine fits its batches' times to their sizes (``DrainModel``) and predicts when new work would be
done: the items ahead of it in its lane (those with earlier deadlines; all interactive work for the bulk lane) plus
its own, in full batches. ``admit`` refuses work predicted to miss its deadline (``Overloaded``,
with the Retry-After that estimate gives) before any of it is queued.

Two lanes: ``interactive`` (synchronous requests, interactive jobs) and ``bulk`` (jobs, archives). A batch is formed
from the interactive lane whenever it holds work, so a live request waits for at most the batch in progress; bulk
is never starved: after ``INTERACTIVE_STREAK`` interactive batches in a row while bulk work waits, the next batch is
bulk. Batches never mix lanes. A batch that raises (CUDA out of memory, a bad item) is split in halves and retried
down to single items, so only an item that fails alone fails.
"""

import asyncio
import bisect
import itertools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..errors import DeadlineExceeded, InferenceFailed, Overloaded, ShuttingDown, TooLargeForQueue

log = logging.getLogger(__name__)

RunBatch = Callable[[list[Any], Hashable], Sequence[Any]]
LANES = ("interactive", "bulk")
INTERACTIVE_STREAK = 4  # interactive batches in a row while bulk waits, then one bulk batch
SWEEP_S = 0.05  # how often the queue is searched for work whose deadline is out of reach
ADMIT_SHARE = 0.8  # work is admitted when predicted to finish within this share of the time its request has left


@dataclass(eq=False)
class _Group:
    """The items one call submitted, with the request's deadline (``math.inf``: none) and caller."""

    deadline_at: float
    seq: int
    caller: str
    key: Hashable
    lane: str
    items: list["_Item"] = field(default_factory=list)  # not yet taken, in submission order
    enqueued_at: float = field(default_factory=time.monotonic)

    @property
    def order(self) -> tuple[float, int]:
        return self.deadline_at, self.seq


@dataclass(eq=False)
class _Item:
    payload: Any
    cost: int
    group: _Group
    future: Future = field(default_factory=Future)


class DrainModel:
    """How long batches take, as a line fitted to recent batches: seconds = a + b × items (``a``: a batch's fixed
    cost, ``b``: each row's). A batch's time at the size a backlog gives (``full`` items) follows, and from it how long
    a queue of any length takes to drain, whether the batches measured so far were small (a quiet hour) or full. Older
    batches weigh ``DECAY`` less with each new one, so the fit follows the machine as its load changes."""

    DECAY = 0.8

    def __init__(self, full: int):
        self.full = full
        self._sums = [0.0] * 5  # weight, Σn, Σt, Σn², Σnt

    def observe(self, items: int, seconds: float) -> None:
        new = (1, items, seconds, items * items, items * seconds)
        self._sums = [self.DECAY * old + x for old, x in zip(self._sums, new)]

    def line(self) -> tuple[float, float] | None:
        """(a, b), or None before any batch was measured."""
        w, n, t, nn, nt = self._sums
        if w < 1e-9 or n <= 0:
            return None
        spread = nn * w - n * n
        b = (nt * w - n * t) / spread if spread > 1e-9 * w * w else 0.0
        if b <= 0:  # one batch size so far, or noise: all the time per row
            return 0.0, t / n
        return max(0.0, (t - b * n) / w), b

    def seconds(self, items: int) -> float | None:
        """How long ``items`` queued items take in batches of up to ``full`` (None: nothing measured yet)."""
        line = self.line()
        if line is None:
            return None
        a, b = line
        batches, rest = divmod(max(0, items), self.full)
        return batches * (a + b * self.full) + (a + b * rest if rest else 0.0)

    @property
    def items_per_s(self) -> float:
        """The drain rate of a backlog (full batches); 0 before any batch was measured."""
        full_batch = self.seconds(self.full)
        return self.full / full_batch if full_batch else 0.0


@dataclass
class SchedulerStats:
    """Counters the metrics endpoint and the benchmark read; updated by the worker thread only."""

    batches: int = 0
    items: int = 0
    splits: int = 0
    failed_items: int = 0
    dropped_items: int = 0  # whose deadline passed or became unreachable while queued
    batch_sizes: list[int] = field(default_factory=list)  # last 1000 batch sizes
    items_by_lane: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LANES, 0))

    def record(self, size: int, lane: str) -> None:
        self.batches += 1
        self.items += size
        self.items_by_lane[lane] += size
        self.batch_sizes.append(size)
        del self.batch_sizes[:-1000]


class _Lane:
    """One lane's waiting groups: per caller, in deadline order; callers in the order their turns come."""

    def __init__(self):
        self.callers: dict[str, list[_Group]] = {}
        self.turns: deque[str] = deque()
        self.items = 0

    def add(self, group: _Group) -> None:
        groups = self.callers.get(group.caller)
        if groups is None:
            groups = self.callers[group.caller] = []
            self.turns.append(group.caller)
        bisect.insort(groups, group, key=lambda g: g.order)
        self.items += len(group.items)

    def remove(self, group: _Group) -> None:
        """Take a group (emptied or dropped) out; its caller leaves the turns when it has nothing left."""
        groups = self.callers.get(group.caller, [])
        if group in groups:
            groups.remove(group)
            self.items -= len(group.items)
        if not groups and group.caller in self.callers:
            del self.callers[group.caller]
            self.turns.remove(group.caller)

    def groups(self):
        return (g for groups in self.callers.values() for g in groups)


@dataclass
class _Reservation:
    """Work an admitted request will submit (sentences it has not queued yet): it counts as ahead of later work
    from the moment it is admitted, so a burst of requests cannot all pass admission before any of it is queued."""

    deadline_at: float
    lane: str
    items: int
    caller: str = ""


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
        self.drain = DrainModel(max_batch_size)  # batch times: the drain rate and admission's predictions
        self._lanes = {lane: _Lane() for lane in LANES}
        self._seq = itertools.count()
        self._streak = 0  # interactive batches in a row while bulk work waited
        self._swept_at = -math.inf  # when _drop_hopeless last looked at the queue
        self._reserved: dict[int, _Reservation] = {}  # by id() of the admitted request's Deadline
        self._new_work = False  # work arrived since then (it is looked at before it can run)
        # Batches are formed from the most urgent items only (a window, with room to pass over rows too long for
        # the token budget), so forming one costs O(window), not O(queue).
        self._window_size = 2 * max_batch_size
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"engine-{name}", daemon=True)
        self._thread.start()

    # --- callers' side ----------------------------------------------------------------------------------------------
    lanes = LANES

    @property
    def queue_depth(self) -> int:
        return sum(lane.items for lane in self._lanes.values())

    def is_overloaded(self, extra_items: int = 0) -> bool:
        return self.queue_depth + extra_items > self.max_queued_items

    def check_fits(self, count: int) -> None:
        """``TooLargeForQueue`` for work that could never be queued, however idle the engine."""
        if count > self.max_queued_items:
            raise TooLargeForQueue(
                f"this request needs {count} places in the {self.name} queue, which holds {self.max_queued_items}; "
                "send its articles or texts in several requests"
            )

    @property
    def items_per_s(self) -> float:
        return self.drain.items_per_s

    def _lane_share(self, lane: str) -> float:
        """The share of the engine's batches a lane gets: interactive gives bulk one batch in five while bulk waits."""
        if lane == "interactive" and self._lanes["bulk"].items:
            return INTERACTIVE_STREAK / (INTERACTIVE_STREAK + 1)
        return 1.0

    def predicted_s(self, count: int, lane: str = "interactive", deadline_at: float = math.inf,
                    caller: str | None = None,
                    exclude: int | None = None) -> float | None:  # fmt: skip
        """Seconds until ``count`` more items of ``caller`` with this deadline would be done: the work ahead of them
        in their lane (``_items_ahead``; ``caller=None``: all of it) plus their own, over the drain model. None until
        a batch has measured it."""
        with self._cond:
            ahead = self._items_ahead(lane, deadline_at, count, caller, exclude)
        seconds = self.drain.seconds(ahead + count)
        return None if seconds is None else seconds / self._lane_share(lane)

    def _items_ahead(self, lane: str, deadline_at: float, count: int = 0, caller: str | None = None,
                     exclude: int | None = None) -> int:  # fmt: skip
        """Queued and reserved items that go before ``count`` items of ``caller`` with this deadline in this lane
        (with the lock held). The caller's own work goes before when its deadline is earlier; another caller's, as
        the batches rotate between callers, at most as much as the caller's own work (its share), whatever its
        deadlines; in the bulk lane all interactive work goes before. ``caller=None``: all the work with earlier
        deadlines, whoever sent it (the queue's drain time, as /metrics shows it)."""
        def goes_before(other: str, other_deadline_at: float) -> bool:
            return other_deadline_at <= deadline_at or (caller is not None and other != caller)

        per_caller: dict[str, int] = {}
        waiting = [(g.caller, g.deadline_at, len(g.items)) for g in self._lanes[lane].groups()]
        waiting += [(r.caller, r.deadline_at, r.items) for key, r in self._reserved.items()
                    if key != exclude and r.lane == lane]  # fmt: skip
        for other, other_deadline_at, items in waiting:
            if goes_before(other, other_deadline_at):
                per_caller[other] = per_caller.get(other, 0) + items
        if caller is None:
            ahead = sum(per_caller.values())
        else:
            own = per_caller.pop(caller, 0)
            ahead = own + sum(min(items, own + count) for items in per_caller.values())
        if lane == "bulk":  # all interactive work, queued or reserved, goes before bulk
            ahead += self._lanes["interactive"].items
            ahead += sum(r.items for key, r in self._reserved.items() if key != exclude and r.lane == "interactive")
        return ahead

    def load(self) -> dict:
        """What /info and /metrics show: queue depth, drain rate, and the predicted wait of new work per lane."""
        waits = {lane: self.predicted_s(0, lane) for lane in LANES}
        return {
            "queue_depth": self.queue_depth,
            "drain_rate_items_per_s": round(self.items_per_s, 3),
            "predicted_wait_s": {lane: None if w is None else round(w, 3) for lane, w in waits.items()},
        }

    def admit(self, count: int, lane: str = "interactive", deadline=None) -> None:
        """``Overloaded`` (429, before any work is queued) when ``count`` items are predicted to miss ``deadline``
        (a ``service.workers.Deadline``; within ``ADMIT_SHARE`` of the time it has left); Retry-After is when the
        work ahead will have drained enough for a request like this one with a fresh deadline. Admitted, the items
        are reserved (they count as ahead of later work) until submitted or ``release``d; admitting the same
        request again replaces its reservation (a better count after its text is split)."""
        if deadline is None or deadline.at is None:
            return
        predicted = self.predicted_s(count, lane, deadline.at, deadline.caller, exclude=id(deadline))
        if predicted is None or predicted <= ADMIT_SHARE * deadline.remaining_s:
            with self._cond:
                self._reserved[id(deadline)] = _Reservation(deadline.at, lane, count, deadline.caller)
            return
        self.release(deadline)
        retry = max(1, math.ceil(predicted - ADMIT_SHARE * (deadline.seconds or 0)))
        raise Overloaded(
            f"the {self.name} engine is predicted to finish this request in {predicted:.0f} s, too close to its "
            f"deadline ({deadline.remaining_s:.0f} s left); retry in {retry} s", retry,
        )  # fmt: skip

    def release(self, deadline) -> None:
        """Drop a finished (or refused) request's reservation."""
        with self._cond:
            self._reserved.pop(id(deadline), None)

    def retry_after_s(self, count: int) -> int:
        """Seconds until ``count`` more items would fit in the queue, at the measured drain rate (1 to 60)."""
        seconds = self.drain.seconds(self.queue_depth + count - self.max_queued_items)
        return 1 if seconds is None else max(1, min(60, math.ceil(seconds)))

    def submit(
        self, payloads: Sequence[Any], costs: Sequence[int], key: Hashable = None, lane: str = "interactive",
        deadline=None,
    ) -> list[Future]:  # fmt: skip
        """Queue one group of items in a lane; all or none (a request is never half-queued). Raises Overloaded when
        the queue (both lanes together) is full, and TooLargeForQueue when it could never hold them. ``deadline``
        (a ``service.workers.Deadline``) orders the group and names its caller."""
        return [item.future for item in self._enqueue(payloads, costs, key, lane, deadline).items]

    def _enqueue(self, payloads, costs, key, lane, deadline) -> _Group:
        self.check_fits(len(payloads))
        deadline_at = deadline.at if deadline is not None and deadline.at is not None else math.inf
        caller = deadline.caller if deadline is not None else ""
        group = _Group(deadline_at, next(self._seq), caller, key, lane)
        group.items = [_Item(p, max(1, int(c)), group) for p, c in zip(payloads, costs, strict=True)]
        with self._cond:
            if self._closed:
                raise ShuttingDown(f"{self.name} engine is shutting down")
            if self.queue_depth + len(group.items) > self.max_queued_items:
                retry = self.retry_after_s(len(group.items))
                raise Overloaded(
                    f"{self.name} queue is full ({self.queue_depth} items waiting); retry in {retry} s", retry
                )
            self._lanes[lane].add(group)
            if (reservation := self._reserved.get(id(deadline))) is not None:  # reserved work arrives
                reservation.items = max(0, reservation.items - len(group.items))
            self._new_work = True
            self._cond.notify()
        return group

    def _cancel(self, group: _Group) -> None:
        """Cancel a group's items and take the ones not yet started out of the queue at once (a refused, cancelled
        or abandoned request leaves no work behind)."""
        with self._cond:
            for item in group.items:
                item.future.cancel()
            state = self._lanes[group.lane]
            state.items -= len(group.items)
            group.items = []
            state.remove(group)
            self._cond.notify()

    async def run(
        self, payloads: Sequence[Any], costs: Sequence[int], key: Hashable = None, lane: str = "interactive",
        deadline=None,
    ) -> list[Any]:  # fmt: skip
        """Submit and await every item's result; cancelling the awaiting task drops its items not yet started."""
        if not payloads:
            return []
        group = self._enqueue(payloads, costs, key, lane, deadline)
        futures = [item.future for item in group.items]
        try:
            return list(await asyncio.gather(*(asyncio.wrap_future(f) for f in futures)))
        except BaseException:
            for future in futures:  # those already running finish for nobody; the rest leave the queue now
                future.cancel()
            self._cancel(group)
            raise

    def close(self, timeout_s: float | None = None) -> None:
        """Stop taking work, finish the batch in progress, fail what is still queued."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        with self._cond:
            leftover = [item for lane in self._lanes.values() for g in lane.groups() for item in g.items]
            self._lanes = {lane: _Lane() for lane in LANES}
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
            self._drop_hopeless()
            lane, bulk_waits = self._next_lane()
            if lane is not None:
                break
            if self._closed:
                return None
            self._cond.wait()
        while not self._closed:
            head = self._head(lane)
            due = head.enqueued_at + self.max_wait_s - time.monotonic()
            if due <= 0 or self._can_fill(lane, head.key):
                break
            self._cond.wait(min(due, SWEEP_S))  # wakes for the next sweep too
            self._drop_hopeless()
            lane, bulk_waits = self._next_lane()  # an interactive item may have arrived meanwhile
            if lane is None:
                return []
        if self._closed:
            return None
        self._streak = self._streak + 1 if bulk_waits else 0
        return self._take_batch(lane)

    def _next_lane(self) -> tuple[str | None, bool]:
        """The lane the next batch comes from (interactive first, bulk after a streak), and whether taking it keeps
        bulk work waiting (an interactive batch while bulk items wait: the streak grows)."""
        interactive, bulk = self._lanes["interactive"].items, self._lanes["bulk"].items
        if interactive and not (bulk and self._streak >= INTERACTIVE_STREAK):
            return "interactive", bool(bulk)
        return ("bulk" if bulk else None), False

    def _head(self, lane: str) -> _Group:
        """The most urgent group of the caller whose turn it is."""
        state = self._lanes[lane]
        return state.callers[state.turns[0]][0]

    def _window(self, lane: str, key: Hashable, size: int | None = None) -> list[_Item]:
        """Up to ``size`` (the window size) same-key items, each caller's in deadline order, the callers interleaved
        from the one whose turn it is."""
        state = self._lanes[lane]
        size = size or self._window_size
        streams = [
            (item for g in state.callers[caller] if g.key == key for item in g.items) for caller in state.turns
        ]
        window = []
        while streams and len(window) < size:
            for stream in list(streams):
                item = next(stream, None)
                if item is None:
                    streams.remove(stream)
                else:
                    window.append(item)
        return window

    def _can_fill(self, lane: str, key: Hashable) -> bool:
        same = [item.cost for item in self._window(lane, key, self.max_batch_size)]
        return len(same) >= self.max_batch_size or len(same) * max(same, default=0) >= self.max_batch_tokens

    def _take_batch(self, lane: str) -> list[_Item]:
        """The head group's items first, then the window's items in deadline order, within the batch bounds; while
        several callers wait, none takes more than its share of the rows before the others have had theirs."""
        state = self._lanes[lane]
        head = self._head(lane)
        window = [item for item in head.items] + [
            item for item in self._window(lane, head.key) if item.group is not head
        ]
        callers = {item.group.caller for item in window}
        share = max(1, self.max_batch_size // len(callers))
        batch, longest, taken, leaving = [], 0, dict.fromkeys(callers, 0), set()
        for capped in (len(callers) > 1, False):
            for item in window:
                if len(batch) == self.max_batch_size:
                    break
                if id(item) in leaving:
                    continue
                if item.future.cancelled():  # cancelled by its caller: it leaves with the batch's items
                    leaving.add(id(item))
                    continue
                widest = max(longest, item.cost)
                if batch and (len(batch) + 1) * widest > self.max_batch_tokens:
                    continue
                if capped and taken[item.group.caller] >= share:
                    continue
                batch.append(item)
                leaving.add(id(item))
                taken[item.group.caller] += 1
                longest = widest
        for group in {id(item.group): item.group for item in window if id(item) in leaving}.values():
            state.items -= len(group.items)
            group.items = [item for item in group.items if id(item) not in leaving]
            state.items += len(group.items)
            if not group.items:
                state.remove(group)
        if state.turns and state.turns[0] == head.caller:  # the next batch is anchored on the next caller
            state.turns.rotate(-1)
        # An item cancelled after the window was read is dropped now; the rest are marked running.
        return [item for item in batch if item.future.set_running_or_notify_cancel()]

    def _drop_hopeless(self) -> None:
        """Fail the groups whose deadline has passed, or that could not finish before it even alone at the drain
        rate (with the lock held): their callers get a 504 now instead of at the deadline. Deadlines are seconds
        apart: the queue is swept when work arrives and otherwise at most every ``SWEEP_S``."""
        now = time.monotonic()
        if now - self._swept_at < SWEEP_S and not self._new_work:
            return
        self._swept_at, self._new_work = now, False
        for state in self._lanes.values():
            for group in list(state.groups()):
                if group.deadline_at == math.inf:
                    continue
                alone_s = self.drain.seconds(len(group.items)) or 0.0
                if now + alone_s <= group.deadline_at:
                    continue
                state.remove(group)
                self.stats.dropped_items += len(group.items)
                for item in group.items:
                    if item.future.set_running_or_notify_cancel():
                        item.future.set_exception(DeadlineExceeded(
                            f"its deadline passed, or can no longer be met, while its work waited in the {self.name} "
                            "queue; the work was dropped"))  # fmt: skip
                group.items = []

    def _run(self, batch: list[_Item]) -> None:
        start = time.perf_counter()
        try:
            results = self.run_batch([item.payload for item in batch], batch[0].group.key)
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
        seconds = time.perf_counter() - start
        self.stats.record(len(batch), batch[0].group.lane)
        self.drain.observe(len(batch), seconds)
        if self.on_batch:
            self.on_batch(self.name, len(batch), len(batch) * max(i.cost for i in batch), seconds)
        for item, result in zip(batch, results):
            item.future.set_result(result)
