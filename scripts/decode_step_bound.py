"""Time per decoding step at batch ≥ 64 against the memory-bandwidth bound, per model and backend (on a GPU):

    python scripts/decode_step_bound.py --models BENCH_MODELS [--shared ../shared] [--rows 64] [--json out.json]

A step of a large batch reads every decoder weight once (the output layer included), plus each hypothesis's cached
keys and values (self-attention, growing with the step; cross-attention, the whole padded source). The bound is
those bytes ÷ the GPU's memory bandwidth: ``weights_bound_ms`` counts the weights alone (what the issue asks),
``weights_kv_bound_ms`` adds the caches. The step time is the difference of two fixed-length decodes (8 and 40 new
tokens) over the 32 extra steps, so the encoder and set-up cancel out; best of two. Sources: the first ``rows``
sentences of the benchmark's articles (IndicTrans2, 5 beams) and ``rows`` articles' first 512 tokens (mT5, 4 beams).
"""

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scripts.articles import load_articles  # noqa: E402
from scripts.benchmark import partial_writer, report  # noqa: E402
from service.config import Settings  # noqa: E402
from service.engine.cpu_gemm import PackedLinear  # noqa: E402
from service.runtime import load_models, resolve_sources  # noqa: E402
from service.text.splitting import split_article  # noqa: E402

SHORT, LONG = 8, 40
BEAMS = {"translation": 5, "summarization": 4}
HALF_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


