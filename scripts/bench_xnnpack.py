"""Does libtorch's XNNPACK path run EfficientNet-Lite0 inference faster than ATen's own kernels? (issue 35)

Debian's libtorch 1.13 has XNNPACK compiled in (`prepacked::conv2d_clamp_prepack`/`conv2d_clamp_run`, what
`torch.utils.mobile_optimizer.optimize_for_mobile` rewrites a TorchScript graph into: weights packed once, ReLU6 as
the convolution's clamp). Same libtorch, same threads, one sitting; prints img/s per path and the largest
difference from eager fp32.

    python3 scripts/bench_xnnpack.py [SIZE [BATCH [THREADS]]]      (default 256 px, batch 8, 2 threads)"""
import os
import sys

import torch
from torch.utils.mobile_optimizer import optimize_for_mobile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
from backbones import import_efficientnet_lite  # noqa: E402
from timing import images_per_second  # noqa: E402

SIZE = int(sys.argv[1]) if len(sys.argv) > 1 else 256
BATCH = int(sys.argv[2]) if len(sys.argv) > 2 else 8
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
torch.manual_seed(0)



def main():
    model = import_efficientnet_lite().from_name("efficientnet-lite0").eval()
    x = torch.rand(BATCH, 3, SIZE, SIZE)
    with torch.no_grad():
        reference = model(x)
    rows = [("eager NCHW", model, x)]
    last = import_efficientnet_lite().from_name("efficientnet-lite0").eval().to(memory_format=torch.channels_last)
    last.load_state_dict(model.state_dict())
    rows.append(("eager channels-last", last, x.contiguous(memory_format=torch.channels_last)))
    rows.append(("frozen TorchScript (oneDNN)", torch.jit.freeze(torch.jit.trace(model, x)), x))
    mobile = optimize_for_mobile(torch.jit.trace(model, x))
    convs = str(mobile.graph).count("prepacked::conv2d_clamp_run")
    rows.append((f"XNNPACK ({convs} convolutions)", mobile, x))
    print(f"xnnpack available: {torch._C._is_xnnpack_enabled()}, {SIZE} px, batch {BATCH}, "
          f"{torch.get_num_threads()} threads")
    for name, m, inp in rows:
        with torch.no_grad():
            diff = (m(inp) - reference).abs().max().item()
        print(f"{name}\t{images_per_second(m, inp, 20):.1f} img/s\tmax |diff| {diff:.2e}")


if __name__ == "__main__":
    main()
