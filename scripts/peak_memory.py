"""Peak resident memory of the service's models on one backend: both models loaded and one warm-up request, in
this fresh process (run it once per backend; a process that loaded another backend first would count that too).

    python scripts/peak_memory.py --backend ctranslate2 --compute-type int8 [--models bench-models]

Prints one JSON line: backend, compute type, the dtypes the runtime reports, peak RSS in GiB, seconds.
"""

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.config import Settings  # noqa: E402
from service.runtime import build_runtime, warm_up  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("torch", "ctranslate2"), required=True)
    parser.add_argument("--compute-type", default="float32", help="CTranslate2's compute type (torch: float32)")
    parser.add_argument("--models", type=Path, default=ROOT / "bench-models", help="built by scripts/benchmark.py")
    args = parser.parse_args()
    settings = Settings(
        translation_model=str(args.models / "indictrans2"), summarization_model=str(args.models / "mt5"), offline=True,
        models_dir=str(args.models / "store"), translation_backend=args.backend, summary_backend=args.backend,
        ct2_compute_type="float32" if args.backend == "torch" else args.compute_type,
        translation_max_new_tokens=8, cache="off",  # a warm-up answered from the translation memory runs no model
    )  # fmt: skip
    started = time.time()
    runtime = build_runtime(settings)
    asyncio.run(warm_up(runtime))
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"backend": args.backend, "compute_type": args.compute_type, "dtypes": runtime.dtypes,
                      "peak_rss_gib": round(peak_gib, 2), "seconds": round(time.time() - started, 1)}))  # fmt: skip
    runtime.close()


if __name__ == "__main__":
    main()
