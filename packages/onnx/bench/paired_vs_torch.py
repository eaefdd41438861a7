#!/usr/bin/env python3
"""PyTorch's CPU training step against @esper/onnx's Trainer.stepMany, in short alternating
chunks on the same cores, so that both see the same moments of a shared host's load.

The PyTorch side is in this process (MLP 784-512-512-10, ReLU, softmax cross-entropy, Adam,
batch 256, float32, random batches with random labels, as torch_mlp_step.py); ours is the
train.bench bundle in `--serve` mode, a child process that inherits this process's cores. Each
pair times one chunk of each (order alternating ABBA), and the ratio PyTorch ms ÷ ours is taken
per pair: above 1, we are faster. While one side runs, the other waits on a pipe.

Usage (repository root, on the device machine, after bench/device-bundle.sh):
  taskset -c 1-2 python3 packages/onnx/bench/paired_vs_torch.py --threads 2 --k 16 --pairs 24
Options: --node (default /tmp/node/node), --bundle (default .device/node/train.mjs),
--chunk-ms (target length of one chunk, default 250), --torch-adam default|foreach|fused.
"""
import argparse
import statistics
import subprocess
import time

import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, required=True)
ap.add_argument("--k", type=int, default=16, help="steps per stepMany run")
ap.add_argument("--pairs", type=int, default=24)
ap.add_argument("--chunk-ms", type=float, default=250.0)
ap.add_argument("--node", default="/tmp/node/node")
ap.add_argument("--bundle", default=".device/node/train.mjs")
ap.add_argument("--torch-adam", choices=["default", "foreach", "fused"], default="default",
                help="PyTorch's Adam implementation (default: what torch.optim.Adam picks on CPU)")
args = ap.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(0)
B, dims = 256, [784, 512, 512, 10]
data = [(torch.randn(B, 784), torch.randint(0, 10, (B,))) for _ in range(64)]
layers = [torch.nn.Linear(dims[i], dims[i + 1]) for i in range(3)]
adam_kw = {} if args.torch_adam == "default" else {args.torch_adam: True}
opt = torch.optim.Adam([p for l in layers for p in l.parameters()], lr=1e-3, **adam_kw)
k = 0


def torch_steps(n):
    """ms per step over n PyTorch training steps."""
    global k
    t0 = time.perf_counter()
    for _ in range(n):
        x, y = data[k % len(data)]
        k += 1
        opt.zero_grad(set_to_none=True)
        h = F.relu(layers[0](x))
        h = F.relu(layers[1](h))
        F.cross_entropy(layers[2](h), y).backward()
        opt.step()
    return (time.perf_counter() - t0) * 1e3 / n


ours = subprocess.Popen(
    [args.node, args.bundle, "--only", "mlp", "--threads", str(args.threads), "--steps-per-run", str(args.k), "--serve"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
)


def ours_runs(n):
    """ms per step over n stepMany runs of k steps."""
    ours.stdin.write(f"{n}\n")
    ours.stdin.flush()
    line = ours.stdout.readline()
    if not line.startswith("ms "):
        raise SystemExit(f"unexpected answer from the bench: {line!r}")
    return float(line.split()[1])


while True:
    line = ours.stdout.readline()
    if not line:
        raise SystemExit("the bench exited before it was ready")
    if line.strip() == "ready":
        break

# Warm up both, then size the chunks to about --chunk-ms each.
t_ms = min(torch_steps(10), torch_steps(10))
o_ms = min(ours_runs(1), ours_runs(1))
n_torch = max(4, round(args.chunk_ms / t_ms))
n_ours = max(1, round(args.chunk_ms / (o_ms * args.k)))
print(f"threads {args.threads}, K {args.k}: chunks of {n_torch} PyTorch steps and {n_ours} stepMany runs "
      f"({n_ours * args.k} steps); torch {torch.__version__}, Adam {args.torch_adam}", flush=True)

ratios, t_all, o_all = [], [], []
for i in range(args.pairs):
    if i % 2 == 0:
        t = torch_steps(n_torch)
        o = ours_runs(n_ours)
    else:
        o = ours_runs(n_ours)
        t = torch_steps(n_torch)
    ratios.append(t / o)
    t_all.append(t)
    o_all.append(o)
ours.stdin.close()
ours.wait(timeout=60)

ratios.sort()
q = lambda p: ratios[min(len(ratios) - 1, int(p * len(ratios)))]
geo = statistics.geometric_mean(ratios)
print(f"T{args.threads} K{args.k} Adam {args.torch_adam} pairs {len(ratios)}: PyTorch ms/step median {statistics.median(t_all):.2f} "
      f"(min {min(t_all):.2f}), ours median {statistics.median(o_all):.2f} (min {min(o_all):.2f}); "
      f"ratio PyTorch/ours median {statistics.median(ratios):.2f}, geometric mean {geo:.2f}, "
      f"p25 {q(0.25):.2f}, p75 {q(0.75):.2f}, pairs above 1: {sum(r > 1 for r in ratios)}/{len(ratios)}", flush=True)