def copy_bandwidth(device) -> float:
    """Bytes per second of a device-to-device copy (read + write), the bandwidth a step can reach."""
    src = torch.empty(2**30, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(10):
        dst.copy_(src)
    torch.cuda.synchronize(device)
    return 2 * 10 * src.numel() / (time.perf_counter() - start)


def decoder_shape(config, kind: str) -> dict:
    if kind == "translation":
        return {"layers": config.decoder_layers, "width": config.decoder_embed_dim}
    return {"layers": config.num_decoder_layers, "width": config.num_heads * config.d_kv}


def weight_bytes(model, compute_type: str) -> int:
    """Bytes of the weights one decoding step reads: the decoder's (not its embedding tables, of which a step reads
    a row per hypothesis) and the output layer, at the backend's precision (int8 compute types: 1 byte per
    element of a linear layer's matrix, 2 for the rest)."""
    decoder = model.get_decoder()
    if any(isinstance(m, PackedLinear) for m in decoder.modules()):
        raise ValueError("count the weights of a model with torch's own CPU layers: packed ones hold no parameters")
    skip = {id(p) for name, p in decoder.named_parameters() if "embed" in name}
    params = {id(p): p for p in decoder.parameters() if id(p) not in skip}
    params[id(model.lm_head.weight)] = model.lm_head.weight
    total = 0
    for p in params.values():
        if compute_type.startswith("int8") and p.dim() == 2:
            total += p.numel()
        else:
            total += p.numel() * HALF_BYTES.get(compute_type.split("_")[-1], p.element_size())
    return total


def kv_bytes_per_step(shape: dict, hypotheses: int, source_tokens: int, element: int) -> int:
    """Cached keys and values one step reads, averaged over the measured steps (SHORT..LONG)."""
    positions = source_tokens + (SHORT + LONG) / 2
    return int(2 * shape["layers"] * shape["width"] * element * hypotheses * positions)


def step_ms(generate, rows, beams, kind) -> float:
    def lengths(n):
        if kind == "translation":
            return {"min_new_tokens": n, "max_new_tokens": n}
        return {"min_length": n + 1, "max_length": n + 1}  # mT5's lengths count the decoder start token

    times = {}
    for n in (SHORT, LONG, SHORT, LONG):  # the first pair warms up (kernels, graphs, allocator)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        generate(rows, num_beams=beams, **lengths(n))
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.setdefault(n, []).append(time.perf_counter() - start)
    return (min(times[LONG][1:]) - min(times[SHORT][1:])) / (LONG - SHORT) * 1000


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--rows", type=int, default=64, help="sources per batch (hypotheses: × beams)")
    parser.add_argument("--bandwidth-gbs", type=float, default=4800, help="the GPU's memory bandwidth (H200: 4800)")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--ct2", nargs="*", default=["float16", "int8_float16", "bfloat16"], help="CTranslate2 compute types to time"
    )
    parser.add_argument("--torch-decoders", nargs="*", default=["cuda-graphs", "fast", "transformers"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    base = Settings(
        translation_model=str(args.models / "indictrans2"), summarization_model=str(args.models / "mt5"),
        offline=True, warmup=False, device=args.device, models_dir=args.models / "store",
        translation_max_new_tokens=LONG, translation_backend="torch", summary_backend="torch",
    )  # fmt: skip
    sources = resolve_sources(base)
    # On the CPU with torch's own kernels: packed oneDNN layers hold no weight parameters to count.
    reference = load_models(base.model_copy(update={"dtype": "float32", "device": "cpu", "cpu_gemm": "default"}), sources)
    articles = load_articles(args.shared, args.rows)
    sentences = [s for _, text in articles for s in split_article(text).sentences][: args.rows]
    inputs = {
        "translation": [p.input_ids for p in reference.translator.prepare(sentences)],
        "summarization": [reference.summarizer.prepare(text, "lead").rows[0] for _, text in articles],
    }
    models = {"translation": reference.translator.model, "summarization": reference.summarizer.model}
    device = torch.device("cuda") if torch.cuda.is_available() and args.device != "cpu" else torch.device("cpu")
    measured_bw = copy_bandwidth(device) if device.type == "cuda" else None
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix()] + (argv or sys.argv[1:])),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "bandwidth_gbs": args.bandwidth_gbs,
        "copy_bandwidth_gbs": round(measured_bw / 1e9) if measured_bw else None,
        "rows": args.rows, "steps_timed": LONG - SHORT,
        "hypotheses": {k: args.rows * BEAMS[k] for k in BEAMS},
        "padded_source_tokens": {k: max(map(len, v)) for k, v in inputs.items()},
        "paths": [],
    }  # fmt: skip
    checkpoint = partial_writer(result, args.json)

    def measure(label: str, loaded, compute_type: str) -> None:
        for kind, model in (("translation", loaded.translator), ("summarization", loaded.summarizer)):
            ms = step_ms(model.generate_ids, inputs[kind], BEAMS[kind], kind)
            shape = decoder_shape(models[kind].config, kind)
            element = 4 if compute_type == "float32" else 2
            weights = weight_bytes(models[kind], compute_type)
            kv = kv_bytes_per_step(shape, result["hypotheses"][kind], result["padded_source_tokens"][kind], element)
            bound = weights / (args.bandwidth_gbs * 1e9) * 1000
            bound_kv = (weights + kv) / (args.bandwidth_gbs * 1e9) * 1000
            row = {"path": label, "model": kind, "compute_type": compute_type, "ms_per_step": round(ms, 3),
                   "weight_mib": round(weights / 2**20, 1), "kv_mib_per_step": round(kv / 2**20, 1),
                   "weights_bound_ms": round(bound, 4), "weights_kv_bound_ms": round(bound_kv, 4),
                   "x_weights_bound": round(ms / bound, 2), "x_weights_kv_bound": round(ms / bound_kv, 2)}  # fmt: skip
            result["paths"].append(row)
            print(json.dumps(row), flush=True)
            checkpoint()

    dtype = "bfloat16" if device.type == "cuda" else "float32"
    for decoder in args.torch_decoders:
        if decoder == "cuda-graphs" and device.type != "cuda":
            continue
        settings = base.model_copy(update={"dtype": dtype, "decoder": decoder, "device": device.type})
        loaded = load_models(settings, sources)
        measure(f"torch {decoder}", loaded, dtype)
        del loaded
        if device.type == "cuda":
            torch.cuda.empty_cache()
    for compute_type in args.ct2:
        settings = base.model_copy(update={"translation_backend": "ctranslate2", "summary_backend": "ctranslate2",
                                           "ct2_compute_type": compute_type, "device": device.type})  # fmt: skip
        try:
            loaded = load_models(settings, sources)
        except Exception as exc:  # noqa: BLE001 - a compute type this device lacks: say so, time the others
            result["paths"].append({"path": "ctranslate2", "compute_type": compute_type, "error": f"{type(exc).__name__}: {exc}"})
            continue
        measure("ctranslate2", loaded, compute_type)
        del loaded
    return report(result, args.json)


if __name__ == "__main__":
    main()
