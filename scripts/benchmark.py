"""Throughput of the batching engine against the model cards' naive loop, on the same models and settings.

    python scripts/benchmark.py [--quick] [--articles 16] [--json out.json] [--ct2 int8] [--http]

The naive loop (the model cards' way): per article, its sentences through IndicTrans2 in batches of 4 with 5 beams,
then the article through mT5 with 4 beams; one article after another. The engine: all articles submitted at once
(as concurrent requests would be), sentences and articles pooled into length-sorted, token-budgeted batches, the two
models running side by side. Generation lengths are fixed (min = max new tokens) so both sides do identical work;
the models are the ``bench``-size random models (real shapes, real IndicTrans2 tokenizer), built on first use.
The naive loop decodes with transformers' ``model.generate``, as the model cards do; the engine with the service's
decoder (``service/engine/decoding.py``; ``--compare-decoders`` also runs the engine with the other decoders).
Also measured: the scheduler's own overhead with an instant fake model (items/s), and the decoders' host time per
generated token on models with the real layer counts and tiny widths (what bounds a GPU, where the arithmetic of a
step takes less time than launching it), and IndicTrans2's encoder on one mixed-length batch, padded whole against
the engine's length groups.
"""

import argparse
import asyncio
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from service.config import Settings  # noqa: E402
from service.engine.scheduler import BatchScheduler  # noqa: E402
from service.pipeline import JobOptions  # noqa: E402
from service.runtime import Runtime, load_models, make_pipeline, resolve_sources  # noqa: E402
from scripts.articles import load_articles  # noqa: E402
from service.text.splitting import split_article  # noqa: E402

OPTIONS = JobOptions(translate=True, summary_languages=("hi",), translation_num_beams=5, summary_num_beams=4)
NAIVE_SENTENCE_BATCH = 4


def percentiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50_latency_s": round(statistics.median(ordered), 3),
        "p95_latency_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
    }


def summary(kind: str, seconds: float, latencies: list[float], articles: int, sentences: int) -> dict:
    return {
        "mode": kind,
        "seconds": round(seconds, 3),
        "articles_per_s": round(articles / seconds, 3),
        "sentences_per_s": round(sentences / seconds, 2),
        **percentiles(latencies),
    }


def model_card_decoding(model):
    """The same model and tokenizer, decoding with ``model.generate`` as the model cards do."""
    card = copy.copy(model)
    card.decoder = "transformers"
    return card


def run_naive(models, articles, translation_kwargs, summary_kwargs, sentence_batch=NAIVE_SENTENCE_BATCH):
    """One article after another: its sentences in batches of ``sentence_batch`` (None: all in one batch, as a
    request-batched server does), then its summary."""
    translator, summarizer = model_card_decoding(models.translator), model_card_decoding(models.summarizer)
    latencies, start = [], time.perf_counter()
    for _, text in articles:
        layout = split_article(text)
        pieces = translator.prepare(layout.sentences)
        decoded = []
        step = sentence_batch or len(pieces)
        for i in range(0, len(pieces), step):
            rows = [p.input_ids for p in pieces[i : i + step]]
            decoded += translator.generate(rows, num_beams=5, **translation_kwargs)
        layout.join(translator.finish(pieces, decoded, len(layout.sentences)))
        summarizer.generate(summarizer.prepare(text, "lead").rows, num_beams=4, **summary_kwargs)
        latencies.append(time.perf_counter() - start)
    return time.perf_counter() - start, latencies


def close_engines(pipeline) -> None:
    for engine in (pipeline.translation_engine, pipeline.summary_engine):
        engine.close()


async def run_engine(pipeline, articles) -> tuple[float, list[float]]:
    start = time.perf_counter()

    async def one(article_id, text):
        await pipeline.process([(article_id, text)], OPTIONS)
        return time.perf_counter() - start

    latencies = await asyncio.gather(*(one(i, t) for i, t in articles))
    return time.perf_counter() - start, list(latencies)


