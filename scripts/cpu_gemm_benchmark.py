"""torch's own CPU kernels (MKL on x86) against oneDNN with packed weights (service/engine/cpu_gemm.py), one run.

    python scripts/cpu_gemm_benchmark.py [--models bench-models] [--json out.json]

1. **Layers**: single float32 linear layers of the bench shapes, best of 10: ``F.linear``, oneDNN, oneDNN packed.
2. **One summary**: the bench mT5 over a 512-token lead, 4 beams and greedy, 32 new tokens, the service's decoder,
   once with torch's kernels and once packed (fresh copies of the model, alternating rounds); the tokens compared.
"""

import argparse
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.benchmark import command_line, ensure_models, report  # noqa: E402
from service.engine import cpu_gemm  # noqa: E402
from service.summarization.summarizer import load_summarizer  # noqa: E402

LAYERS = [(250112, 768, 1), (250112, 768, 4), (250112, 768, 32), (2048, 768, 4), (2048, 768, 512)]  # out, in, rows


def best_ms(run, repeats: int = 10) -> float:
    for _ in range(3):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return round(min(times) * 1000, 3)


def layers() -> list[dict]:
    out = []
    for rows_out, rows_in, rows in LAYERS:
        weight, x = torch.randn(rows_out, rows_in) * 0.02, torch.randn(rows, rows_in)
        onednn, onednn_packed = cpu_gemm.kernel(weight, None), cpu_gemm.kernel(cpu_gemm.pack(weight), None)
        out.append({
            "layer": f"{rows_out}x{rows_in}", "rows": rows,
            "torch_ms": best_ms(lambda: F.linear(x, weight)),
            "onednn_ms": best_ms(lambda: onednn(x)),
            "onednn_packed_ms": best_ms(lambda: onednn_packed(x)),
        })  # fmt: skip
    return out


def one_summary(models_dir: Path, rounds: int = 2) -> dict:
    plain = load_summarizer(models_dir / "mt5", torch.device("cpu"), torch.float32)
    packed = load_summarizer(models_dir / "mt5", torch.device("cpu"), torch.float32)
    cpu_gemm.pack_linears(packed.model)
    lead = plain.prepare((ROOT / "seeds" / "seed_article_hi.txt").read_text(encoding="utf-8") * 3).rows
    out = {"input_tokens": len(lead[0])}
    for beams in (4, 1):
        lengths = {"min_length": 33, "max_length": 33}
        seconds = {"torch": [], "onednn_packed": []}
        outputs = {}
        for _ in range(rounds):
            for name, summarizer in (("torch", plain), ("onednn_packed", packed)):
                start = time.perf_counter()
                outputs[name] = summarizer.generate_ids(lead, num_beams=beams, **lengths)
                seconds[name].append(time.perf_counter() - start)
        out[f"beams_{beams}"] = {name: round(min(s), 3) for name, s in seconds.items()} | {
            "same_tokens": torch.equal(outputs["torch"], outputs["onednn_packed"]),
            "speedup": round(min(seconds["torch"]) / min(seconds["onednn_packed"]), 2),
        }
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=ROOT / "bench-models")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not cpu_gemm.available():
        raise SystemExit("this torch build has no oneDNN packed linear")
    models_dir = ensure_models(args.models, args.shared)
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(argv),
        "machine": {"platform": platform.platform(), "cpu_threads": torch.get_num_threads(), "torch": torch.__version__},
        "layers": layers(),
        "one_summary": one_summary(models_dir),
    }
    return report(result, args.json)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
