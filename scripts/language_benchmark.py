"""What serving every edition costs: language detection per article, and IndicTrans2 batches that mix languages.

    python scripts/language_benchmark.py [--models DIR] [--repeat 1] [--new-tokens 8] [--json out.json]

1. Detection: each served language's test passages (tests/indic_passages.py) made into a 5 000-character article;
   ``detect_language`` timed on each (the best of three runs, on this thread's CPU clock), and ``Pipeline.clean`` with
   the language detected against named (what detection adds to a request's text work).
2. Mixed batches: the sentences of the nine XL-Sum languages' passages (each repeated ``--repeat`` times) through the
   service's translation engine, fixed generation length (min = max new tokens, so both runs generate the same
   tokens): ``mixed``, every language submitted at once (the engine pools them into shared, length-sorted batches,
   each sentence carrying its own language tag), against ``grouped``, one language after another (each batch holds
   one language). Reported: time, batches, and padding (padded tokens over real ones: what mixing could cost).
   Models: the ``bench``-size random models by default (real shapes, real IndicTrans2 tokenizer), built on first use.
"""

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scripts.benchmark import close_engines, command_line, ensure_models  # noqa: E402
from service.config import Settings  # noqa: E402
from service.pipeline import JobOptions  # noqa: E402
from service.runtime import load_models, make_pipeline, resolve_sources  # noqa: E402
from service.text.language import LANGUAGES, detect_language, language_identifier  # noqa: E402
from service.text.splitting import split_sentences  # noqa: E402
from tests.indic_passages import PASSAGES  # noqa: E402

ARTICLE_CHARS = 5000


def article(code: str, chars: int = ARTICLE_CHARS) -> str:
    """The language's passages, a paragraph each, repeated up to ``chars`` characters."""
    text = "\n\n".join(PASSAGES[code])
    return ((text + "\n\n") * (chars // len(text) + 1))[:chars]


def cpu_ms(function, *args) -> float:
    """This thread's CPU time for one call, the best of three (a busy neighbour does not inflate it)."""
    best = float("inf")
    for _ in range(3):
        started = time.thread_time()
        function(*args)
        best = min(best, time.thread_time() - started)
    return best * 1000


def detection_cost(pipeline, sample_chars: int) -> dict:
    language_identifier()  # loaded once at start-up in the service
    options = JobOptions()
    per_language, added = {}, []
    for code in LANGUAGES:
        text = article(code)
        assert detect_language(text, sample_chars).lang == code, code
        per_language[code] = round(cpu_ms(detect_language, text, sample_chars), 2)
        detected = cpu_ms(pipeline.clean, text, "", None, options)
        named = cpu_ms(pipeline.clean, text, "", code, options)
        added.append(detected - named)
    times = sorted(per_language.values())
    return {
        "article_chars": ARTICLE_CHARS, "sample_chars": sample_chars,
        "detect_ms": {"median": round(statistics.median(times), 2), "worst": times[-1],
                      "worst_language": max(per_language, key=per_language.get), "per_language": per_language},
        "clean_ms_added_by_detection": {"median": round(statistics.median(added), 2), "worst": round(max(added), 2)},
    }  # fmt: skip


class BatchCounter:
    """The engine's observer: what each translation batch held."""

    def __init__(self):
        self.batches = self.rows = self.padded = self.tokens_in = 0

    def on_batch(self, engine, rows, padded_tokens, seconds):
        if engine == "translation":
            self.batches, self.rows, self.padded = self.batches + 1, self.rows + rows, self.padded + padded_tokens

    def on_tokens(self, model, tokens_in, tokens_out):
        if model == "translation":
            self.tokens_in += tokens_in


async def translate(pipeline, groups: dict[str, list[str]], mixed: bool) -> float:
    started = time.perf_counter()
    if mixed:
        await asyncio.gather(*(pipeline.translate_sentences(sentences, code, None, use_memory=False)
                               for code, sentences in groups.items()))  # fmt: skip
    else:
        for code, sentences in groups.items():
            await pipeline.translate_sentences(sentences, code, None, use_memory=False)
    return time.perf_counter() - started


def mixed_batches(models, settings, repeat: int, new_tokens: int) -> dict:
    kwargs = {"min_new_tokens": new_tokens, "max_new_tokens": new_tokens}
    groups = {code: [s for text in PASSAGES[code] for s in split_sentences(text, code)] * repeat
              for code, language in LANGUAGES.items() if language.xlsum}  # fmt: skip
    out = {"languages": list(groups), "sentences": sum(map(len, groups.values())), "new_tokens": new_tokens}
    warm = {"hin_Deva": groups["hin_Deva"][:4]}
    for mode in ("mixed", "grouped", "mixed", "grouped"):  # twice each, alternating: the second pair is reported
        counter = BatchCounter()
        pipeline = make_pipeline(models.translator, models.summarizer, settings, counter, kwargs)
        asyncio.run(translate(pipeline, warm, True))
        counter.__init__()
        seconds = asyncio.run(translate(pipeline, groups, mode == "mixed"))
        close_engines(pipeline)
        out[mode] = {
            "seconds": round(seconds, 3), "sentences_per_s": round(out["sentences"] / seconds, 1),
            "batches": counter.batches, "mean_batch_rows": round(counter.rows / max(1, counter.batches), 1),
            "padding_ratio": round(counter.padded / max(1, counter.tokens_in), 3),
        }  # fmt: skip
    out["mixed_over_grouped_time"] = round(out["mixed"]["seconds"] / out["grouped"]["seconds"], 3)
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=ROOT / "bench-models", help="bench-size models (built if absent)")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--repeat", type=int, default=1, help="copies of each language's sentences")
    parser.add_argument("--new-tokens", type=int, default=8, help="fixed generated length per sentence")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    models_dir = ensure_models(args.models, args.shared)
    settings = Settings(
        translation_model=str(models_dir / "indictrans2"), summarization_model=str(models_dir / "mt5"),
        device=args.device, offline=True, warmup=False, cache="off", translation_backend="torch",
    )  # fmt: skip
    models = load_models(settings, resolve_sources(settings))
    pipeline = make_pipeline(models.translator, models.summarizer, settings)
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(argv),
        "machine": {"platform": platform.platform(), "cpu_threads": torch.get_num_threads(),
                    "device": str(models.device), "models": str(models_dir)},  # fmt: skip
        "detection": detection_cost(pipeline, settings.language_sample_chars),
    }
    close_engines(pipeline)
    result["mixed_batches"] = mixed_batches(models, settings, args.repeat, args.new_tokens)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    return result


if __name__ == "__main__":
    main()
