"""Checks that need a GPU, run by hand on one (see docs/BENCHMARKS.md for the last results):

    python scripts/gpu_check.py --models TINY_MODELS_DIR [--shared ../shared] [--json out.json]

1. IndicTrans2 parity on CUDA in float32 (upstream reference outputs), and generation in float16/bfloat16;
2. the whole pipeline on CUDA with the tiny models (device and dtype chosen by "auto");
3. a real CUDA out-of-memory error inside a batch: the engine splits the batch, and the service keeps serving;
4. the service's decoder ("fast", and "cuda-graphs" with each step replayed as a CUDA graph) against
   ``model.generate`` on CUDA: identical tokens in float32, agreement in bfloat16, and time per generated token;
5. with ``--ct2`` (only): both models on CTranslate2 float32 against torch float32 on CUDA, through the pipeline.
"""

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import AutoModelForSeq2SeqLM  # noqa: E402

import service.translation  # noqa: E402,F401
from service.config import Settings  # noqa: E402
from service.engine.decoding import generate  # noqa: E402
from service.engine.padding import pad_rows  # noqa: E402
from service.engine.scheduler import BatchScheduler  # noqa: E402
from service.errors import InferenceFailed  # noqa: E402
from service.pipeline import JobOptions  # noqa: E402
from service.runtime import build_runtime  # noqa: E402


def parity(shared: Path) -> dict:
    fixture = shared / "fixtures" / "indictrans2" / "parity_dist200m_style"
    ref = {k: v.cuda() for k, v in load_file(fixture / "reference_outputs.safetensors").items()}
    out = {}
    model = AutoModelForSeq2SeqLM.from_pretrained(fixture, attn_implementation="sdpa").cuda().eval()
    with torch.inference_mode():
        o = model(input_ids=ref["input_ids"], attention_mask=ref["attention_mask"], decoder_input_ids=ref["decoder_input_ids"])
        greedy = model.generate(input_ids=ref["input_ids"], attention_mask=ref["attention_mask"], num_beams=1,
                                max_new_tokens=12, min_new_tokens=12, do_sample=False)  # fmt: skip
        beam = model.generate(input_ids=ref["input_ids"], attention_mask=ref["attention_mask"], num_beams=4,
                              max_new_tokens=12, do_sample=False)  # fmt: skip
    out["fp32_max_abs_logit_diff"] = (o.logits - ref["logits"]).abs().max().item()
    out["fp32_max_abs_encoder_diff"] = (o.encoder_last_hidden_state - ref["encoder_last_hidden_state"]).abs().max().item()
    out["fp32_greedy_equal"] = bool(torch.equal(greedy, ref["greedy_ids"]))
    out["fp32_beam4_equal"] = bool(torch.equal(beam, ref["beam4_ids"]))
    for dtype in (torch.float16, torch.bfloat16):
        half = AutoModelForSeq2SeqLM.from_pretrained(fixture, dtype=dtype, attn_implementation="sdpa").cuda().eval()
        with torch.inference_mode():
            ids = half.generate(input_ids=ref["input_ids"], attention_mask=ref["attention_mask"], num_beams=4, max_new_tokens=8)
        out[f"{dtype}_generate_shape"] = list(ids.shape)
    return out


def pipeline_on_gpu(models: Path) -> dict:
    settings = Settings(
        translation_model=str(models / "indictrans2"), summarization_model=str(models / "mt5"), offline=True,
        translation_max_new_tokens=16,
    )  # fmt: skip
    runtime = build_runtime(settings)
    text = (ROOT / "seeds" / "seed_article_hi.txt").read_text(encoding="utf-8")
    [result] = asyncio.run(runtime.pipeline.process([("seed", text)], JobOptions(source_langs=("hin_Deva",))))
    runtime.close()
    return {
        "device": str(runtime.device),
        "dtypes": runtime.dtypes,
        "paragraphs_in": len([p for p in text.split("\n") if p.strip()]),
        "paragraphs_out": len(result.paragraphs_en),
        "summary_hi_chars": len(result.summaries["hi"]),
        "summary_en_chars": len(result.summaries["en"]),
        "timings_ms": result.timings_ms,
    }


def out_of_memory(models: Path) -> dict:
    """Cap this process's GPU memory, then send a batch too big for it through the scheduler."""
    # The torch path: its out-of-memory error and its allocator are what this checks.
    settings = Settings(translation_model=str(models / "indictrans2"), summarization_model=str(models / "mt5"),
                        offline=True, translation_max_new_tokens=64, translation_backend="torch")  # fmt: skip
    runtime = build_runtime(settings)
    translator = runtime.pipeline.translator
    torch.cuda.synchronize()
    free, total = torch.cuda.mem_get_info()
    cap_bytes = torch.cuda.memory_allocated() + 192 * 2**20  # the weights plus 192 MiB of working room
    torch.cuda.set_per_process_memory_fraction(cap_bytes / total)
    ooms = []

    def run_batch(rows, beams):
        try:
            return translator.generate(rows, num_beams=beams, min_new_tokens=64, max_new_tokens=64)
        except torch.cuda.OutOfMemoryError:
            ooms.append(len(rows))
            raise

    scheduler = BatchScheduler("oom-test", run_batch, 1 << 30, 512, 5.0, 10_000)
    long_row = translator.prepare(["भाजपा " * 120])[0].input_ids
    futures = scheduler.submit([long_row] * 256, [len(long_row)] * 256, key=8)
    done = failed = 0
    for f in futures:
        try:
            f.result(timeout=300)
            done += 1
        except InferenceFailed:
            failed += 1
    after = scheduler.submit([long_row[:10] + [2]], [11], key=1)[0].result(timeout=60)
    scheduler.close()
    runtime.close()
    torch.cuda.set_per_process_memory_fraction(1.0)
    return {"cap_mib": cap_bytes // 2**20, "oom_batch_sizes": ooms[:20], "ooms": len(ooms), "splits": scheduler.stats.splits,
            "items_done": done, "items_failed_alone": failed, "serves_after": isinstance(after, str)}  # fmt: skip


