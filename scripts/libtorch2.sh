#!/usr/bin/env bash
# Builds Quadrat against libtorch 2 (the CUDA build inside PyPI's `torch` wheel) and runs the whole test suite on
# the CPU: `make test-libtorch2`. Debian's libtorch 1.13 stays the default build; this one lives in .build-libtorch2.
#
#   scripts/libtorch2.sh            fetch (once), build, test
#   scripts/libtorch2.sh fetch      only lay out the libtorch folder and print its path
#
# The wheel's libtorch_cpu.so links the CUDA runtime, so its runtime wheels (cuda-toolkit, cuDNN, NCCL, …: about
# 2 GB) are fetched too: libtorch then loads on a machine without a GPU. Nothing from Python runs: pip only
# downloads, and the wheels are unpacked into $QUADRAT_HOME/libtorch2/{include,lib} (QUADRAT_LIBTORCH's layout).
set -euo pipefail
cd "$(dirname "$0")/.."
version=${TORCH_VERSION:-2.15.0}
root=${QUADRAT_HOME:-$HOME/.cache/quadrat}/libtorch2
wheels=$root/wheels
libtorch=$root/torch-$version

if [ ! -f "$libtorch/.complete" ]; then
    mkdir -p "$wheels"
    echo "fetching torch $version and its CUDA runtime wheels into $wheels"
    python3 -m pip download --quiet --no-deps "torch==$version" --python-version 3.11 --only-binary=:all: \
        --platform manylinux_2_28_x86_64 -d "$wheels"
    # The runtime libraries torch's own metadata asks for on Linux (its Requires-Dist lines).
    wheel=$(ls "$wheels"/torch-"$version"-*.whl | head -1)
    mapfile -t needs < <(unzip -p "$wheel" "torch-$version.dist-info/METADATA" |
        sed -n 's/^Requires-Dist: \(\(cuda-toolkit\|nvidia-\)[^;]*\); platform_system == "Linux".*/\1/p')
    python3 -m pip download --quiet "${needs[@]}" -d "$wheels"
    rm -rf "$libtorch" && mkdir -p "$libtorch/lib"
    unzip -q -o "$wheel" 'torch/include/*' 'torch/lib/*' -d "$libtorch/unpacked"
    mv "$libtorch/unpacked/torch/include" "$libtorch/include"
    mv "$libtorch/unpacked/torch/lib/"* "$libtorch/lib/"
    for w in "$wheels"/nvidia_*.whl; do unzip -q -o "$w" 'nvidia/*' -x '*/include/*' -d "$libtorch/unpacked"; done
    find "$libtorch/unpacked/nvidia" -name '*.so*' -exec mv {} "$libtorch/lib/" \;
    rm -rf "$libtorch/unpacked"
    touch "$libtorch/.complete"
fi
if [ ! -f "$libtorch/cuda/.complete" ]; then
    # The CUDA runtime's, cuBLAS's, NCCL's… headers (about 40 MB), which libtorch's own CUDA and c10d NCCL headers
    # include: with them, the shim builds its NCCL process group (Package.swift looks for cuda/include).
    # cuda_runtime.h includes crt/host_config.h, which comes with the compiler's wheel (nvidia-cuda-crt), not the
    # runtime's: fetch the one of the runtime's version (100 KB).
    # Wheel names: nvidia_cuda_runtime-13.2.86-… (CUDA 13) or nvidia_cuda_runtime_cu12-12.8.90-… (CUDA 12).
    runtime=$(ls "$wheels"/nvidia_cuda_runtime*.whl | head -1 |
        sed 's/.*nvidia_cuda_runtime[_cu0-9]*-\([0-9.]*\)-.*/\1/')
    if ! ls "$wheels"/nvidia_cuda_crt*.whl >/dev/null 2>&1; then
        # The same version as the runtime's, else the newest of its major.minor.
        python3 -m pip download --quiet --no-deps "nvidia-cuda-crt==$runtime" --only-binary=:all: \
            --platform manylinux2014_x86_64 -d "$wheels" ||
            python3 -m pip download --quiet --no-deps "nvidia-cuda-crt==${runtime%.*}.*" --only-binary=:all: \
                --platform manylinux2014_x86_64 -d "$wheels"
    fi
    rm -rf "$libtorch/cuda" && mkdir -p "$libtorch/cuda/include"
    for w in "$wheels"/nvidia_*.whl; do unzip -q -o "$w" 'nvidia/*/include/*' -d "$libtorch/cuda/unpacked" || true; done
    for d in "$libtorch"/cuda/unpacked/nvidia/*/include; do cp -r "$d/." "$libtorch/cuda/include/"; done
    rm -rf "$libtorch/cuda/unpacked"
    touch "$libtorch/cuda/.complete"
fi
echo "libtorch $version: $libtorch"
[ "${1:-}" = fetch ] && exit 0

export QUADRAT_LIBTORCH=$libtorch
start=$(date +%s)
swift build --scratch-path .build-libtorch2 --build-tests
built=$(date +%s)
swift test --scratch-path .build-libtorch2 --skip-build --no-parallel
echo "libtorch $version: build $((built - start)) s, tests $(($(date +%s) - built)) s"
