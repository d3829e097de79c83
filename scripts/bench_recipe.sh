#!/usr/bin/env bash
# The whole job, Quadrat against the fastai peer, one after the other on the same split and machine.
#
#   scripts/bench_recipe.sh [--cells N] [-- extra `quadrat demo` flags]
#
# Lays ELPV out with `quadrat demo` (all 2,624 cells, or a stratified subset of N), which trains, predicts the
# held-out test folder with TTA and scores it; then runs the fastai peer (../shared/peers/fastai_kaggle.py,
# fastai 2.7 over Debian's PyTorch 1.13, built by ../shared/peers/setup.sh) on the very same folder.
# Prints wall time, held-out accuracy and ROC AUC of both, with the CPU model. Build release first
# (`make release`). PEERS and PEER_HOME override where the peer scripts and environments are.
set -euo pipefail
cd "$(dirname "$0")/.."
cells=""
if [ "${1:-}" = "--cells" ]; then cells="$2"; shift 2; fi
[ "${1:-}" = "--" ] && shift
PEERS=${PEERS:-../shared/peers}
PEER_HOME=${PEER_HOME:-$HOME/.cache/quadrat-peers}
Q=.build/release/quadrat
[ -x "$Q" ] || { echo "bench_recipe: build first: make release" >&2; exit 1; }
[ -x "$PEER_HOME/legacy/bin/python" ] || bash "$PEERS/setup.sh" legacy assets
# Check the peer imports before the long Quadrat run, not after it. The peer's venv sees the system's packages, and
# NumPy 2 installed system-wide (by `pip install onnxruntime`, say) breaks Debian's pandas under fastai.
peer_err=$(mktemp)
trap 'rm -f "$peer_err"' EXIT
if ! "$PEER_HOME/legacy/bin/python" -c 'import fastai.vision.all' 2>"$peer_err"; then
    tail -1 "$peer_err" >&2
    echo "bench_recipe: the fastai peer in $PEER_HOME/legacy cannot start; if the error above is about NumPy:" >&2
    echo "  $PEER_HOME/legacy/bin/python -m pip install numpy==1.24.2" >&2
    exit 1
fi
work=runs/bench-recipe${cells:+-$cells}
mkdir -p "$(dirname "$work")"   # a fresh clone has no runs/ yet: tee could not open its log
cpu=$(lscpu | sed -n 's/^Model name: *//p')
echo "CPU: $cpu, $(nproc) cores; libtorch $($Q --version | sed 's/.*libtorch //; s/)//')"

start=$(date +%s.%N)
$Q demo --workdir "$work" ${cells:+--cells "$cells"} "$@" | tee "$work.quadrat.log"
q_seconds=$(awk "BEGIN { print $(date +%s.%N) - $start }")
# The demo's summary line, "held-out test (656 images, TTA): accuracy 87.20%, ROC AUC 0.9246": other lines start
# "held-out test" too (the near-duplicate note, the run's own score line).
q_line=$(grep -E '^held-out test \([0-9]+ images' "$work.quadrat.log" | tail -1)

start=$(date +%s.%N)
"$PEER_HOME/legacy/bin/python" "$PEERS/fastai_kaggle.py" "$work/elpv" "$work/elpv/answers/test_labels.csv" \
    | tee "$work.fastai.log"
f_seconds=$(awk "BEGIN { print $(date +%s.%N) - $start }")
f_line=$(grep -o 'RESULT.*' "$work.fastai.log" | tail -1)

q_acc=$(echo "$q_line" | sed -E 's/.*accuracy ([0-9.]+)%.*/\1/')
q_auc=$(echo "$q_line" | sed -E 's/.*ROC AUC ([0-9.]+).*/\1/')
f_acc=$(echo "$f_line" | sed -E 's/.*tta_acc=([0-9.]+).*/\1/')
f_auc=$(echo "$f_line" | sed -E 's/.*tta_auc=([0-9.]+).*/\1/')
echo
echo "| job | wall time | held-out accuracy | held-out ROC AUC |"
echo "| --- | --- | --- | --- |"
printf '| Quadrat (`quadrat demo%s`) | %.0f s | %s %% | %s |\n' "${cells:+ --cells $cells}" "$q_seconds" "$q_acc" "$q_auc"
printf '| fastai 2.7 peer (2 frozen + 3 unfrozen, TTA) | %.0f s | %.1f %% | %s |\n' "$f_seconds" \
    "$(awk "BEGIN { print $f_acc * 100 }")" "$f_auc"
printf 'ratio Quadrat / fastai: %.2f (%s, %s cores)\n' "$(awk "BEGIN { print $q_seconds / $f_seconds }")" "$cpu" "$(nproc)"
