"""How fast are libtorch's fp32 graph paths against ONNX Runtime on an EfficientNet-Lite0-shaped network? (issue 35)

A Lite0-shaped network (random weights, BatchNorm, ReLU6, symmetric padding: no TF-SAME pads to break oneDNN's chains)
in eager channels-last, frozen TorchScript (NCHW and channels-last) and `torch.jit.optimize_for_inference` (oneDNN's
blocked layout throughout, convolutions fused with their activation), then ONNX Runtime on the network's ONNX export
(from the Python in $QUADRAT_ORT_PYTHON, default ~/.cache/quadrat-peers/ort/bin/python, skipped when absent). Same
threads, one sitting; img/s per path. Run it with glibc's malloc set as Quadrat sets it (freed memory kept), or every
large feature map page-faults and libtorch's figures drop by up to half:

    MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=2000000000 MALLOC_TOP_PAD_=268435456 \\
        python3 scripts/bench_graph_paths.py [SIZE [BATCH [THREADS]]]      (default 256 px, batch 8, 2 threads)"""
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
from timing import images_per_second

SIZE = int(sys.argv[1]) if len(sys.argv) > 1 else 256
BATCH = int(sys.argv[2]) if len(sys.argv) > 2 else 8
THREADS = int(sys.argv[3]) if len(sys.argv) > 3 else 2
torch.set_num_threads(THREADS)
torch.manual_seed(0)

# (repeats, kernel, stride, expansion, in, out): EfficientNet-Lite0's stages.
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]


def conv_bn_relu6(cin, cout, kernel, stride, groups=1):
    return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU6()]


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, kernel, stride, expansion):
        super().__init__()
        hidden = cin * expansion
        layers = conv_bn_relu6(cin, hidden, 1, 1) if expansion != 1 else []
        layers += conv_bn_relu6(hidden, hidden, kernel, stride, hidden)
        layers += [nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.f = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.f(x) if self.residual else self.f(x)


def lite0_shaped():
    layers = conv_bn_relu6(3, 32, 3, 2)
    for repeats, kernel, stride, expansion, cin, cout in STAGES:
        for j in range(repeats):
            layers.append(InvertedResidual(cin if j == 0 else cout, cout, kernel, stride if j == 0 else 1, expansion))
    layers += conv_bn_relu6(320, 1280, 1, 1) + [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, 2)]
    model = nn.Sequential(*layers).eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_var.uniform_(0.5, 2)
            m.running_mean.normal_()
            m.weight.data.uniform_(0.5, 1.5)
    return model



ORT_SCRIPT = """
import sys, time, numpy as np, onnxruntime as ort
o = ort.SessionOptions(); o.intra_op_num_threads = int(sys.argv[2]); o.inter_op_num_threads = 1
s = ort.InferenceSession(sys.argv[1], o, providers=["CPUExecutionProvider"])
x = np.random.rand(int(sys.argv[3]), 3, int(sys.argv[4]), int(sys.argv[4])).astype(np.float32)
name = s.get_inputs()[0].name
for _ in range(3): s.run(None, {name: x})
start = time.perf_counter()
for _ in range(30): s.run(None, {name: x})
print(f"{30 * x.shape[0] / (time.perf_counter() - start):.1f}")
"""


def main():
    model = lite0_shaped()
    x = torch.rand(BATCH, 3, SIZE, SIZE)
    with torch.no_grad():
        reference = model(x)
    last = lite0_shaped().to(memory_format=torch.channels_last)
    last.load_state_dict(model.state_dict())
    xl = x.contiguous(memory_format=torch.channels_last)
    rows = [("eager channels-last", last, xl),
            ("frozen TorchScript NCHW", torch.jit.freeze(torch.jit.script(model)), x),
            ("frozen TorchScript channels-last", torch.jit.freeze(torch.jit.script(last)), xl),
            ("optimize_for_inference (oneDNN layout)", torch.jit.optimize_for_inference(torch.jit.script(model)), x)]
    print(f"Lite0-shaped network, {SIZE} px, batch {BATCH}, {THREADS} threads, torch {torch.__version__}")
    for name, m, inp in rows:
        with torch.no_grad():
            diff = (m(inp) - reference).abs().max().item()
        print(f"{name}\t{images_per_second(m, inp, 30):.1f} img/s\tmax |diff| {diff:.1e}", flush=True)
    python = os.environ.get("QUADRAT_ORT_PYTHON", os.path.expanduser("~/.cache/quadrat-peers/ort/bin/python"))
    if not os.path.exists(python):
        print(f"ONNX Runtime: skipped ({python} not found)")
        return
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "lite0.onnx")
        torch.onnx.export(model, x, path, opset_version=13)
        out = subprocess.run([python, "-c", ORT_SCRIPT, path, str(THREADS), str(BATCH), str(SIZE)],
                             capture_output=True, text=True)
        print(f"ONNX Runtime fp32\t{out.stdout.strip() or out.stderr.strip()[-200:]} img/s")


if __name__ == "__main__":
    main()
