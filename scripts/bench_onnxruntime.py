#!/usr/bin/env python3
"""Times ONNX Runtime (CPU) on an ONNX export of a Quadrat model, for `quadrat bench inference`.

    python3 scripts/bench_onnxruntime.py MODEL.onnx SAMPLE.parity.safetensors --batch 8 --threads 2 --seconds 5

SAMPLE is what `quadrat export --parity-sample` (or the benchmark) writes: `image`, the photos' inputs, and
`probabilities`, Quadrat's fp32 answer. The photos are run in batches of --batch, round after round, for at least
--seconds after one warm-up round, with --threads intra-op threads and full graph optimisation. Prints one JSON
line: images per second and the largest absolute probability difference from Quadrat's answer; with
--agreement-with KEY, also the share of photos whose most probable class equals the one in the sample's KEY (say,
Quadrat's INT8 answer when the model is an INT8 export).
Exit status 2 when onnxruntime is missing (Quadrat itself never needs it).
"""
import argparse
import json
import sys
import time

try:
    import numpy as np
    import onnxruntime as ort
    from safetensors.numpy import load_file
except ImportError as error:
    print(f"bench_onnxruntime: {error.name} is not installed (pip install onnxruntime safetensors numpy)",
          file=sys.stderr)
    sys.exit(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("sample")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--agreement-with", help="a probabilities tensor of SAMPLE to compare decisions with")
    args = parser.parse_args()

    sample = load_file(args.sample)
    images = sample["image"]
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    batches = [images[i:i + args.batch] for i in range(0, len(images), args.batch)]

    def one_round():
        return np.concatenate([session.run(["probabilities"], {"image": b})[0] for b in batches])

    probabilities = one_round()  # warm-up, and the answer compared
    rounds, start = 0, time.perf_counter()
    while rounds == 0 or time.perf_counter() - start < args.seconds:
        one_round()
        rounds += 1
    seconds = time.perf_counter() - start
    difference = float(np.abs(probabilities - sample["probabilities"]).max())
    answer = {
        "images_per_second": rounds * len(images) / seconds,
        "max_difference": difference,
        "version": ort.__version__,
    }
    if args.agreement_with:
        other = sample[args.agreement_with]
        answer["agreement"] = float((probabilities.argmax(1) == other.argmax(1)).mean())
        answer["photos"] = len(images)
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
