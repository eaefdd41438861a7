"""PyTorch Geometric side of the Tamiyo GNN parity check (issue 17, decision 0058).

Builds the hetero-GNN of reference tamiyo section 7 with torch_geometric modules (type encoders
Linear -> GELU -> LayerNorm, two HeteroConv layers of SAGEConv, two HeteroConv layers of
GATConv with 4 heads averaged, edge attributes, no self-loops, cross-relation mean, heads),
loads the weights written by scripts/export-parity-inputs.ts (our PyTorch names), runs it in
evaluation mode (no dropout) on the fixture's graphs on CPU in float64 and float32 (and on CUDA
in float32, TF32 off, when a GPU is present) and writes every output to a JSON file.

    python3 packages/plugin-tamiyo/scripts/gnn_parity.py \
        packages/plugin-tamiyo/test/fixtures/gnn-parity "$OUT/expected.json"

With --time it also prints the forward latency of the PyG model at the reference's sizes
(13 953 971 parameters, untrained weights) on the fixture's graphs: CPU eager with 2 threads and
with every core, and CUDA (float32, TF32 off, synchronised), median and p99 of 200 forwards
after 20 warm-ups; the figures the GPU-backend decision record (P7) compares against.

Needs torch and torch_geometric (>= 2.5: GATConv with separate lin_src / lin_dst).
"""

import json
import os
import platform
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import torch_geometric
from torch_geometric.nn import GATConv, HeteroConv, SAGEConv

DROPOUT = 0.2


class Encoder(nn.Module):
    """Linear(in -> H) -> GELU (erf) -> LayerNorm(H, eps 1e-5)."""

    def __init__(self, in_dim, hidden):
        super().__init__()
        self.linear = nn.Linear(in_dim, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-5)

    def forward(self, x):
        return self.norm(F.gelu(self.linear(x)))


class TamiyoGNN(nn.Module):
    def __init__(self, dims, feature_dims, edge_types, edge_dim):
        super().__init__()
        H = dims["sageHidden"]
        C = dims["gatHidden"]
        heads = dims["heads"]
        hh = dims["headHidden"]
        self.encoders = nn.ModuleDict({t: Encoder(f, H) for t, f in feature_dims.items()})
        self._sage_layers = nn.ModuleList(
            [HeteroConv({et: SAGEConv(H, H, aggr="mean") for et in edge_types}, aggr="mean") for _ in range(2)]
        )
        self._gat_layers = nn.ModuleList(
            [
                HeteroConv(
                    {
                        et: GATConv(
                            (w, w),
                            C,
                            heads=heads,
                            concat=False,
                            edge_dim=edge_dim,
                            add_self_loops=False,
                            dropout=0.0,
                            negative_slope=0.2,
                        )
                        for et in edge_types
                    },
                    aggr="mean",
                )
                for w in (H, C)
            ]
        )
        self.policy_head = nn.Linear(C, dims["policyClasses"])
        self.param_head = nn.Sequential(nn.Linear(C, hh), nn.GELU(), nn.Linear(hh, dims["paramVector"]))
        self.blending_head = nn.Linear(C, dims["blendingMethods"])
        self.schedule_head = nn.Sequential(nn.Linear(C, hh), nn.GELU(), nn.Linear(hh, dims["scheduleOutputs"]))
        self.risk_head = nn.Linear(C, dims["riskClasses"])
        self.value_head = nn.Linear(C, 1)
        self.breaker_head = nn.Linear(C, 2)
        self.seed_head = nn.Linear(C, 1)
        self.blueprint_head = nn.Linear(C, 1)

    def forward(self, x_dict, edge_index_dict, edge_attr_dict):
        x = {t: enc(x_dict[t]) for t, enc in self.encoders.items()}
        for conv in self._sage_layers:
            out = conv(x, edge_index_dict)
            x = {t: F.dropout(F.gelu(out[t]) + x[t], p=DROPOUT, training=self.training) for t in x}
        for k, conv in enumerate(self._gat_layers):
            out = conv(x, edge_index_dict, edge_attr_dict=edge_attr_dict)
            if k == 0:  # 256 -> 128: no residual
                x = {t: F.dropout(F.gelu(out[t]), p=DROPOUT, training=self.training) for t in x}
            else:
                x = {t: F.dropout(F.gelu(out[t]) + x[t], p=DROPOUT, training=self.training) for t in x}
        g = x["global"].mean(dim=0, keepdim=True)
        params = torch.tanh(self.param_head(g))
        return {
            "policy_logits": self.policy_head(g),
            "policy_params": params,
            "param_delta": params[:, 0:1],
            "blending_logits": self.blending_head(g),
            "schedule_params": torch.tanh(self.schedule_head(g)),
            "risk_logits": self.risk_head(g),
            "value": self.value_head(g),
            "breaker_logits": self.breaker_head(g),
            "seed_scores": self.seed_head(x["seed"]).squeeze(-1),
            "blueprint_scores": self.blueprint_head(x["blueprint"]).squeeze(-1),
            "graph_embedding": g,
        }


