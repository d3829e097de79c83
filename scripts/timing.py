"""Throughput of a PyTorch module, shared by the benchmark scripts (bench_xnnpack.py, bench_graph_paths.py)."""
import time

import torch


def images_per_second(model, x, batches=20):
    """Images a second through `model` on the batch `x`: 3 warm-up calls, then `batches` timed ones, no autograd."""
    with torch.no_grad():
        for _ in range(3):
            model(x)
        start = time.perf_counter()
        for _ in range(batches):
            model(x)
    return batches * x.shape[0] / (time.perf_counter() - start)
