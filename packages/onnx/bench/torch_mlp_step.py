#!/usr/bin/env python3
"""PyTorch CPU baseline for the @esper/onnx training benchmark: MLP 784-512-512-10, ReLU,
softmax cross-entropy, Adam, batch 256, float32. Prints ms/step for each thread count.

Usage: python3 torch_mlp_step.py [--threads 2,4,16] [--steps 30] [--batches 64]
Run it in the same command as `train.bench.ts --threads N` so both see the same machine.
Like train.bench.ts, steps cycle through random batches with random labels (the loss stays near
ln 10; with one batch trained to a loss of ~0 the gradients turn subnormal and every framework
slows down on x86).
"""
import argparse
import time

import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--threads", default="2,4,16")
ap.add_argument("--steps", type=int, default=30)
ap.add_argument("--batches", type=int, default=64)
args = ap.parse_args()

torch.manual_seed(0)
B, dims = 256, [784, 512, 512, 10]
data = [(torch.randn(B, 784), torch.randint(0, 10, (B,))) for _ in range(args.batches)]

for n in [int(t) for t in args.threads.split(",")]:
    torch.set_num_threads(n)
    layers = [torch.nn.Linear(dims[i], dims[i + 1]) for i in range(3)]
    params = [p for l in layers for p in l.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)

    k = 0

    def step():
        global k
        x, y = data[k % len(data)]
        k += 1
        opt.zero_grad(set_to_none=True)
        h = F.relu(layers[0](x))
        h = F.relu(layers[1](h))
        loss = F.cross_entropy(layers[2](h), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    mean = sum(times) / len(times)
    times.sort()
    print(f"torch {torch.__version__} threads {n}: {mean:.2f} ms/step mean, {times[len(times) // 2]:.2f} median ({args.steps} steps)")
