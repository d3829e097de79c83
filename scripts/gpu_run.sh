#!/usr/bin/env bash
# The GPU check on a machine with PyTorch and a GPU but no Swift (the workplace's lent GPU machines), from the
# repository root, with what scripts/gpu_pack.sh made carried along. Prints the GPU line of doctor, Quadrat's
# `bench models` rows on the GPU against PyTorch's own rate on the same model, and, when the ELPV images have been
# staged, `quadrat demo` on the GPU.
#
#   scripts/gpu_run.sh stage              copy the carried .gpu-data/part-* into $QUADRAT_HOME (ELPV, 92 MB, travels
#                                         in two calls of its own; the machine keeps /tmp while it stays warm)
#   scripts/gpu_run.sh [--cells N]        the check (logs also into $OUT when it is set)
set -uo pipefail
export QUADRAT_HOME=${QUADRAT_HOME:-/tmp/quadrat-home} PEER_HOME=${PEER_HOME:-/tmp/quadrat-peers}
elpv=$QUADRAT_HOME/data/elpv
mkdir -p "$elpv/images"
for part in .gpu-data/part-*; do
    [ -d "$part" ] && cp -n "$part/labels.csv" "$elpv/" && cp -rn "$part/images/." "$elpv/images/"
done
echo "ELPV staged: $(ls "$elpv/images" | wc -l) images"
[ "${1:-}" = stage ] && exit 0
cells=${2:-}
[ -x .gpu/bin/quadrat ] || python3 -c 'import lzma, shutil, sys
with lzma.open(".gpu/bin/quadrat.xz") as f, open(".gpu/bin/quadrat", "wb") as o: shutil.copyfileobj(f, o)' &&
    chmod +x .gpu/bin/quadrat
torch_lib=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH=$torch_lib:$PWD/.gpu/lib:${LD_LIBRARY_PATH:-}
mkdir -p "$QUADRAT_HOME/weights" "$PEER_HOME/assets"
cp -n .gpu/weights/* "$QUADRAT_HOME/weights/"
ln -sfn "$PWD/.gpu/el" "$PEER_HOME/assets/el"
log=${OUT:-/tmp}/gpu_run.log
Q=.gpu/bin/quadrat
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
    $Q doctor 2>&1 | head -4
    $Q bench models --device cuda --size 224 --batch-size 32 2>&1
    python3 scripts/torch_train_rate.py --device cuda --size 224 --batch-size 32 --precision bf16 2>&1
    if [ "$(ls "$elpv/images" | wc -l)" -ge 2624 ] || [ -n "$cells" ]; then
        start=$(date +%s.%N)
        $Q demo --workdir /tmp/gpu-demo --device cuda ${cells:+--cells "$cells"} 2>&1
        echo "demo wall time: $(awk "BEGIN { printf \"%.0f\", $(date +%s.%N) - $start }") s"
    fi
} 2>&1 | tee "$log"