def plain_name(key):
    """PyG's ModuleDict stores tuple keys as '<src___rel___dst>'; our names carry no brackets."""
    return key.replace("<", "").replace(">", "")


def load_weights(model, fixture_dir, manifest):
    flat = np.fromfile(os.path.join(fixture_dir, manifest["file"]), dtype="<f4")
    if flat.size != manifest["count"]:
        raise SystemExit(f"weights file holds {flat.size} floats, manifest says {manifest['count']}")
    ours = {t["name"]: t for t in manifest["tensors"]}
    state = model.state_dict()
    by_plain = {plain_name(k): k for k in state}
    missing = sorted(set(by_plain) - set(ours))
    extra = sorted(set(ours) - set(by_plain))
    if missing or extra:
        raise SystemExit(f"weight names differ: model has but file lacks {missing[:8]}; file has but model lacks {extra[:8]}")
    new_state = {}
    for plain, key in by_plain.items():
        t = ours[plain]
        arr = flat[t["offset"] : t["offset"] + t["length"]].reshape(t["shape"])
        if tuple(state[key].shape) != tuple(arr.shape):
            raise SystemExit(f"{plain}: model shape {tuple(state[key].shape)}, file shape {tuple(arr.shape)}")
        new_state[key] = torch.from_numpy(arr.copy())
    model.load_state_dict(new_state, strict=True)
    return sorted(state)[:3] + [k for k in sorted(state) if "convs" in k][:2]


def graph_tensors(graph, inputs, dtype, device):
    fd = inputs["featureDims"]
    x = {}
    for t in inputs["nodeTypes"]:
        n = graph["counts"][t]
        x[t] = torch.tensor(np.asarray(graph["features"][t], dtype=np.float64).reshape(n, fd[t]), dtype=dtype, device=device)
    ei, ea = {}, {}
    for rel, e in zip(inputs["relations"], graph["edges"]):
        assert rel["key"] == e["key"]
        et = (rel["src"], rel["name"], rel["dst"])
        ei[et] = torch.tensor([e["src"], e["dst"]], dtype=torch.long, device=device).reshape(2, e["count"])
        ea[et] = torch.tensor(np.asarray(e["attr"], dtype=np.float64).reshape(e["count"], inputs["edgeAttrDim"]), dtype=dtype, device=device)
    return x, ei, ea


def run(model, graph, inputs, dtype, device):
    m = model.to(device=device, dtype=dtype)
    m.eval()
    x, ei, ea = graph_tensors(graph, inputs, dtype, device)
    with torch.no_grad():
        out = m(x, ei, ea)
        again = m(x, ei, ea)
    for k in out:
        # On CUDA, PyG's scatter uses atomics, so two forwards may differ in the last bits;
        # dropout left on would differ by far more than 1e-6.
        same = torch.equal(out[k], again[k]) if device == "cpu" else torch.allclose(out[k], again[k], rtol=0, atol=1e-6)
        if not same:
            raise SystemExit(f"{k}: two evaluation-mode forwards differ (dropout left on?)")
    return {k: v.detach().to("cpu", torch.float64).reshape(-1).tolist() for k, v in out.items()}


def max_abs(a, b):
    return {k: float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])))) if len(a[k]) else 0.0 for k in a}


