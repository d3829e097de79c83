#!/usr/bin/env python3
"""Checks an ONNX model written by `quadrat export --format onnx` against ONNX Runtime.

    python3 scripts/onnx_parity.py MODEL.onnx SAMPLE.parity.safetensors [--tolerance 1e-4]

SAMPLE is what `quadrat export ... --parity-sample PHOTOS` writes beside the model: `image`, the inputs for the
photos prepared exactly as `quadrat predict` prepares them, and `probabilities`, Quadrat's own answer. The script
runs the ONNX model on `image` with ONNX Runtime (CPU) and prints the largest absolute probability difference (and,
when the sample has `unknown_distance`, the largest difference of the unknown answer's distance);
exit status 0 when it is within the tolerance, 1 when not, 2 when onnxruntime is missing.

Needs the PyPI packages onnxruntime, numpy and safetensors (never needed by Quadrat itself).
"""
import argparse
import json
import sys

try:
    import numpy as np
    import onnxruntime as ort
    from safetensors.numpy import load_file
except ImportError as error:  # the caller (a test) reads exit status 2 as "skip"
    print(f"onnx_parity: {error.name} is not installed (pip install onnxruntime safetensors numpy)", file=sys.stderr)
    sys.exit(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("sample")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()

    sample = load_file(args.sample)
    options = ort.SessionOptions()
    # Full graph optimisation as a deployment would run it.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    logits, probabilities = session.run(["logits", "probabilities"], {"image": sample["image"]})
    expected = sample["probabilities"]
    difference = float(np.abs(probabilities - expected).max())
    agree = int((probabilities.argmax(1) == expected.argmax(1)).sum())
    scaled = logits / float(meta.get("temperature", "1"))
    softmax = np.exp(scaled - scaled.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    # The unknown answer, when the export has it and the sample carries Quadrat's distances.
    distance_difference = None
    outputs = [o.name for o in session.get_outputs()]
    if "unknown_distance" in outputs and "unknown_distance" in sample:
        (distance,) = session.run(["unknown_distance"], {"image": sample["image"]})
        distance_difference = float(np.abs(distance - sample["unknown_distance"]).max())
    print(json.dumps({
        "architecture": meta.get("architecture"),
        "max_abs_distance_difference": distance_difference,
        "photos": int(expected.shape[0]),
        "classes": json.loads(meta.get("classes", "[]")),
        "max_abs_difference": difference,
        "same_top_class": agree,
        "logits_softmax_consistent": bool(np.abs(softmax - probabilities).max() < 1e-6),
        "onnxruntime": ort.__version__,
        "tolerance": args.tolerance,
    }))
    within = difference <= args.tolerance and (distance_difference is None or distance_difference <= args.tolerance)
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
