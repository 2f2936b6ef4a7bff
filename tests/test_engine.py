"""The batching scheduler: batch-invariance on real (tiny) models, ordering, back-pressure, cancellation,
out-of-memory splitting and fault isolation."""

import asyncio
import json
import math
import threading
import time

import pytest
import torch

from service.engine.scheduler import BatchScheduler
from service.errors import InferenceFailed, Overloaded, ShuttingDown
from service.text.splitting import split_article

from .conftest import SHARED, SEED_TEXT


def make_scheduler(run_batch, **kwargs):
    options = dict(max_batch_tokens=10_000, max_batch_size=64, max_wait_ms=1, max_queued_items=1000) | kwargs
    return BatchScheduler("test", run_batch, **options)


def mixed_sentences(n=12):
    texts = [json.loads(line)["text"] for line in (SHARED / "corpus" / "hindi_news.jsonl").open(encoding="utf-8")]
    sentences = [s for text in texts[:8] for s in split_article(text).sentences]
    return sorted(sentences, key=len)[:: max(1, len(sentences) // n)][:n] + ["भाजपा", SEED_TEXT.split("\n")[0]]


def _trim(row):
    row = row.tolist()
    while row and row[-1] == 1:  # right padding after </s>
        row.pop()
    return row


@pytest.mark.parametrize("num_beams", [1, 4])
def test_output_does_not_depend_on_batch_mates(runtime, num_beams):
    translator = runtime.pipeline.translator
    pieces = translator.prepare(mixed_sentences())
    rows = [p.input_ids for p in pieces]
    assert max(map(len, rows)) > 4 * min(map(len, rows))  # very different lengths share the batch
    together = translator.generate_ids(rows, num_beams=num_beams, max_new_tokens=10)
    for row, batched in zip(rows, together):
        alone = translator.generate_ids([row], num_beams=num_beams, max_new_tokens=10)[0]
        assert _trim(alone) == _trim(batched)


def test_engine_path_equals_direct_translation(runtime):
    sentences = mixed_sentences(6)
    direct = [runtime.pipeline.translator.translate([s])[0] for s in sentences]
    engine = asyncio.run(runtime.pipeline.translate_sentences(sentences, "hin_Deva", None))
    assert engine == direct


def test_results_keep_order_and_batches_pool_requests():
    sizes = []

    def run_batch(payloads, key):
        sizes.append(len(payloads))
        return [p * 10 for p in payloads]

    scheduler = make_scheduler(run_batch, max_wait_ms=50)

    async def main():
        return await asyncio.gather(*(scheduler.run(list(range(i, i + 5)), [1 + i % 7] * 5) for i in range(0, 50, 5)))

    results = asyncio.run(main())
    scheduler.close()
    assert results == [[p * 10 for p in range(i, i + 5)] for i in range(0, 50, 5)]
    assert max(sizes) > 5  # items of different requests shared a batch


def test_token_budget_and_batch_size_bound_batches():
    batches = []
    scheduler = make_scheduler(lambda p, k: batches.append(list(p)) or p, max_batch_tokens=100, max_batch_size=4)
    costs = [10, 50, 20, 5, 30, 90, 10, 10, 10, 10]
    for f in scheduler.submit(list(range(len(costs))), costs):
        f.result(timeout=10)
    scheduler.close()
    for batch in batches:
        assert len(batch) <= 4 and len(batch) * max(costs[i] for i in batch) <= 100
    assert sorted(i for b in batches for i in b) == list(range(len(costs)))


def test_items_with_different_keys_never_share_a_batch():
    seen = []
    scheduler = make_scheduler(lambda p, k: seen.append((k, list(p))) or p, max_wait_ms=30)
    futures = scheduler.submit([1, 2, 3], [1, 1, 1], key=5) + scheduler.submit([4, 5], [1, 1], key=1)
    assert [f.result(timeout=10) for f in futures] == [1, 2, 3, 4, 5]
    scheduler.close()
    assert {k for k, _ in seen} == {1, 5}
    assert all(set(p) <= {1, 2, 3} if k == 5 else set(p) <= {4, 5} for k, p in seen)


def held_batches():
    """A run_batch that says when a batch started (``started``) and holds it until ``gate`` opens."""
    gate, started = threading.Event(), threading.Event()

    def run_batch(payloads, key):
        started.set()
        gate.wait()
        return payloads

    return run_batch, gate, started


def test_full_queue_refuses_at_once():
    run_batch, gate, started = held_batches()
    scheduler = make_scheduler(run_batch, max_queued_items=5, max_batch_size=1)
    first = scheduler.submit([0], [1])
    started.wait(10)  # the worker holds item 0; the queue is empty again
    scheduler.submit([1, 2, 3, 4, 5], [1] * 5)
    started = time.perf_counter()
    with pytest.raises(Overloaded):
        scheduler.submit([6], [1])
    assert time.perf_counter() - started < 0.05
    assert scheduler.is_overloaded(1) and scheduler.queue_depth == 5
    gate.set()
    assert first[0].result(timeout=10) == 0
    scheduler.close()


def test_cancelled_items_are_dropped_and_the_worker_goes_on():
    gate, started = threading.Event(), threading.Event()
    ran = []

    def run_batch(payloads, key):
        started.set()
        gate.wait()
        ran.extend(payloads)
        return payloads

    scheduler = make_scheduler(run_batch, max_batch_size=1)
    blocker = scheduler.submit(["blocker"], [1])
    started.wait(10)

    async def client_that_hangs_up():
        task = asyncio.ensure_future(scheduler.run(["dropped-1", "dropped-2"], [1, 1]))
        while scheduler.queue_depth < 2:  # both items are queued
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(client_that_hangs_up())
    later = scheduler.submit(["later"], [1])
    gate.set()
    assert blocker[0].result(timeout=10) == "blocker" and later[0].result(timeout=10) == "later"
    scheduler.close()
    assert "dropped-1" not in ran and "dropped-2" not in ran


def lane_recorder(batch_size: int = 8):
    """A scheduler whose first batch waits on a gate (so a queue builds behind it), recording each batch's items."""
    gate, started, batches = threading.Event(), threading.Event(), []

    def run_batch(payloads, key):
        started.set()
        gate.wait()
        batches.append(list(payloads))
        return payloads

    return make_scheduler(run_batch, max_batch_size=batch_size), gate, started, batches


def test_interactive_work_goes_before_queued_bulk_work():
    scheduler, gate, started, batches = lane_recorder()
    bulk = scheduler.submit([f"b{i}" for i in range(200)], [10] * 200, lane="bulk")
    started.wait(10)  # the first bulk batch is running; 192 bulk items wait
    live = scheduler.submit([f"i{i}" for i in range(5)], [10] * 5)
    gate.set()
    assert [f.result(timeout=10) for f in live] == [f"i{i}" for i in range(5)]
    assert [f.result(timeout=10) for f in bulk] == [f"b{i}" for i in range(200)]
    scheduler.close()
    assert batches[0][0] == "b0" and batches[1] == [f"i{i}" for i in range(5)]  # after the batch in progress
    assert all(all(x[0] == batch[0][0] for x in batch) for batch in batches)  # lanes never share a batch


def test_a_summarize_call_may_choose_the_bulk_lane(client):
    """What summarize-file --url sends: its items go to the bulk lane (batched behind live work)."""
    engine = client.app.state.runtime.pipeline.translation_engine
    before = dict(engine.stats.items_by_lane)
    body = {"text": "आज बारिश हुई।", "options": {"priority": "bulk", "summary_languages": []}}
    assert client.post("/summarize", json=body).status_code == 200
    after_bulk = dict(engine.stats.items_by_lane)
    assert client.post("/summarize", json={"text": "आज धूप निकली।", "options": {"summary_languages": []}}).status_code == 200
    after = engine.stats.items_by_lane
    assert after_bulk["bulk"] == before["bulk"] + 1 and after_bulk["interactive"] == before["interactive"]
    assert after["interactive"] == before["interactive"] + 1 and after["bulk"] == after_bulk["bulk"]


def test_bulk_work_is_not_starved_by_a_stream_of_interactive_work():
    scheduler, gate, started, batches = lane_recorder(batch_size=2)
    first = scheduler.submit(["i-first"], [1])
    started.wait(10)
    bulk = scheduler.submit(["b0", "b1", "b2", "b3"], [1] * 4, lane="bulk")
    live = scheduler.submit([f"i{i}" for i in range(20)], [1] * 20)
    gate.set()
    for future in first + bulk + live:
        future.result(timeout=10)
    scheduler.close()
    lanes = "".join(batch[0][0] for batch in batches)
    # The first batch, then 4 interactive batches and 1 bulk batch in turn while both lanes hold work.
    assert lanes.startswith("i" + "iiiib" + "iiiib"), lanes


class FakeOutOfMemory(RuntimeError):
    """Stands in for torch.cuda.OutOfMemoryError, which the CPU cannot raise."""


def test_out_of_memory_splits_the_batch_down_to_single_items():
    attempts = []

    def run_batch(payloads, key):
        attempts.append(len(payloads))
        if len(payloads) > 2:
            raise FakeOutOfMemory("CUDA out of memory")
        if "huge" in payloads:
            raise FakeOutOfMemory("CUDA out of memory (one item)")
        return [p.upper() for p in payloads]

    scheduler = make_scheduler(run_batch, max_wait_ms=50)
    payloads = ["a", "b", "c", "huge", "d", "e", "f", "g"]
    futures = scheduler.submit(payloads, [1] * len(payloads))
    results = {}
    for payload, future in zip(payloads, futures):
        try:
            results[payload] = future.result(timeout=10)
        except InferenceFailed as exc:
            results[payload] = exc
    scheduler.close()
    assert isinstance(results.pop("huge"), InferenceFailed)
    assert results == {p: p.upper() for p in payloads if p != "huge"}
    assert attempts[0] == 8 and 1 in attempts
    assert scheduler.stats.failed_items == 1 and scheduler.stats.splits >= 3


def test_close_fails_queued_items_and_refuses_new_ones():
    run_batch, gate, started = held_batches()
    scheduler = make_scheduler(run_batch, max_batch_size=1)
    running = scheduler.submit([1], [1])
    started.wait(10)
    queued = scheduler.submit([2], [1])
    closer = threading.Thread(target=scheduler.close)
    closer.start()
    while not scheduler._closed:  # close() has begun: it stops taking work, then waits for the batch
        time.sleep(0.001)
    gate.set()
    closer.join(10)
    assert running[0].result(timeout=1) == 1
    with pytest.raises(ShuttingDown):
        queued[0].result(timeout=1)
    with pytest.raises(ShuttingDown):
        scheduler.submit([3], [1])


@pytest.mark.parametrize("num_beams", [1, 3, 5])
def test_beam_search_shortcuts_change_no_token(runtime, num_beams):
    """Our generate path (cross-attention projected once per source, cross cache not reordered) against stock
    transformers generate on a freshly loaded copy of each model."""
    from transformers import AutoModelForSeq2SeqLM

    translator, summarizer = runtime.pipeline.translator, runtime.pipeline.summarizer
    rows = [p.input_ids for p in translator.prepare(mixed_sentences(6))]
    stock = AutoModelForSeq2SeqLM.from_pretrained(runtime.sources["translation"].path).eval()
    expected = stock.generate(**translator.tokenizer.pad_batch(rows), num_beams=num_beams, max_new_tokens=10)
    assert torch.equal(translator.generate_ids(rows, num_beams=num_beams, max_new_tokens=10), expected)
    assert not hasattr(stock, "_beam_repeats") and hasattr(translator.model, "_beam_repeats")

    article_rows = [summarizer.prepare(t, "lead").rows[0] for t in (SEED_TEXT, "भाजपा ने बैठक की।")]
    stock = AutoModelForSeq2SeqLM.from_pretrained(runtime.sources["summarization"].path).eval()
    batch = summarizer.tokenizer.pad_batch(article_rows)
    settings = {"num_beams": num_beams, "max_length": 20, "no_repeat_ngram_size": 2}
    expected = [summarizer.tokenizer.decode(r) for r in stock.generate(**batch, **settings)]
    assert summarizer.generate(article_rows, **settings) == expected


# --- admission by predicted wait, deadline order, dropped work (issue 26), fair share between keys (issue 25) ------
def measured(scheduler, items_per_s):
    """As if the engine had measured its batches: ``items_per_s`` at every size (no fixed cost per batch)."""
    from service.engine.scheduler import DrainModel

    scheduler.drain = DrainModel(scheduler.max_batch_size)
    if items_per_s:
        scheduler.drain.observe(scheduler.max_batch_size, scheduler.max_batch_size / items_per_s)


def deadline_in(seconds, caller=""):
    from service.workers import Deadline

    return Deadline(seconds, caller)


def test_work_predicted_to_miss_its_deadline_is_refused_before_any_of_it_is_queued():
    scheduler, gate, started, batches = lane_recorder(batch_size=4)
    first = scheduler.submit(["running"], [1])
    started.wait(10)
    scheduler.submit([f"q{i}" for i in range(40)], [1] * 40, deadline=deadline_in(4.5))
    measured(scheduler, 10.0)  # the 40 items ahead (earlier deadline) take 4 s
    with pytest.raises(Overloaded) as refused:
        scheduler.admit(20, "interactive", deadline_in(5))  # (40 + 20) / 10 = 6 s > 5 s
    assert refused.value.retry_after_s >= 1 and "predicted" in refused.value.message
    assert scheduler.queue_depth == 40  # nothing of it was queued
    scheduler.admit(5, "interactive", deadline_in(6))  # 4.5 s, within the admission share of 6 s: admitted
    scheduler.admit(1000, "interactive", deadline_in(None))  # no deadline, no refusal
    measured(scheduler, 0)
    scheduler.admit(1000, "interactive", deadline_in(0.5))  # no batch measured yet: admitted
    gate.set()
    assert first[0].result(timeout=10) == "running"
    scheduler.close()


def test_an_urgent_request_sees_less_work_ahead_than_a_patient_one():
    scheduler, gate, started, _ = lane_recorder(batch_size=4)
    scheduler.submit(["running"], [1])
    started.wait(10)
    scheduler.submit(["patient"] * 30, [1] * 30, deadline=deadline_in(600))
    measured(scheduler, 10.0)
    assert scheduler.predicted_s(10, "interactive", deadline_in(60).at) == pytest.approx(1.0)  # goes first
    assert scheduler.predicted_s(10, "interactive", deadline_in(900).at) == pytest.approx(4.0)  # waits behind
    assert scheduler.predicted_s(10, "bulk") == pytest.approx(4.0)  # bulk waits for all interactive work
    gate.set()
    scheduler.close()


def test_admission_counts_another_callers_work_only_up_to_the_share_the_rotation_gives_it():
    """Batches rotate between callers: a small request of a new caller waits for about as much of the big caller's
    work as its own, not for all of it, so it is admitted while the big caller's next request is refused."""
    scheduler, gate, started, _ = lane_recorder(batch_size=4)
    scheduler.submit(["running"], [1])
    started.wait(10)
    scheduler.submit(["flood"] * 200, [1] * 200, deadline=deadline_in(20, "big"))
    measured(scheduler, 10.0)
    assert scheduler.predicted_s(5, "interactive", deadline_in(30).at, "small") == pytest.approx(1.0)  # 5 + 5
    assert scheduler.predicted_s(5, "interactive", deadline_in(30).at, "big") == pytest.approx(20.5)  # 200 + 5
    scheduler.admit(5, "interactive", deadline_in(20, "small"))
    with pytest.raises(Overloaded):
        scheduler.admit(5, "interactive", deadline_in(20, "big"))
    assert scheduler.predicted_s(5, "interactive", deadline_in(30).at) == pytest.approx(21.0)  # all of it + reserved
    gate.set()
    scheduler.close()


def test_admitted_requests_finish_in_deadline_order_under_a_saturated_model():
    scheduler, gate, started, batches = lane_recorder(batch_size=4)
    scheduler.submit(["running"], [1])
    started.wait(10)
    finished = []
    deadlines = {"r30": 30, "r10": 10, "r50": 50, "r20": 20, "r40": 40}  # submitted out of deadline order

    async def main():
        async def request(name, seconds):
            await scheduler.run([f"{name}-{i}" for i in range(6)], [1] * 6, deadline=deadline_in(seconds))
            finished.append(name)

        tasks = [asyncio.ensure_future(request(n, s)) for n, s in deadlines.items()]
        while scheduler.queue_depth < 30:  # all five queued behind the held batch
            await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    scheduler.close()
    assert finished == sorted(deadlines, key=deadlines.get)
    # Each batch holds the most urgent request's items first, then fills from the next one.
    assert batches[1] == ["r10-0", "r10-1", "r10-2", "r10-3"] and batches[2][:2] == ["r10-4", "r10-5"]


def test_a_cancelled_request_leaves_the_queue_at_once_from_anywhere_in_it():
    scheduler, gate, started, batches = lane_recorder(batch_size=4)
    scheduler.submit(["running"], [1])
    started.wait(10)

    async def main():
        front = asyncio.ensure_future(scheduler.run(["a"] * 5, [1] * 5, deadline=deadline_in(10)))
        middle = asyncio.ensure_future(scheduler.run(["b"] * 7, [1] * 7, deadline=deadline_in(20)))
        back = asyncio.ensure_future(scheduler.run(["c"] * 3, [1] * 3, deadline=deadline_in(30)))
        while scheduler.queue_depth < 15:
            await asyncio.sleep(0)
        middle.cancel()
        with pytest.raises(asyncio.CancelledError):
            await middle
        assert scheduler.queue_depth == 8  # at once, while the worker is still held
        gate.set()
        await asyncio.gather(front, back)

    asyncio.run(main())
    scheduler.close()
    assert "b" not in [x for batch in batches for x in batch]


def test_one_failed_part_of_a_request_takes_its_other_parts_out_of_the_queue():
    """/translate's texts and /summarize's articles run as parts of one request: when one part is refused (here:
    the queue is full when it comes), the others' queued items leave at once (``all_or_none``)."""
    from service.workers import all_or_none

    scheduler, gate, started, batches = lane_recorder(batch_size=4)
    scheduler.max_queued_items = 10
    scheduler.submit(["running"], [1])
    started.wait(10)

    async def main():
        async def second_part():
            while scheduler.queue_depth < 8:  # the first part is queued
                await asyncio.sleep(0)
            return await scheduler.run(["too-many"] * 5, [1] * 5)

        with pytest.raises(Overloaded):
            await all_or_none([scheduler.run(["first"] * 8, [1] * 8), second_part()])
        assert scheduler.queue_depth == 0

    asyncio.run(main())
    gate.set()
    scheduler.close()
    assert "first" not in [x for batch in batches for x in batch]


def test_work_whose_deadline_is_out_of_reach_is_dropped_before_the_deadline():
    from service.errors import DeadlineExceeded

    batches = []
    # Batches wait up to 60 s to fill to 8 items: the worker looks at the queue each time work arrives.
    scheduler = make_scheduler(lambda p, k: batches.append(list(p)) or p, max_batch_size=8, max_wait_ms=60_000)
    measured(scheduler, 1.0)  # 20 items need 20 s even alone
    hopeless = scheduler.submit(["late"] * 20, [1] * 20, deadline=deadline_in(5))
    for future in hopeless:
        with pytest.raises(DeadlineExceeded):
            future.result(timeout=10)
    assert scheduler.queue_depth == 0
    fine = scheduler.submit(["ok"] * 8, [1] * 8, deadline=deadline_in(600))
    assert [f.result(timeout=10) for f in fine] == ["ok"] * 8
    scheduler.close()
    assert scheduler.stats.dropped_items == 20 and scheduler.queue_depth == 0
    assert "late" not in [x for batch in batches for x in batch]


def test_one_keys_big_request_holds_another_key_back_for_one_batch_at_most():
    scheduler, gate, started, batches = lane_recorder(batch_size=8)
    scheduler.submit(["running"], [1])
    started.wait(10)
    big = scheduler.submit([f"A{i}" for i in range(400)], [1] * 400, deadline=deadline_in(60, "key-a"))
    small = scheduler.submit([f"B{i}" for i in range(6)], [1] * 6, deadline=deadline_in(120, "key-b"))
    gate.set()
    assert [f.result(timeout=30) for f in small] == [f"B{i}" for i in range(6)]
    for future in big:
        future.result(timeout=30)
    scheduler.close()
    first = batches[1]
    assert sum(x.startswith("B") for x in first) >= 4 and len(first) == 8  # its share of the first batch…
    assert all(x.startswith("A") for batch in batches[3:] for x in batch)  # …and all of it within two batches


def test_admitted_work_is_reserved_until_queued_so_a_burst_cannot_all_pass():
    scheduler, gate, started, _ = lane_recorder(batch_size=4)
    scheduler.submit(["running"], [1])
    started.wait(10)
    measured(scheduler, 10.0)
    burst = [deadline_in(5) for _ in range(6)]  # 4 s of time each (the admission share of 5 s)
    admitted = []
    for deadline in burst:  # each wants 15 items (1.5 s) and none has queued anything yet
        try:
            scheduler.admit(15, "interactive", deadline)
            admitted.append(deadline)
        except Overloaded:
            pass
    assert len(admitted) == 2  # 15, 30 items fit in 4 s; 45 would not
    scheduler.submit(["x"] * 15, [1] * 15, deadline=admitted[0])  # queued: its reservation is used up, not doubled
    assert scheduler.predicted_s(0, "interactive", math.inf) == pytest.approx(3.0)
    for deadline in admitted:
        scheduler.release(deadline)
    assert scheduler.predicted_s(0, "interactive", math.inf) == pytest.approx(1.5)
    gate.set()
    scheduler.close()


def test_the_drain_model_predicts_full_batches_from_small_ones():
    """A quiet engine measures small batches; what a backlog takes follows from the line through them."""
    from service.engine.scheduler import DrainModel

    model = DrainModel(full=64)
    assert model.seconds(10) is None and model.items_per_s == 0
    for items, seconds in ((1, 1.1), (2, 1.2), (4, 1.4), (8, 1.8)):  # 1 s a batch plus 0.1 s a row
        model.observe(items, seconds)
    assert model.seconds(64) == pytest.approx(7.4) and model.seconds(130) == pytest.approx(2 * 7.4 + 1.2)
    assert model.items_per_s == pytest.approx(64 / 7.4)
    for _ in range(30):  # the machine got twice as slow: the fit follows
        model.observe(8, 3.6)
        model.observe(2, 2.4)
    assert model.seconds(64) == pytest.approx(14.8, rel=0.02)
