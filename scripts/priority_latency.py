"""An interactive request's latency with bulk work queued ahead of it, and without, on the tiny test models.

    python scripts/priority_latency.py [--models test-models] [--bulk 200] [--json out.json]

One pipeline (no translation memory; fixed 16 new tokens per sentence and summary so every batch does real work):
the same one-paragraph article is summarized (1) on idle engines, (2) with ``--bulk`` corpus sentences queued in the
bulk lane just before it, sent as an interactive request, and (3) the same, sent in the bulk lane too (what one FIFO
queue would do). Each case three times; medians.
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.benchmark import close_engines, command_line, report  # noqa: E402
from service.config import Settings  # noqa: E402
from service.pipeline import JobOptions  # noqa: E402
from service.runtime import load_models, make_pipeline, resolve_sources  # noqa: E402

NEW_TOKENS = 16


async def one_case(pipeline, paragraph: str, bulk: list[str], lane: str | None) -> float:
    """Seconds for the paragraph's request; with ``lane``, ``bulk`` sentences are queued first."""
    background = None
    if lane is not None:
        background = asyncio.ensure_future(pipeline.translate_sentences(bulk, "hin_Deva", None, lane="bulk"))
        while pipeline.translation_engine.queue_depth < len(bulk) // 2:  # the bulk work is in the queue
            await asyncio.sleep(0.001)
    start = time.perf_counter()
    await pipeline.process([("live", paragraph)], JobOptions(summary_languages=("hi",), priority=lane or "interactive"))
    seconds = time.perf_counter() - start
    if background is not None:
        await background
    return seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=ROOT / "test-models")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--bulk", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    settings = Settings(translation_model=str(args.models / "indictrans2"), summarization_model=str(args.models / "mt5"),
                        models_dir=str(args.models / "no-store"), offline=True, warmup=False, cache="off")  # fmt: skip
    models = load_models(settings, resolve_sources(settings))
    pipeline = make_pipeline(models.translator, models.summarizer, settings, None,
                             {"min_new_tokens": NEW_TOKENS, "max_new_tokens": NEW_TOKENS},
                             {"min_length": NEW_TOKENS + 1, "max_length": NEW_TOKENS + 1})  # fmt: skip
    passages = [json.loads(line)["text"] for line in (args.shared / "corpus" / "hindi_news.jsonl").open(encoding="utf-8")]
    sentences = [s for p in passages for s in p.replace("।", "।\n").splitlines() if s.strip()]
    bulk = [sentences[i % len(sentences)] for i in range(args.bulk)]
    paragraph = passages[0].split("\n")[0]
    cases = {"idle": None, "behind_bulk_as_interactive": "interactive", "behind_bulk_in_one_fifo": "bulk"}
    asyncio.run(one_case(pipeline, paragraph, bulk[:16], "interactive"))  # warm-up
    times = {name: [] for name in cases}
    for _ in range(3):
        for name, lane in cases.items():
            times[name].append(asyncio.run(one_case(pipeline, paragraph, bulk, lane)))
    stats = pipeline.translation_engine.stats
    result = {
        "command": command_line(argv),
        "dtypes": models.dtypes,
        "bulk_sentences": args.bulk,
        "mean_translation_batch": round(stats.items / max(1, stats.batches), 1),
        **{f"{name}_s": round(statistics.median(ts), 3) for name, ts in times.items()},
    }
    report(result, args.json)
    close_engines(pipeline)


if __name__ == "__main__":
    main()
