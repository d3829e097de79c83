"""The PyTorch side of `quadrat bench models --pytorch`: the same models, batch, size and modes
in Python PyTorch (Debian's python3-torch, the same libtorch). Prints arch<TAB>mode<TAB>img/s.

    python3 scripts/bench_pytorch.py [SIZE [BATCH]]      (default 224 px, batch 32)"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
from backbones import import_efficientnet_lite  # noqa: E402

SIZE = int(sys.argv[1]) if len(sys.argv) > 1 else 224
BATCH = int(sys.argv[2]) if len(sys.argv) > 2 else 32
BATCHES = 3
torch.set_num_threads(os.cpu_count())
torch.manual_seed(0)


def make(arch):
    if arch == "efficientnet-lite0":
        return import_efficientnet_lite().from_name("efficientnet-lite0")
    import torchvision
    return torchvision.models.resnet34()


def measure(step):
    step()
    start = time.perf_counter()
    for _ in range(BATCHES):
        step()
    return BATCHES * BATCH / (time.perf_counter() - start)


def main():
    x = torch.randn(BATCH, 3, SIZE, SIZE)
    xcl = x.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 1000, (BATCH,))
    for arch in ["efficientnet-lite0", "resnet34"]:
        rows = []
        for fmt, inp, name in [(torch.contiguous_format, x, "NCHW"), (torch.channels_last, xcl, "channels-last")]:
            m = make(arch).eval().to(memory_format=fmt)

            def infer():
                with torch.no_grad():
                    m(inp)
            rows.append((f"inference {name}", measure(infer)))

            def infer_mode():
                with torch.inference_mode():
                    m(inp)
            if name == "channels-last":
                rows.append(("inference channels-last, inference_mode", measure(infer_mode)))
        for fmt, inp, name in [(torch.contiguous_format, x, "NCHW"), (torch.channels_last, xcl, "channels-last")]:
            m = make(arch).train().to(memory_format=fmt)
            opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)

            def train():
                opt.zero_grad()
                torch.nn.functional.cross_entropy(m(inp), labels).backward()
                opt.step()
            rows.append((f"training {name}", measure(train)))
        for mode, rate in rows:
            print(f"{arch}\t{mode}\t{rate:.2f}", flush=True)


if __name__ == "__main__":
    main()
