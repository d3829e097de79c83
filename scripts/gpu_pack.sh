#!/usr/bin/env bash
# Builds here, for a GPU machine that has PyTorch but no Swift toolchain (the workplace's lent GPU machines: torch
# 2.11.0+cu130 at /opt/torch/.venv, no network), a `quadrat` that loads that machine's own libtorch, and gathers
# what scripts/gpu_run.sh needs there into .gpu/ (git-ignored; carry it with the device tool's `carry`).
#
#   scripts/gpu_pack.sh            fetch (once), build, gather .gpu/
#
# TORCH_VERSION, CUDA_TOOLKIT, NCCL_VERSION and PYTHON_VERSION name the torch build over there (defaults: the lent
# machines'). Only headers and torch's own libraries are laid out; the CUDA libraries libtorch_cuda needs are left
# to the GPU machine (linked with --allow-shlib-undefined). The Swift runtime is linked in (--static-swift-stdlib).
set -euo pipefail
cd "$(dirname "$0")/.."
version=${TORCH_VERSION:-2.11.0}
toolkit=${CUDA_TOOLKIT:-13.0.2}
nccl=${NCCL_VERSION:-2.28.9}
python=${PYTHON_VERSION:-3.12}
root=${QUADRAT_HOME:-$HOME/.cache/quadrat}/libtorch-gpu/torch-$version
wheels=$root/../wheels-$version
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_18_x86_64
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)

if [ ! -f "$root/.complete" ]; then
    mkdir -p "$wheels"
    echo "fetching torch $version and the CUDA $toolkit headers into $wheels"
    python3 -m pip download --quiet --no-deps "torch==$version" --python-version "$python" --only-binary=:all: \
        "${platforms[@]}" -d "$wheels"
    python3 -m pip download --quiet "cuda-toolkit[cublas,cudart,cusolver,cusparse]==$toolkit" \
        "nvidia-cuda-crt==${toolkit%.*}.*" "nvidia-cuda-cccl==${toolkit%.*}.*" --python-version "$python" \
        --only-binary=:all: "${platforms[@]}" -d "$wheels"
    python3 -m pip download --quiet --no-deps "nvidia-nccl-cu13==$nccl" --python-version "$python" \
        --only-binary=:all: "${platforms[@]}" -d "$wheels"
    rm -rf "$root" && mkdir -p "$root/lib" "$root/cuda/include"
    unzip -q -o "$wheels"/torch-"$version"-*.whl 'torch/include/*' 'torch/lib/*' -d "$root/unpacked"
    mv "$root/unpacked/torch/include" "$root/include"
    mv "$root/unpacked/torch/lib/"* "$root/lib/"
    for w in "$wheels"/nvidia_*.whl; do unzip -q -o "$w" 'nvidia/*/include/*' -d "$root/unpacked" || true; done
    for d in "$root"/unpacked/nvidia/*/include; do cp -r "$d/." "$root/cuda/include/"; done
    rm -rf "$root/unpacked"
    touch "$root/.complete"
fi
echo "libtorch $version for the GPU machine: $root"

export QUADRAT_LIBTORCH=$root
swift build -c release --scratch-path .build-gpu --static-swift-stdlib -Xlinker --allow-shlib-undefined \
    --product quadrat 2>&1 | tail -1
for ignored in /.gpu/ /.gpu-data/; do
    grep -qx "$ignored" .git/info/exclude 2>/dev/null || echo "$ignored" >>.git/info/exclude
done
rm -rf .gpu && mkdir -p .gpu/bin .gpu/lib .gpu/weights .gpu/el
# Stripped, 76 MB; xz brings it to about 20 MB, under the 64 MiB a device call carries with the rest.
strip -o .gpu/bin/quadrat .build-gpu/release/quadrat
xz -T0 -6 .gpu/bin/quadrat
# The image codecs' libraries, from this machine (the GPU machine may lack them).
for name in libpng16.so.16 libturbojpeg.so.0; do
    cp -L "$(ldconfig -p | awk -v n=$name '$1 == n {print $NF; exit}')" .gpu/lib/
done
home=${QUADRAT_HOME:-$HOME/.cache/quadrat}
cp "$home"/weights/efficientnet-lite0-*.pth .gpu/weights/
peer_home=${PEER_HOME:-$HOME/.cache/quadrat-peers}
[ -d "$peer_home/assets/el" ] && cp -r "$peer_home/assets/el/." .gpu/el/
# ELPV (92 MB) in two halves, each carried by a call of its own (scripts/gpu_run.sh stage), labels in both.
elpv=$home/data/elpv
if [ -f "$elpv/labels.csv" ]; then
    rm -rf .gpu-data && mkdir -p .gpu-data/part-1/images .gpu-data/part-2/images
    cp "$elpv/labels.csv" .gpu-data/part-1/ && cp "$elpv/labels.csv" .gpu-data/part-2/
    i=0
    for image in "$elpv"/images/*; do
        cp "$image" ".gpu-data/part-$((i % 2 + 1))/images/"
        i=$((i + 1))
    done
fi
du -sh .gpu .gpu/* .gpu-data/* 2>/dev/null
echo "on the GPU machine, three calls back to back (it stays warm 30 s): carry .gpu-data/part-1 and run"
echo "'scripts/gpu_run.sh stage'; carry .gpu-data/part-2, the same; carry .gpu and run 'scripts/gpu_run.sh'"
