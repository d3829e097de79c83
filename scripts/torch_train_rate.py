"""PyTorch's own training and inference rate for the model `quadrat bench models` times: EfficientNet-Lite0 (the
peer's efficientnet_lite_pytorch, 1000 classes), SGD with momentum, cross-entropy, channels-last, on one device.
scripts/gpu_check.sh compares Quadrat's `bench models` rows with these (same model, batch, size and precision).

usage: PY torch_train_rate.py [--device cuda] [--size 224] [--batch-size 32] [--precision bf16|fp16|fp32]
  PY: a Python whose torch sees the device ($PEER_HOME/current/bin/python); the model code comes from the peer's
  assets ($PEER_HOME/assets/el), as fastai_kaggle.py takes it.
Prints one line: RATE train_img_s=… infer_img_s=… device=… precision=…"""
import argparse, contextlib, os, sys, time

ap = argparse.ArgumentParser()
ap.add_argument('--device', default='cuda'); ap.add_argument('--size', type=int, default=224)
ap.add_argument('--batch-size', type=int, default=32); ap.add_argument('--precision', default='bf16')
ap.add_argument('--steps', type=int, default=20)
a = ap.parse_args()
sys.path.insert(0, os.path.join(os.environ.get('PEER_HOME', os.path.expanduser('~/.cache/quadrat-peers')),
                                'assets', 'el'))
import torch
from efficientnet_lite_pytorch import EfficientNet

device = torch.device(a.device)
torch.backends.cudnn.benchmark = True
dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16, 'fp32': None}[a.precision]
net = EfficientNet.from_name('efficientnet-lite0', num_classes=1000).to(device).to(memory_format=torch.channels_last)
x = torch.randn(a.batch_size, 3, a.size, a.size, device=device).to(memory_format=torch.channels_last)
y = torch.randint(0, 1000, (a.batch_size,), device=device)
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
# torch.amp.GradScaler since 2.3; torch.cuda.amp's before (Debian's 1.13, whose CPU runs only bf16 or fp32).
Scaler = getattr(torch.amp, 'GradScaler', None) or torch.cuda.amp.GradScaler
scaler = Scaler(enabled=a.precision == 'fp16')


def mixed():
    """Autocast in the chosen type, or nothing at all for fp32."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def step():
    opt.zero_grad(set_to_none=True)
    with mixed():
        loss = torch.nn.functional.cross_entropy(net(x), y)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()


def rate(work):
    for _ in range(3):
        work()
    if device.type == 'cuda':
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(a.steps):
        work()
    if device.type == 'cuda':
        torch.cuda.synchronize()
    return a.steps * a.batch_size / (time.perf_counter() - start)


net.train()
train = rate(step)
net.eval()


def infer():
    with torch.inference_mode(), mixed():
        net(x)


print(f'RATE train_img_s={train:.1f} infer_img_s={rate(infer):.1f} device={a.device} precision={a.precision} '
      f'torch={torch.__version__}')