def random_sources(model, rows: int = 24) -> dict:
    """Random sources of 12–30 tokens, padded as the model's tokenizer pads them (IndicTrans2 on the left, mT5 on the
    right, with the pad id: IndicTrans2 reads its positions from where the pad ids are)."""
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(12, 31, (rows,), generator=generator).tolist()
    ids = [torch.randint(5, 900, (n,), generator=generator).tolist() for n in lengths]
    batch = pad_rows(ids, model.config.pad_token_id, left="t5" not in model.config.model_type)
    return {k: v.cuda() for k, v in batch.items()}


def decoders(models: Path) -> dict:
    """Each tiny model with the service's settings, on random sources of different lengths, every decoder."""
    out = {}
    cases = {
        "indictrans2": {"num_beams": 5, "max_new_tokens": 40, "do_sample": False},
        "mt5": {"num_beams": 4, "max_length": 84, "no_repeat_ngram_size": 2, "length_penalty": 0.6, "do_sample": False},
    }
    for dtype in (torch.float32, torch.bfloat16):
        for name, settings in cases.items():
            model = AutoModelForSeq2SeqLM.from_pretrained(models / name, dtype=dtype).cuda().eval()
            batch = random_sources(model)
            results, times = {}, {}
            with torch.inference_mode():
                for decoder in ("transformers", "fast", "cuda-graphs") * 2:  # the second round is timed
                    torch.cuda.synchronize()
                    start = time.perf_counter()
                    results[decoder] = generate(model, batch, settings, decoder)
                    torch.cuda.synchronize()
                    times[decoder] = time.perf_counter() - start
            expected = results["transformers"]
            steps = expected.shape[1] - 1
            key = f"{name}_{str(dtype).removeprefix('torch.')}"
            out[key] = {"steps": steps} | {f"{d}_ms_per_step": round(t / steps * 1000, 2) for d, t in times.items()}
            for decoder in ("fast", "cuda-graphs"):
                got = results[decoder]
                same_shape = got.shape == expected.shape
                out[key][f"{decoder}_identical"] = bool(same_shape and torch.equal(got, expected))
                out[key][f"{decoder}_rows_identical"] = (
                    int((got == expected).all(dim=1).sum()) if same_shape else "shape differs"
                )
    return out


def ctranslate2_against_torch(models: Path) -> dict:
    """Both models on CTranslate2 float32 against torch float32, on CUDA, through the pipeline: greedy outputs equal
    (tested on CPU; this says whether CUDA kernels keep it so), and 4/5-beam outputs compared."""
    text = (ROOT / "seeds" / "seed_article_hi.txt").read_text(encoding="utf-8")
    base = dict(translation_model=str(models / "indictrans2"), summarization_model=str(models / "mt5"), offline=True,
                translation_max_new_tokens=16, dtype="float32", ct2_compute_type="float32", warmup=False,
                models_dir="/tmp/ct2-store")  # fmt: skip
    outputs = {}
    for backend in ("torch", "ctranslate2"):
        runtime = build_runtime(Settings(**base, translation_backend=backend, summary_backend=backend))
        for beams in (1, 4):
            options = JobOptions(translation_num_beams=beams, summary_num_beams=beams, source_langs=("hin_Deva",))
            [result] = asyncio.run(runtime.pipeline.process([("seed", text)], options))
            outputs[backend, beams] = (result.paragraphs_en, result.summaries["hi"])
        runtime.close()
    return {
        f"{kind}_equal_beams_{beams}": outputs["torch", beams][i] == outputs["ctranslate2", beams][i]
        for beams in (1, 4) for i, kind in enumerate(("translation", "summary_hi"))
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--ct2", action="store_true", help="only the CTranslate2 check (needs ctranslate2)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("no CUDA GPU visible")
    result = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__}
    checks = (("parity", lambda: parity(args.shared)), ("pipeline", lambda: pipeline_on_gpu(args.models)),
              ("out_of_memory", lambda: out_of_memory(args.models)), ("decoders", lambda: decoders(args.models)))
    if args.ct2:
        checks = (("ctranslate2", lambda: ctranslate2_against_torch(args.models)),)
    for name, check in checks:
        try:
            result[name] = check()
        except Exception as exc:  # noqa: BLE001 - report every check, even after one fails
            result[name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(name, json.dumps(result[name]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
