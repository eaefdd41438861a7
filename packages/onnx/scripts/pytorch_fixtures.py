#!/usr/bin/env python3
"""Reference numbers from PyTorch for @esper/onnx's gradient and optimizer parity tests.

Writes JSON fixtures: fixed float32 inputs, parameters and labels (from a seeded NumPy
generator, stored in the file so the TypeScript side needs no RNG parity), and PyTorch's
loss, gradients, and parameters after three optimizer steps for SGD (momentum, weight decay),
Adam, AdamW and Adam with global-norm clipping.

Run on a machine with PyTorch (CPU is enough; float32, deterministic):
    python3 packages/onnx/scripts/pytorch_fixtures.py packages/onnx/test/fixtures
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)


def f32list(t):
    return [float(x) for x in t.detach().cpu().contiguous().view(-1).tolist()]


def tensor_entry(t):
    return {"dims": list(t.shape), "data": f32list(t)}


def make_params(rng, shapes):
    out = {}
    for name, shape in shapes:
        fan_in = shape[1] if len(shape) == 2 else int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        bound = 1.0 / np.sqrt(fan_in)
        out[name] = torch.tensor(rng.uniform(-bound, bound, size=shape).astype(np.float32))
    return out


def run_case(forward, params, x, y, optimizers):
    """Loss and grads at the initial point, then 3 steps per optimizer from the same start."""
    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    loss = forward(p, x, y)
    loss.backward()
    result = {
        "loss": float(loss.item()),
        "grads": {k: tensor_entry(v.grad) for k, v in p.items()},
        "optimizers": {},
    }
    for opt_name, (make_opt, clip) in optimizers.items():
        q = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        names = list(q.keys())
        opt = make_opt([q[n] for n in names])
        losses = []
        grad_norms = []
        for _ in range(3):
            opt.zero_grad()
            l = forward(q, x, y)
            l.backward()
            total = torch.sqrt(sum((q[n].grad.double() ** 2).sum() for n in names)).item()
            grad_norms.append(total)
            if clip is not None:
                torch.nn.utils.clip_grad_norm_([q[n] for n in names], clip)
            opt.step()
            losses.append(float(l.item()))
        result["optimizers"][opt_name] = {
            "losses": losses,
            "globalGradNorms": grad_norms,
            "params": {n: tensor_entry(q[n]) for n in names},
        }
    return result


OPTIMIZERS = {
    "sgd": (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-4), None),
    "adam": (lambda ps: torch.optim.Adam(ps, lr=1e-2, betas=(0.9, 0.999), eps=1e-8), None),
    "adamw": (lambda ps: torch.optim.AdamW(ps, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2), None),
    "adam_clip": (lambda ps: torch.optim.Adam(ps, lr=1e-2, betas=(0.9, 0.999), eps=1e-8), 0.5),
}
OPTIMIZER_SETTINGS = {
    "sgd": {"lr": 0.1, "momentum": 0.9, "weightDecay": 1e-4, "nesterov": False, "dampening": 0.0},
    "adam": {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "adamw": {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weightDecay": 1e-2},
    "adam_clip": {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "clipGlobalNorm": 0.5},
}


def mlp_fixture():
    rng = np.random.default_rng(20261124)
    batch, d_in, h1, h2, d_out = 6, 12, 16, 16, 5
    shapes = [("w1", (d_in, h1)), ("b1", (h1,)), ("w2", (h1, h2)), ("b2", (h2,)), ("w3", (h2, d_out)), ("b3", (d_out,))]
    params = make_params(rng, shapes)
    x = torch.tensor(rng.normal(size=(batch, d_in)).astype(np.float32))
    y = torch.tensor(rng.integers(0, d_out, size=(batch,)).astype(np.int64))

    def forward(p, x, y):
        h = torch.relu(x @ p["w1"] + p["b1"])
        h = F.gelu(h @ p["w2"] + p["b2"])  # exact (erf) GELU
        logits = h @ p["w3"] + p["b3"]
        return F.cross_entropy(logits, y)

    return {
        "description": "MLP x[6,12] -> MatMul+Add -> Relu -> MatMul+Add -> Gelu(erf) -> MatMul+Add -> softmax cross-entropy (mean) with int64 labels; weights stored [in, out]",
        "input": tensor_entry(x),
        "labels": [int(v) for v in y.tolist()],
        "params": {k: tensor_entry(v) for k, v in params.items()},
        "optimizerSettings": OPTIMIZER_SETTINGS,
        **run_case(forward, params, x, y, OPTIMIZERS),
    }


def cnn_fixture():
    rng = np.random.default_rng(7)
    batch, c_in, hw, c1, d_out = 3, 1, 8, 4, 3
    shapes = [("conv_w", (c1, c_in, 3, 3)), ("conv_b", (c1,)), ("fc_w", (c1 * 3 * 3, d_out)), ("fc_b", (d_out,))]
    params = make_params(rng, shapes)
    x = torch.tensor(rng.normal(size=(batch, c_in, hw, hw)).astype(np.float32))
    y = torch.tensor(rng.integers(0, d_out, size=(batch,)).astype(np.int64))

    def forward(p, x, y):
        h = torch.relu(F.conv2d(x, p["conv_w"], p["conv_b"], stride=1, padding=1))  # [3,4,8,8]
        h = F.max_pool2d(h, kernel_size=2, stride=2)  # [3,4,4,4]
        h = F.avg_pool2d(h, kernel_size=2, stride=1)  # [3,4,3,3]
        h = h.reshape(h.shape[0], -1)
        logits = h @ p["fc_w"] + p["fc_b"]
        return F.cross_entropy(logits, y)

    return {
        "description": "CNN x[3,1,8,8] -> Conv 3x3 pad 1 (+bias) -> Relu -> MaxPool 2x2/2 -> AveragePool 2x2/1 -> Flatten -> MatMul+Add -> softmax cross-entropy (mean)",
        "input": tensor_entry(x),
        "labels": [int(v) for v in y.tolist()],
        "params": {k: tensor_entry(v) for k, v in params.items()},
        "optimizerSettings": OPTIMIZER_SETTINGS,
        **run_case(forward, params, x, y, OPTIMIZERS),
    }


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    meta = {"torch": torch.__version__, "numpy": np.__version__, "generator": "packages/onnx/scripts/pytorch_fixtures.py"}
    for name, make in [("pytorch-mlp.json", mlp_fixture), ("pytorch-cnn.json", cnn_fixture)]:
        data = {"meta": meta, **make()}
        (out / name).write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {out / name}: loss={data['loss']:.6f}")


if __name__ == "__main__":
    main()