def run_http(runtime: Runtime, articles, clients: int) -> tuple[float, list[float]]:
    """Real uvicorn on a free port with this runtime; ``clients`` concurrent httpx clients share the articles."""
    import httpx
    import uvicorn

    from service.api import create_app
    from service.deploy.local_cluster import free_port

    port = free_port()
    # Long deadline: on 2 CPU cores, 16 articles in flight at once take minutes each.
    settings = runtime.settings.model_copy(update={"warmup": False, "max_request_bytes": 10_000_000, "request_timeout_s": 3600})
    server = uvicorn.Server(uvicorn.Config(create_app(settings, lambda: runtime), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(url + "/readyz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.05)

    async def main():
        queue = list(articles)
        latencies, start = [], time.perf_counter()
        body_options = {"summary_languages": ["hi"], "translation_num_beams": 5, "summary_num_beams": 4}

        async def client(http):
            while queue:
                article_id, text = queue.pop(0)
                sent = time.perf_counter()
                r = await http.post("/summarize", json={"id": article_id, "text": text, "options": body_options})
                r.raise_for_status()
                latencies.append(time.perf_counter() - sent)

        async with httpx.AsyncClient(base_url=url, timeout=3600) as http:
            await asyncio.gather(*(client(http) for _ in range(clients)))
        return time.perf_counter() - start, latencies

    try:
        return asyncio.run(main())
    finally:
        server.should_exit = True
        thread.join(30)


def scheduler_overhead(items: int = 50_000, per_request: int = 20) -> float:
    """Items per second through the scheduler when the model costs nothing."""
    scheduler = BatchScheduler("fake", lambda rows, key: rows, 1 << 30, 64, 1.0, items + 1)

    async def main():
        start = time.perf_counter()
        await asyncio.gather(
            *(scheduler.run(list(range(per_request)), [i % 50 + 1] * per_request) for i in range(items // per_request))
        )
        return time.perf_counter() - start

    seconds = asyncio.run(main())
    scheduler.close()
    return items / seconds


def kernels_per_step(model, batch, settings, decoder) -> float:
    """Operations that launch a kernel (views excluded) per generated token: 24 tokens minus 8, over 16."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from service.engine.decoding import generate

    class Count(TorchDispatchMode):
        count = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if not func.is_view:
                self.count += 1
            return func(*args, **(kwargs or {}))

    counts = []
    for steps in (8, 24):
        with Count() as counter:
            generate(model, batch, settings | {"min_new_tokens": steps, "max_new_tokens": steps}, decoder)
        counts.append(counter.count)
    return round((counts[1] - counts[0]) / 16, 1)


def decoding_overhead(steps: int = 16) -> dict:
    """Milliseconds per generated token, ``model.generate`` against the service's decoder, on random models with the
    published layer counts (IndicTrans2 dist-200M: 18 + 18; mT5-base: 12 + 12) and tiny widths, 2 sources × beams on
    one thread: the host-side cost of a step, which a GPU cannot hide when its own work per step is smaller."""
    from transformers import MT5Config, MT5ForConditionalGeneration

    from service.engine.beam_search import optimize_for_beam_search
    from service.engine.decoding import generate, generation_config, supported
    from service.translation import IndicTransConfig
    from service.translation.modeling import IndicTransForConditionalGeneration

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    side = dict(vocab_size=1000, embed_dim=64, ffn_dim=128, attention_heads=8, layers=18)
    models = {
        "indictrans2": (IndicTransForConditionalGeneration(IndicTransConfig(
            **{f"{s}_{k}": v for s in ("encoder", "decoder") for k, v in side.items()},
            max_source_positions=256, max_target_positions=256, pad_token_id=1, bos_token_id=0, eos_token_id=2,
            decoder_start_token_id=2)), {"num_beams": 5}),
        "mt5": (MT5ForConditionalGeneration(MT5Config(
            vocab_size=1000, d_model=64, d_kv=8, d_ff=128, num_layers=12, num_heads=8, feed_forward_proj="gated-gelu",
            decoder_start_token_id=0)), {"num_beams": 4, "no_repeat_ngram_size": 2, "length_penalty": 0.6}),
    }  # fmt: skip
    batch = {"input_ids": torch.randint(5, 1000, (2, 40)), "attention_mask": torch.ones(2, 40, dtype=torch.long)}
    result = {}
    with torch.inference_mode():
        for name, (model, settings) in models.items():
            model.eval()
            optimize_for_beam_search(model)
            settings = settings | {"min_new_tokens": steps, "max_new_tokens": steps, "do_sample": False}
            assert supported(model, generation_config(model, settings)), name
            times = {}
            for decoder in ("transformers", "fast", "transformers", "fast"):  # the second round is the one kept
                start = time.perf_counter()
                generate(model, batch, settings, decoder)
                times[decoder] = (time.perf_counter() - start) / steps * 1000
            result[name] = {f"{k}_ms_per_step": round(v, 2) for k, v in times.items()}
            result[name]["ratio"] = round(times["transformers"] / times["fast"], 2)
            for decoder in ("transformers", "fast"):
                result[name][f"{decoder}_kernels_per_step"] = kernels_per_step(model, batch, settings, decoder)
    torch.set_num_threads(threads)
    return result


def encoder_grouping(translator, articles, rows: int = 48) -> dict:
    """IndicTrans2's encoder on one mixed-length batch (the first ``rows`` sentences of the articles, in order, as a
    lightly loaded engine would batch them): the whole padded batch against ``engine/encoding.py``'s length groups."""
    from service.engine.encoding import encode, length_groups

    sentences = [s for _, text in articles for s in split_article(text).sentences][:rows]
    ids = [p.input_ids for p in translator.prepare(sentences)]
    batch = {k: v.to(translator.device) for k, v in translator.tokenizer.pad_batch(ids).items()}
    lengths = [len(row) for row in ids]
    runs = {
        "whole_batch": lambda: translator.model.get_encoder()(**batch).last_hidden_state,
        "length_groups": lambda: encode(translator.model, batch),
    }
    times = {}
    with torch.inference_mode():
        for name in list(runs) * 2:  # the second round is the one kept
            start = time.perf_counter()
            runs[name]()
            if translator.device.type == "cuda":
                torch.cuda.synchronize(translator.device)
            times[name] = time.perf_counter() - start
    return {
        "rows": len(ids), "longest": max(lengths), "real_token_fraction": round(sum(lengths) / len(ids) / max(lengths), 2),
        "groups": len(length_groups(lengths)), **{f"{k}_s": round(v, 3) for k, v in times.items()},
        "ratio": round(times["whole_batch"] / times["length_groups"], 2),
    }  # fmt: skip


def compare_ctranslate2(settings, sources, models_dir, compute_type, articles, sentences, warm, translation_kwargs,
                        summary_kwargs, result, threads=None, torch_models=None) -> dict:  # fmt: skip
    """Both models on CTranslate2: the request-batched peer, then our engine; speed-ups against the cards' loop, the
    peer and the engine on torch (all in this run)."""
    ct2_settings = settings.model_copy(update={
        "translation_backend": "ctranslate2", "summary_backend": "ctranslate2", "ct2_compute_type": compute_type,
        "models_dir": models_dir / "store", **({"cpu_threads": threads} if threads else {}),
    })  # fmt: skip
    torch_threads = torch.get_num_threads()
    ct2_models = load_models(ct2_settings, sources)
    torch.set_num_threads(torch_threads)  # loading set the CPU threads for the CTranslate2 models
    ct2_pipeline = make_pipeline(ct2_models.translator, ct2_models.summarizer, ct2_settings, None, translation_kwargs,
                                 summary_kwargs)  # fmt: skip
    run_naive(ct2_models, warm, translation_kwargs, summary_kwargs, sentence_batch=None)
    asyncio.run(run_engine(ct2_pipeline, warm))
    seconds, latencies = run_naive(ct2_models, articles, translation_kwargs, summary_kwargs, sentence_batch=None)
    out = {"compute_type": compute_type}
    out["peer"] = summary("request-batched CTranslate2", seconds, latencies, len(articles), sentences)
    seconds, latencies = asyncio.run(run_engine(ct2_pipeline, articles))
    out["engine"] = summary("engine on CTranslate2", seconds, latencies, len(articles), sentences)
    out["engine"]["speedup_vs_peer"] = round(out["peer"]["seconds"] / seconds, 2)
    for path in ("peer", "engine"):
        if "naive" in result:
            out[path]["speedup_vs_naive"] = round(result["naive"]["seconds"] / out[path]["seconds"], 2)
    out["engine"]["speedup_vs_torch_engine"] = round(result["engine"]["seconds"] / seconds, 2)
    out["gpu_memory"] = gpu_memory()
    if torch_models is not None:
        # The service's default pair: IndicTrans2 on CTranslate2, mT5 on torch (never half precision on CTranslate2).
        out["engine_default_pair"] = engine_run(
            "engine, IndicTrans2 on CTranslate2 + mT5 on torch", ct2_models.translator, torch_models.summarizer,
            ct2_settings, translation_kwargs, summary_kwargs, warm, articles, sentences,
        )  # fmt: skip
        seconds = out["engine_default_pair"]["seconds"]
        out["engine_default_pair"]["speedup_vs_peer"] = round(out["peer"]["seconds"] / seconds, 2)
        if "naive" in result:
            out["engine_default_pair"]["speedup_vs_naive"] = round(result["naive"]["seconds"] / seconds, 2)
    reference = ct2_models
    if compute_type != "float32":
        reference = load_models(ct2_settings.model_copy(update={"ct2_compute_type": "float32"}), sources)
        torch.set_num_threads(torch_threads)
        out["token_agreement_vs_float32"] = token_agreement(ct2_models, reference, articles, translation_kwargs,
                                                            summary_kwargs)  # fmt: skip
    if torch_models is not None and set(torch_models.dtypes.values()) == {"float32"}:
        # CTranslate2 float32 against the torch models: IndicTrans2 should agree fully; mT5 with the card's 2-gram
        # ban and beams may not (CTranslate2 bans before its softmax, transformers after).
        out["float32_token_agreement_vs_torch"] = token_agreement(reference, torch_models, articles,
                                                                  translation_kwargs, summary_kwargs)  # fmt: skip
    close_engines(ct2_pipeline)
    return out


def engine_run(label, translator, summarizer, settings, translation_kwargs, summary_kwargs, warm, articles,
               sentences) -> dict:  # fmt: skip
    """A fresh engine pair over these models: warmed up, then timed on the articles."""
    pipeline = make_pipeline(translator, summarizer, settings, None, translation_kwargs, summary_kwargs)
    asyncio.run(run_engine(pipeline, warm))
    seconds, latencies = asyncio.run(run_engine(pipeline, articles))
    close_engines(pipeline)
    return summary(label, seconds, latencies, len(articles), sentences)


def gpu_memory() -> dict | None:
    """The GPU memory this process has used so far: torch's peak allocation, and what the device reports in use
    (CTranslate2 allocates outside torch)."""
    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info()
    return {"torch_peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            "device_used_gib": round((total - free) / 2**30, 2)}  # fmt: skip


def token_agreement(models, reference, articles, translation_kwargs, summary_kwargs) -> dict:
    """How often ``models`` decode the same tokens as ``reference`` on the benchmark's articles: whole rows
    identical, and matching tokens position by position over all generated tokens."""
    pairs = {"translation": [], "summarization": []}
    for _, text in articles:
        rows = [p.input_ids for p in models.translator.prepare(split_article(text).sentences)]
        pairs["translation"].append(
            [m.translator.generate_ids(rows, num_beams=5, **translation_kwargs) for m in (models, reference)]
        )
        rows = models.summarizer.prepare(text, "lead").rows
        pairs["summarization"].append(
            [m.summarizer.generate_ids(rows, num_beams=4, **summary_kwargs) for m in (models, reference)]
        )
    specials = {kind: {m.tokenizer.pad_token_id, m.tokenizer.eos_token_id}
                for kind, m in (("translation", models.translator), ("summarization", models.summarizer))}  # fmt: skip
    out = {}
    for kind, batches in pairs.items():
        rows = same_rows = tokens = same_tokens = 0
        for ours, theirs in batches:
            for a, b in zip(ours.tolist(), theirs.tolist(), strict=True):
                # The generated tokens only: the decoder start, the closing </s> (CTranslate2's rows get one even
                # when cut at the length limit, generate's do not) and padding are layout, not decoding.
                a, b = ([t for t in row[1:] if t not in specials[kind]] for row in (a, b))
                rows += 1
                same_rows += a == b
                tokens += max(len(a), len(b))
                same_tokens += sum(x == y for x, y in zip(a, b))
        out[kind] = {"rows": rows, "identical_rows": same_rows, "token_match": round(same_tokens / max(1, tokens), 4)}
    return out


def command_line(argv) -> str:
    """How a script was run, for its report."""
    return "python " + " ".join([Path(sys.argv[0]).as_posix()] + (argv or sys.argv[1:]))


def report(result: dict, path: Path | None) -> dict:
    """Print a script's results as JSON, and write them to ``path`` when given."""
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if path:
        path.write_text(text + "\n")
    return result


def partial_writer(result: dict, path: Path | None):
    """A function that writes ``result`` as it stands to ``path``: a run cut short by a timeout keeps what it
    measured."""

    def write() -> None:
        if path:
            path.write_text(json.dumps(result | {"partial": True}, indent=2, ensure_ascii=False) + "\n")

    return write


def ensure_models(directory: Path, shared: Path) -> Path:
    if not (directory / "mt5" / "config.json").is_file():
        print(f"building bench-size models in {directory} …", flush=True)
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "make_test_models.py"), str(directory), "--size", "bench",
             "--shared", str(shared)], check=True,
        )  # fmt: skip
    return directory


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="8 new tokens, briefs of 4 sentences (about two minutes on 2 CPU cores)"
    )
    parser.add_argument("--sentences", type=int, help="cut each article to its first N sentences (4 with --quick)")
    parser.add_argument("--passages", type=int, help="corpus passages per article (default 2; 1 with --quick)")
    parser.add_argument("--articles", type=int, default=16, help="articles submitted concurrently")
    parser.add_argument("--new-tokens", type=int, help="fixed generated length (default 32; 8 with --quick)")
    parser.add_argument("--models", type=Path, default=ROOT / "bench-models", help="bench-size models (built if absent)")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--http", action="store_true", help="also measure over HTTP with concurrent clients")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--decoder", choices=("fast", "cuda-graphs"), default="fast", help="the engine's decoder")
    parser.add_argument(
        "--compare-decoders", action="store_true", help="also run the engine with the other decoders (same run)"
    )
    parser.add_argument(
        "--ct2", choices=("float32", "int8", "float16", "bfloat16", "int8_float16"), help="also run, at this CTranslate2 compute type, the engine on "
        "CTranslate2 and a request-batched CTranslate2 server (each article's sentences as one batch, one article "
        "at a time, then its summary: the way AI4Bharat's Triton deployment batches)",
    )  # fmt: skip
    parser.add_argument("--ct2-threads", type=int, help="threads per CTranslate2 model (default: the cores available)")
    parser.add_argument("--skip-overheads", action="store_true",
                        help="skip the scheduler's and decoders' host overheads and the encoder's length groups")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    new_tokens = args.new_tokens or (8 if args.quick else 32)

    models_dir = ensure_models(args.models, args.shared)
    settings = Settings(
        translation_model=str(models_dir / "indictrans2"), summarization_model=str(models_dir / "mt5"),
        device=args.device, dtype=args.dtype, offline=True, warmup=False,
        max_article_chars=1_000_000, decoder=args.decoder, translation_backend="torch", summary_backend="torch",
    )  # fmt: skip
    sources = resolve_sources(settings)
    models = load_models(settings, sources)
    # The cards' loop runs the models as published: with torch's own CPU kernels, not our packed oneDNN layers.
    card_models = models
    if "onednn" in models.cpu_gemm.values():
        card_models = load_models(settings.model_copy(update={"cpu_gemm": "default"}), sources)
    translation_kwargs = {"min_new_tokens": new_tokens, "max_new_tokens": new_tokens}
    # mT5's max_length counts the decoder start token: max_length = new tokens + 1.
    summary_kwargs = {"min_length": new_tokens + 1, "max_length": new_tokens + 1}
    passages = args.passages or (1 if args.quick else 2)
    max_sentences = args.sentences or (4 if args.quick else None)
    articles = load_articles(args.shared, args.articles, passages, max_sentences)
    sentences = sum(len(split_article(t).sentences) for _, t in articles)
    pipeline = make_pipeline(models.translator, models.summarizer, settings, None, translation_kwargs, summary_kwargs)

    # Warm-up of both paths (allocator, kernels, thread pools) on one short article.
    warm = [("warm", articles[-1][1].split("\n")[0])]
    run_naive(card_models, warm, translation_kwargs, summary_kwargs)
    asyncio.run(run_engine(pipeline, warm))

    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(argv),
        "machine": {
            "platform": platform.platform(),
            "cpu_threads": torch.get_num_threads(),
            "device": str(models.device),
            "gpu": torch.cuda.get_device_name(models.device) if models.device.type == "cuda" else None,
            "torch": torch.__version__,
        },
        "config": {
            "articles": len(articles), "sentences": sentences, "new_tokens": new_tokens, "dtypes": models.dtypes,
            "passages_per_article": passages, "max_sentences_per_article": max_sentences,
            "translation_beams": 5, "summary_beams": 4, "naive_sentence_batch": NAIVE_SENTENCE_BATCH,
            "engine_decoder": args.decoder, "naive_decoder": "transformers",
            "engine_cpu_gemm": models.cpu_gemm, "naive_cpu_gemm": card_models.cpu_gemm,
        },  # fmt: skip
    }
    seconds, latencies = asyncio.run(run_engine(pipeline, articles))
    result["engine"] = summary("engine, in-process", seconds, latencies, len(articles), sentences)
    result["engine"]["gpu_memory"] = gpu_memory()
    result["engine"]["batches"] = {
        e.name: {"count": e.stats.batches, "mean_size": round(e.stats.items / max(1, e.stats.batches), 1)}
        for e in (pipeline.translation_engine, pipeline.summary_engine)
    }
    checkpoint = partial_writer(result, args.json)
    checkpoint()
    if args.compare_decoders:
        # The same engine with each other decoder ("cuda-graphs" only on a GPU: elsewhere it is "fast").
        others = [d for d in ("transformers", "fast", "cuda-graphs") if d != args.decoder]
        others = [d for d in others if d != "cuda-graphs" or models.device.type == "cuda"]
        result["engine_by_decoder"], result["engine_speedup_over_decoder"] = {}, {}
        for decoder in others:
            models.translator.decoder = models.summarizer.decoder = decoder
            asyncio.run(run_engine(pipeline, warm))
            seconds, latencies = asyncio.run(run_engine(pipeline, articles))
            result["engine_by_decoder"][decoder] = summary(f"engine, decoder {decoder}", seconds, latencies,
                                                           len(articles), sentences)  # fmt: skip
            result["engine_speedup_over_decoder"][decoder] = round(seconds / result["engine"]["seconds"], 2)
        models.translator.decoder = models.summarizer.decoder = args.decoder
        checkpoint()
    if card_models is not models:
        # The same engine on torch's own CPU kernels: what the packed oneDNN layers gain, in this run.
        result["engine_default_gemm"] = engine_run(
            "engine, torch's default CPU kernels", card_models.translator, card_models.summarizer, settings,
            translation_kwargs, summary_kwargs, warm, articles, sentences,
        )  # fmt: skip
        seconds = result["engine_default_gemm"]["seconds"]
        result["engine"]["speedup_vs_default_gemm"] = round(seconds / result["engine"]["seconds"], 2)
    if not args.skip_naive:
        # The model cards' loop runs the models as published (float32 on CPU).
        seconds, latencies = run_naive(card_models, articles, translation_kwargs, summary_kwargs)
        result["naive"] = summary("naive model-card loop", seconds, latencies, len(articles), sentences)
        result["naive"]["dtypes"] = models.dtypes
        result["speedup_vs_naive"] = round(result["naive"]["seconds"] / result["engine"]["seconds"], 2)
        checkpoint()
    if args.ct2:
        result["ctranslate2"] = compare_ctranslate2(settings, sources, models_dir, args.ct2, articles, sentences, warm,
                                                    translation_kwargs, summary_kwargs, result, args.ct2_threads, models)  # fmt: skip
        checkpoint()
    if args.http:
        runtime = Runtime(settings, pipeline, models.device, models.dtypes, sources)
        seconds, latencies = run_http(runtime, articles, args.clients)
        result["http"] = summary(f"engine over HTTP, {args.clients} clients", seconds, latencies, len(articles), sentences)
        if "naive" in result:
            result["http"]["speedup_vs_naive"] = round(result["naive"]["seconds"] / seconds, 2)
    close_engines(pipeline)
    if not args.skip_overheads:
        result["scheduler_overhead_items_per_s"] = round(scheduler_overhead())
        result["decoding_overhead"] = decoding_overhead()
        result["encoder_grouping"] = encoder_grouping(models.translator, articles)
    return report(result, args.json)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
