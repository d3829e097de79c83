#!/usr/bin/env bash
# Regenerates Sources/ONNX/onnx.pb.swift, the Swift messages of ONNX's onnx.proto, which is committed so that
# building Quadrat never needs protoc or the swift-protobuf plugin (the plugin's first build takes minutes).
#
#   scripts/generate_onnx_swift.sh [ONNX_VERSION]      (default 1.23.2)
#
# Needs protoc (Debian's protobuf-compiler) and pip. onnx.proto comes from the onnx wheel of that version;
# protoc-gen-swift is built from the swift-protobuf version Package.resolved pins.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-1.23.2}"
command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --no-deps --quiet --disable-pip-version-check --only-binary=:all: \
    --python-version 3.11 -d "$tmp" "onnx==$version"
unzip -q -o "$tmp"/onnx-*.whl 'onnx/onnx.proto' -d "$tmp"

swift build -c release --product protoc-gen-swift
plugin="$(swift build -c release --show-bin-path)/protoc-gen-swift"

protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Public --swift_out="$tmp" \
    -I "$tmp/onnx" "$tmp/onnx/onnx.proto"
{
    echo "// swift-format-ignore-file"
    echo "// Generated from onnx.proto of onnx $version by scripts/generate_onnx_swift.sh: do not edit."
    cat "$tmp/onnx.pb.swift"
} > Sources/ONNX/onnx.pb.swift
echo "wrote Sources/ONNX/onnx.pb.swift (onnx $version)"
