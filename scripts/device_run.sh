#!/usr/bin/env bash
# GPU checks and benchmarks on a lent GPU machine (the workplace's device tool), in two halves:
#
#   scripts/device_run.sh prepare     # here: wheels for Python 3.12 into .whl/, shared data into .devshared/
#   scripts/device_run.sh run         # there: as the device command, carrying .whl and .devshared
#   scripts/device_run.sh bench       # there: the benchmarks only
#
# "run" writes gpu_check.json, gpu_bench16.json and gpu_bench64.json under $OUT (see docs/BENCHMARKS.md); "bench"
# the two benchmark files. "run" takes about 7 minutes (give the device call timeout_s 600).
set -o pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
prepare)
  grep -qx '/.whl/' .git/info/exclude || echo '/.whl/' >> .git/info/exclude
  grep -qx '/.devshared/' .git/info/exclude || echo '/.devshared/' >> .git/info/exclude
  rm -rf .whl .devshared && mkdir -p .whl .devshared/fixtures/indictrans2
  # What the GPU image lacks or has in other versions (its torch, tokenizers, hub client are used as they are).
  .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
    transformers==5.24.0 pydantic==2.14.4 pydantic-core==2.50.5 pydantic-settings==2.16.3 python-dotenv \
    typing-inspection annotated-types typing-extensions indic-nlp-library==0.92 sacremoses==0.2.0 \
    fastapi==0.165.0 starlette==1.10.0 uvicorn==0.54.0 opentelemetry-api
  S=${SHARED_DIR:-../shared}
  cp -r "$S/corpus" "$S/seeds" .devshared/
  cp -r "$S/fixtures/indictrans2/"{tokenizer,published_layout,parity_dist200m_style} .devshared/fixtures/indictrans2/
  chmod -R u+w .devshared
  du -sh .whl .devshared ;;
run|bench)
  export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia-smi.txt"
  S=.devshared
  if [ "$1" = run ]; then  # "bench" runs the benchmarks only
    python3 scripts/make_test_models.py /tmp/tiny --shared $S > /dev/null 2>&1 || echo "tiny models: build failed"
    timeout 180 python3 scripts/gpu_check.py --models /tmp/tiny --shared $S --json "$OUT/gpu_check.json" 2>&1 | grep -v "Loading weights\|tied weights"
  fi
  python3 scripts/make_test_models.py /tmp/bench --size bench --shared $S > /dev/null 2>&1 || echo "bench models: build failed"
  # 16 articles: the engine with CUDA graphs, then with "fast" and with model.generate, and the naive loop, one run.
  timeout 240 python3 scripts/benchmark.py --models /tmp/bench --shared $S --articles 16 --http --clients 16 \
    --decoder cuda-graphs --compare-decoders --json "$OUT/gpu_bench16.json" 2>&1 | grep -v "Loading weights\|tied weights" | tail -70
  timeout 120 python3 scripts/benchmark.py --models /tmp/bench --shared $S --articles 64 --skip-naive \
    --decoder cuda-graphs --json "$OUT/gpu_bench64.json" 2>&1 | grep -v "Loading weights\|tied weights" | tail -30 ;;
*)
  echo "usage: $0 prepare|run|bench" >&2; exit 2 ;;
esac
