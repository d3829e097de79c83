#!/usr/bin/env bash
# The GPU check: Quadrat built against libtorch 2 with CUDA, its test suite with the GPU as the default device, the
# demo on the GPU against the fastai peer on the same GPU, and training and inference rates against PyTorch's own on
# the same model, batch and precision. Prints one table for the README. About 8 minutes on one modern GPU after
# the build; needs Swift, the NVIDIA driver, and the peers (../shared/peers/setup.sh current assets).
#
#   scripts/gpu_check.sh [--skip-tests]
#
# QUADRAT_LIBTORCH: a CUDA libtorch folder (include/, lib/; PyPI's torch package folder works); by default
# scripts/libtorch2.sh fetches and lays one out. PEER_PY: the Python with a CUDA torch and fastai for the peer
# (default $PEER_HOME/current/bin/python). PRECISION: the mixed precision compared (bf16, or fp16 before Ampere).
set -euo pipefail
cd "$(dirname "$0")/.."
skip_tests=${1:-}
PEERS=${PEERS:-../shared/peers}
PEER_HOME=${PEER_HOME:-$HOME/.cache/quadrat-peers}
PEER_PY=${PEER_PY:-$PEER_HOME/current/bin/python}
PRECISION=${PRECISION:-bf16}
command -v nvidia-smi >/dev/null || { echo "gpu_check: no nvidia-smi: this machine has no NVIDIA driver" >&2; exit 1; }
[ -x "$PEER_PY" ] || bash "$PEERS/setup.sh" current assets
export QUADRAT_LIBTORCH=${QUADRAT_LIBTORCH:-$(scripts/libtorch2.sh fetch | sed -n 's/^libtorch [0-9.]*: //p')}
out=runs/gpu-check
mkdir -p "$out"
gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)
echo "GPU: $gpu; CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; libtorch $QUADRAT_LIBTORCH"

seconds() { awk "BEGIN { printf \"%.0f\", $(date +%s.%N) - $1 }"; }

start=$(date +%s.%N)
swift build -c release --scratch-path .build-libtorch2 --product quadrat 2>&1 | tail -1
[ -n "$skip_tests" ] || swift build --scratch-path .build-libtorch2 --build-tests 2>&1 | tail -1
echo "build: $(seconds "$start") s"
Q=.build-libtorch2/release/quadrat
$Q doctor | grep -A3 '^[a-z]* *GPU' | tee "$out/doctor.log"

tests="skipped"
if [ -z "$skip_tests" ]; then
    start=$(date +%s.%N)
    # The whole suite with every tensor made on the GPU (QUADRAT_DEVICE). The in-process INT8 tests are skipped
    # there (INT8 is the CPU's); the CLI's INT8 runs choose the CPU themselves.
    QUADRAT_DEVICE=cuda swift test --scratch-path .build-libtorch2 --skip-build --no-parallel >"$out/tests.log" 2>&1 \
        && result=passed || result=FAILED
    tests="$result, $(grep -o 'Test run with [0-9]* tests' "$out/tests.log" | tail -1 | grep -o '[0-9]*') tests, \
$(grep -c '✘ Test' "$out/tests.log" || true) failed, $(seconds "$start") s (log: $out/tests.log)"
    echo "tests: $tests"
fi

start=$(date +%s.%N)
$Q demo --workdir "$out/demo" --device cuda | tee "$out/demo.log"
q_seconds=$(seconds "$start")
q_line=$(grep '^held-out test' "$out/demo.log")
q_acc=$(echo "$q_line" | sed -E 's/.*accuracy ([0-9.]+)%.*/\1/')
q_auc=$(echo "$q_line" | sed -E 's/.*ROC AUC ([0-9.]+).*/\1/')

start=$(date +%s.%N)
"$PEER_PY" "$PEERS/fastai_kaggle.py" "$out/demo/elpv" "$out/demo/elpv/answers/test_labels.csv" | tee "$out/fastai.log"
f_seconds=$(seconds "$start")
f_line=$(grep -o 'RESULT.*' "$out/fastai.log" | tail -1)
f_acc=$(echo "$f_line" | sed -E 's/.*tta_acc=([0-9.]+).*/\1/')
f_auc=$(echo "$f_line" | sed -E 's/.*tta_auc=([0-9.]+).*/\1/')

# Training and inference rates: Quadrat's `bench models` rows against PyTorch on the same model, batch and precision.
$Q bench models --device cuda --size 224 --batch-size 32 | tee "$out/bench.log"
rate() { grep "^efficientnet-lite0 *$1 " "$out/bench.log" | grep -o '[0-9.]* img/s' | grep -o '^[0-9.]*'; }
# The row is named for bfloat16; before Ampere, Quadrat's autocast runs float16 there (PRECISION=fp16 for PyTorch).
q_train=$(rate "training CL, bfloat16 autocast")
q_infer=$(rate "inference copy bfloat16")
"$PEER_PY" scripts/torch_train_rate.py --device cuda --size 224 --batch-size 32 --precision "$PRECISION" \
    | tee "$out/torch.log"
t_train=$(sed -n 's/.*train_img_s=\([0-9.]*\).*/\1/p' "$out/torch.log")
t_infer=$(sed -n 's/.*infer_img_s=\([0-9.]*\).*/\1/p' "$out/torch.log")

echo
echo "GPU: $gpu"
echo "tests (QUADRAT_DEVICE=cuda): $tests"
echo
echo "| job | wall time | held-out accuracy | held-out ROC AUC | training img/s | inference img/s |"
echo "| --- | --- | --- | --- | --- | --- |"
echo "| Quadrat (\`quadrat demo --device cuda\`) | $q_seconds s | $q_acc % | $q_auc | $q_train | $q_infer |"
printf '| fastai peer (same GPU, TTA) | %s s | %.1f %% | %s | | |\n' "$f_seconds" \
    "$(awk "BEGIN { print $f_acc * 100 }")" "$f_auc"
echo "| PyTorch alone (Lite0, batch 32, 224 px, $PRECISION, channels-last) | | | | $t_train | $t_infer |"
printf 'ratios: wall time Quadrat / fastai %.2f; training img/s Quadrat / PyTorch %.2f\n' \
    "$(awk "BEGIN { print $q_seconds / $f_seconds }")" "$(awk "BEGIN { print ${q_train:-0} / ${t_train:-1} }")"