REFERENCE_DIMS = {
    "sageHidden": 256,
    "gatHidden": 128,
    "heads": 4,
    "policyClasses": 32,
    "riskClasses": 5,
    "paramVector": 4,
    "scheduleOutputs": 2,
    "blendingMethods": 3,
    "headHidden": 64,
}


def time_forwards(model, x, ei, ea, device, runs=200, warm=20):
    import time

    samples = []
    with torch.no_grad():
        for i in range(runs + warm):
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(x, ei, ea)
            if device == "cuda":
                torch.cuda.synchronize()
            if i >= warm:
                samples.append((time.perf_counter() - t0) * 1000.0)
    samples.sort()
    return samples[len(samples) // 2], samples[min(len(samples) - 1, int(0.99 * len(samples)))]


def latency_table(inputs, edge_types):
    torch.manual_seed(0)
    model = TamiyoGNN(REFERENCE_DIMS, inputs["featureDims"], edge_types, inputs["edgeAttrDim"]).eval()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"latency at the reference size ({n_params} parameters), ms (median / p99):")
    cores = torch.get_num_threads()
    for graph in inputs["graphs"]:
        row = []
        for threads in (2, cores):
            torch.set_num_threads(threads)
            m = model.to("cpu", torch.float32)
            x, ei, ea = graph_tensors(graph, inputs, torch.float32, "cpu")
            p50, p99 = time_forwards(m, x, ei, ea, "cpu")
            row.append(f"cpu {threads} threads {p50:.2f} / {p99:.2f}")
        torch.set_num_threads(cores)
        if torch.cuda.is_available():
            m = model.to("cuda", torch.float32)
            x, ei, ea = graph_tensors(graph, inputs, torch.float32, "cuda")
            p50, p99 = time_forwards(m, x, ei, ea, "cuda")
            row.append(f"cuda {p50:.2f} / {p99:.2f}")
        print(f"  {graph['name']}: " + "; ".join(row))


def main():
    timing = "--time" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--time"]
    fixture_dir, out_path = args[0], args[1]
    with open(os.path.join(fixture_dir, "inputs.json")) as f:
        inputs = json.load(f)
    torch.manual_seed(0)
    edge_types = [(r["src"], r["name"], r["dst"]) for r in inputs["relations"]]
    model = TamiyoGNN(inputs["dims"], inputs["featureDims"], edge_types, inputs["edgeAttrDim"])
    sample_keys = load_weights(model, fixture_dir, inputs["weights"])
    n_params = sum(p.numel() for p in model.parameters())
    if n_params != inputs["weights"]["count"]:
        raise SystemExit(f"model has {n_params} parameters, the file {inputs['weights']['count']}")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cuda = torch.cuda.is_available()
    result = {
        "description": "Outputs of the PyTorch Geometric implementation of the Tamiyo GNN (tamiyo §7) on the fixture's graphs and weights, evaluation mode. Written by scripts/gnn_parity.py.",
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__,
            "cpu": platform.processor() or platform.machine(),
            "gpu": torch.cuda.get_device_name(0) if cuda else None,
        },
        "parameters": n_params,
        "state_dict_key_sample": sample_keys,
        "graphs": {},
    }
    for graph in inputs["graphs"]:
        runs = {
            "float64": run(model, graph, inputs, torch.float64, "cpu"),
            "float32": run(model, graph, inputs, torch.float32, "cpu"),
        }
        if cuda:
            runs["cuda_float32"] = run(model, graph, inputs, torch.float32, "cuda")
        diffs = {name: max_abs(r, runs["float64"]) for name, r in runs.items() if name != "float64"}
        result["graphs"][graph["name"]] = {"emptyRelations": graph["emptyRelations"], "outputs": runs, "maxAbsDiffVsFloat64": diffs}
        for name, d in diffs.items():
            print(f"{graph['name']}: {name} vs float64 max abs diff {max(d.values()):.3g}")
        print(f"{graph['name']}: policy_logits[:4] = {runs['float64']['policy_logits'][:4]}")
        print(f"{graph['name']}: seed_scores = {runs['float64']['seed_scores']}")
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(json.dumps(result["environment"]), "parameters", n_params, "keys", sample_keys)
    if timing:
        latency_table(inputs, edge_types)


if __name__ == "__main__":
    main()
