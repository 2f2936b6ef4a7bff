"""What the translation memory saves, on the bench-size models (real shapes, random weights), in one run.

    python scripts/cache_benchmark.py [--backend torch|ctranslate2] [--summary-backend torch|ctranslate2]
                                      [--json out.json]

1. **A running story.** The seed article, then its update (a new paragraph on top, one figure changed), each as one
   request to a pipeline with a fresh memory: sentences sent to the translation engine and wall time of the update
   against the first call. Generation lengths are fixed (32 new tokens) as in ``scripts/benchmark.py``, so both
   calls do the work a real model would do for sentences of that length.
2. **An archive.** ``python -m service summarize-file`` (the real command, in its own process) over the corpus's
   passages, then again, into a new output, with 10 % of the paragraphs edited (one sentence changed in each): the
   sentences translated and the wall time of both passes (model loading included in each). Lengths are the
   service's own (``TRANSLATION_MAX_NEW_TOKENS=32`` to keep a random model's sentences short).
"""

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.benchmark import close_engines, command_line, ensure_models, report  # noqa: E402
from service.config import Settings  # noqa: E402
from service.memory import open_memory  # noqa: E402
from service.pipeline import JobOptions  # noqa: E402
from service.runtime import fingerprints, load_models, make_pipeline, resolve_sources  # noqa: E402

NEW_TOKENS = 32


def updated(text: str) -> str:
    """The next version of a live story: a new paragraph on top, one figure changed."""
    return "ताज़ा जानकारी: राहत दल रात भर काम करते रहे और सुबह तक कई लोगों को सुरक्षित निकाला गया।\n" + text.replace(
        "2024", "2025", 1
    )


def edited(passages: list[dict], share: float = 0.1) -> list[dict]:
    """Every tenth paragraph of the corpus (in order) with its last sentence changed."""
    out, seen = [], 0
    for p in passages:
        paragraphs = p["text"].split("\n")
        for i, paragraph in enumerate(paragraphs):
            if paragraph.strip():
                seen += 1
                if seen % round(1 / share) == 0:
                    paragraphs[i] = paragraph.rstrip().rstrip("।.") + " और जांच अभी जारी है।"
        out.append(p | {"text": "\n".join(paragraphs)})
    return out


def live_story(settings: Settings, cache_dir: Path) -> dict:
    settings = settings.model_copy(update={"cache": "on", "cache_dir": cache_dir})
    sources = resolve_sources(settings)
    models = load_models(settings, sources)
    memory = open_memory(settings, fingerprints(settings, models, sources))
    translation_kwargs = {"min_new_tokens": NEW_TOKENS, "max_new_tokens": NEW_TOKENS}
    summary_kwargs = {"min_length": NEW_TOKENS + 1, "max_length": NEW_TOKENS + 1}
    pipeline = make_pipeline(models.translator, models.summarizer, settings, None, translation_kwargs, summary_kwargs,
                             memory)  # fmt: skip
    seed = (ROOT / "seeds" / "seed_article_hi.txt").read_text(encoding="utf-8")
    asyncio.run(pipeline.process([("warm", "प्रधानमंत्री ने आज बैठक की।")], JobOptions(cache=False)))
    calls = {}
    for name, text in (("first", seed), ("update", updated(seed))):
        items = pipeline.translation_engine.stats.items
        start = time.perf_counter()
        [result] = asyncio.run(pipeline.process([(name, text)], JobOptions()))
        calls[name] = {
            "seconds": round(time.perf_counter() - start, 3),
            "article_sentences": result.cache.sentences,
            "article_sentences_reused": result.cache.hits,
            "sentences_to_engine": pipeline.translation_engine.stats.items - items,  # with the English summary's
            "summary_reused": result.cache.summary_reused,
            "timings_ms": result.timings_ms,  # translate and summarize run side by side
        }
    close_engines(pipeline)
    memory.close()
    first, update = calls["first"], calls["update"]
    article_work = update["article_sentences"] - update["article_sentences_reused"]
    return calls | {
        "article_translation_work_ratio": round(article_work / first["article_sentences"], 3),
        "engine_work_ratio": round(update["sentences_to_engine"] / first["sentences_to_engine"], 3),
        "wall_time_ratio": round(update["seconds"] / first["seconds"], 3),
        "dtypes": models.dtypes,
    }


