#!/usr/bin/env bash
# GPU checks and benchmarks on a lent GPU machine (the workplace's device tool), in one call:
#
#   scripts/device_run.sh prepare    # here: the wheels the GPU image lacks, unpacked, and the shared data, as one
#                                    # xz archive (.devbundle/bundle.tar.xz, about 53 MB: the carry is 64 MiB)
#   scripts/device_run.sh run        # there: the device command, carrying .devbundle (timeout_s 590)
#
# "run" works through its steps in order of importance, each under its own timeout and all under one deadline
# (RUN_SECONDS, default 570), writing under $OUT (8 files at most come back): machine.txt, run.log, gpu_check.json,
# gpu_bench16.json, gpu_decode_steps.json, gpu_bench64.json, gpu_ct2_check.json, gpu_cache_live_story.json.
# See docs/BENCHMARKS.md for what each holds. DRY_RUN=1 runs the same steps on this machine's CPU with the tiny
# models and CTranslate2 int8 (what a GPU step needs is skipped), to check the plumbing before device time is spent.
set -o pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
prepare)
  grep -qx '/.devbundle/' .git/info/exclude || echo '/.devbundle/' >> .git/info/exclude
  work=$(mktemp -d) && mkdir -p "$work/wheels" "$work/site" "$work/devshared/fixtures/indictrans2" .devbundle
  # What the GPU image lacks or has in other versions (its torch, tokenizers, hub client are used as they are).
  .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$work/wheels" transformers==5.24.0 pydantic==2.14.4 pydantic-core==2.50.5 pydantic-settings==2.16.3 \
    python-dotenv typing-inspection annotated-types typing-extensions indic-nlp-library-itt==0.1.1 py3langid==0.4.0 sacremoses==0.2.0 \
    fastapi==0.165.0 starlette==1.10.0 uvicorn==0.54.0 opentelemetry-api google-re2==1.1.20251105 \
    fastapi-offline==1.7.7 lxml==6.1.3 nh3==0.3.8 ctranslate2==4.8.5 > "$work/pip.log" 2>&1 \
    || { cat "$work/pip.log"; exit 1; }
  for w in "$work"/wheels/*.whl; do unzip -q -o "$w" -d "$work/site" || exit 1; done
  S=${SHARED_DIR:-../shared}
  cp -r "$S/corpus" "$S/seeds" "$work/devshared/"
  cp -r "$S/fixtures/indictrans2/"{tokenizer,published_layout,parity_dist200m_style} "$work/devshared/fixtures/indictrans2/"
  tar -C "$work" -cf - site devshared | xz -T0 -9 > .devbundle/bundle.tar.xz || exit 1
  rm -rf "$work"
  du -sh .devbundle ;;
run)
  export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
  start=$(date +%s) deadline=$(( $(date +%s) + ${RUN_SECONDS:-570} ))
  OUT=${OUT:-/tmp/device-out} && mkdir -p "$OUT"
  exec > >(tee "$OUT/run.log") 2>&1
  say() { echo "[$(( $(date +%s) - start )) s] $*"; }
  # A step's timeout: its own, or what is left before the deadline (less 5 s to write what it has).
  within() { local left=$(( deadline - $(date +%s) - 5 )); (( left < 10 )) && { say "no time left for: ${*:2}"; return 1; }
             timeout $(( $1 < left ? $1 : left )) "${@:2}" 2>&1 | grep -v "Loading weights\|tied weights\|Writing model shards"; }
  if [ -n "${DRY_RUN:-}" ]; then
    S=${SHARED_DIR:-../shared} PY=.venv/bin/python SIZE=tiny BENCH=/tmp/dry-bench CT16=int8 CT64=int8 STEP_CT2="int8"
  else
    say "unpacking"
    mkdir -p /tmp/dev && xz -dc .devbundle/bundle.tar.xz | tar -C /tmp/dev -xf - || exit 1
    export PYTHONPATH=/tmp/dev/site:$PWD
    S=/tmp/dev/devshared PY=python3 SIZE=bench BENCH=/tmp/bench CT16=float16 CT64=int8_float16 STEP_CT2="float16 int8_float16 bfloat16"
  fi
  # CTranslate2 4.8.5's wheel loads CUDA 12's cuBLAS by name (dlopen + dlsym); the device image has CUDA 13's only:
  # point the old names at the new libraries (2026-11-29: the same tokens as torch float32 on CUDA, gpu_ct2_check).
  mkdir -p /tmp/cu12shim
  for name in libcublas libcublasLt; do lib=$(find /opt /usr -name "$name.so.13" 2>/dev/null | head -1)
    [ -n "$lib" ] && ln -sf "$lib" "/tmp/cu12shim/$name.so.12"; done
  export LD_LIBRARY_PATH=/tmp/cu12shim${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  ls -l /tmp/cu12shim
  { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; uname -a; date -u
    $PY -c "import sys, torch, transformers, ctranslate2, fastapi; print(sys.version); print('torch', torch.__version__,
    'cuda', torch.version.cuda, 'transformers', transformers.__version__, 'ctranslate2', ctranslate2.__version__,
    'ct2 cuda devices', ctranslate2.get_cuda_device_count())"; } > "$OUT/machine.txt" 2>&1
  cat "$OUT/machine.txt"
  grep -q "^torch" "$OUT/machine.txt" || { say "the packages do not import: stopping"; exit 1; }
  say "tiny models"; $PY scripts/make_test_models.py /tmp/tiny --shared $S > /dev/null 2>&1 || say "tiny models: build failed"
  # The bench models build on the CPU while the GPU checks run on the tiny ones.
  $PY scripts/make_test_models.py $BENCH --size $SIZE --shared $S > /tmp/bench-build.log 2>&1 & build=$!
  say "gpu_check"; within 75 $PY scripts/gpu_check.py --models /tmp/tiny --shared $S --json "$OUT/gpu_check.json"
  wait $build || { say "bench models: build failed"; cat /tmp/bench-build.log; }
  B="--models $BENCH --shared $S --skip-overheads"
  say "16 articles: cards' loop, engine on torch (every decoder), CTranslate2 $CT16 (peer, engine, default pair)"
  within 210 $PY scripts/benchmark.py $B --articles 16 --decoder cuda-graphs --compare-decoders --ct2 $CT16 \
    --json "$OUT/gpu_bench16.json" | tail -120
  say "decoding steps at batch 64 against the bandwidth bound"
  within 100 $PY scripts/decode_step_bound.py --models $BENCH --shared $S --ct2 $STEP_CT2 --json "$OUT/gpu_decode_steps.json" > /dev/null
  say "64 articles: engine on torch and on CTranslate2 $CT64, the peer"
  within 170 $PY scripts/benchmark.py $B --articles 64 --skip-naive --decoder cuda-graphs --ct2 $CT64 \
    --json "$OUT/gpu_bench64.json" | tail -80
  say "CTranslate2 against torch, float32 on CUDA"
  within 40 $PY scripts/gpu_check.py --models /tmp/tiny --shared $S --ct2 --json "$OUT/gpu_ct2_check.json"
  say "the translation memory's running story"
  within 40 $PY scripts/cache_benchmark.py --models $BENCH --shared $S --skip-archive --summary-backend torch \
    --json "$OUT/gpu_cache_live_story.json" | tail -30
  say "done" ;;
*)
  echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