def archive(models_dir: Path, shared: Path, backends: dict[str, str], workdir: Path) -> dict:
    passages = [json.loads(line) for line in (shared / "corpus" / "hindi_news.jsonl").open(encoding="utf-8")]
    inputs = {"first": passages, "edited": edited(passages)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUMMARIZER_")} | {
        "SUMMARIZER_TRANSLATION_MODEL": str(models_dir / "indictrans2"),
        "SUMMARIZER_SUMMARIZATION_MODEL": str(models_dir / "mt5"),
        "SUMMARIZER_MODELS_DIR": str(models_dir / "store"),
        "SUMMARIZER_TRANSLATION_BACKEND": backends["translation"], "SUMMARIZER_SUMMARY_BACKEND": backends["summary"],
        "SUMMARIZER_TRANSLATION_MAX_NEW_TOKENS": str(NEW_TOKENS), "SUMMARIZER_OFFLINE": "true",
        "SUMMARIZER_WARMUP": "false", "SUMMARIZER_CACHE_DIR": str(workdir / "memory"), "HF_HUB_OFFLINE": "1",
    }  # fmt: skip
    passes = {}
    for name, items in inputs.items():
        source, out = workdir / f"{name}.jsonl", workdir / f"{name}.out.jsonl"
        source.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in items), encoding="utf-8")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "service", "summarize-file", str(source), "-o", str(out)], cwd=ROOT,
                       env=env, check=True)  # fmt: skip
        seconds = time.perf_counter() - start
        results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert len(results) == len(items), f"{name}: {len(results)} results for {len(items)} articles"
        passes[name] = {
            "seconds": round(seconds, 1),
            "articles": len(results),
            "sentences": sum(r["meta"]["cache"]["sentences"] for r in results),
            "sentences_reused": sum(r["meta"]["cache"]["hits"] for r in results),
            "summaries_reused": sum(r["meta"]["cache"]["summary_reused"] for r in results),
        }
    first, second = passes["first"], passes["edited"]
    return passes | {
        "edited_paragraphs_share": 0.1,
        "sentences_translated_ratio": round(
            (second["sentences"] - second["sentences_reused"]) / (first["sentences"] - first["sentences_reused"]), 3
        ),
        "wall_time_ratio": round(second["seconds"] / first["seconds"], 3),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("torch", "ctranslate2"), default="ctranslate2",
                        help="both models on this backend (CTranslate2: int8 on CPU)")  # fmt: skip
    parser.add_argument("--summary-backend", choices=("torch", "ctranslate2"),
                        help="mT5 on this one instead (torch, with ctranslate2 above: the CPU defaults)")  # fmt: skip
    parser.add_argument("--models", type=Path, default=ROOT / "bench-models")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--skip-archive", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    models_dir = ensure_models(args.models, args.shared)
    backends = {"translation": args.backend, "summary": args.summary_backend or args.backend}
    settings = Settings(
        translation_model=str(models_dir / "indictrans2"), summarization_model=str(models_dir / "mt5"),
        models_dir=models_dir / "store", offline=True, warmup=False, translation_backend=backends["translation"],
        summary_backend=backends["summary"],
    )  # fmt: skip
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(argv),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "backends": backends,
    }
    with tempfile.TemporaryDirectory() as tmp:
        result["live_story"] = live_story(settings, Path(tmp) / "live")
        if not args.skip_archive:
            result["archive"] = archive(models_dir, args.shared, backends, Path(tmp))
    return report(result, args.json)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
