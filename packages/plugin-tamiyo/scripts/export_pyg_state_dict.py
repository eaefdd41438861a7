"""Exports the parity model's PyTorch Geometric state_dict() as safetensors (issue 17, decision 0062).

Builds the PyG model of scripts/gnn_parity.py at the parity fixture's sizes, loads the fixture's
weights, and saves `model.state_dict()` unchanged, with PyG's own key spellings (HeteroConv
relations as `<src___rel___dst>`), to a safetensors file: what a PyTorch trainer of the policy
would publish. test/gnn-updates.test.ts checks that `loadPolicyWeights` reads it directly and
gets the fixture's weights.

    python3 packages/plugin-tamiyo/scripts/export_pyg_state_dict.py \
        packages/plugin-tamiyo/test/fixtures/gnn-parity "$OUT/pyg_state_dict.safetensors"

Uses safetensors.torch.save_file when the package is installed, else writes the same format
(u64 LE header length, JSON header padded with spaces to 8 bytes, little-endian data).
"""

import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gnn_parity import TamiyoGNN, load_weights  # noqa: E402


def save_safetensors(state, path, metadata):
    try:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, path, metadata=metadata)
        return "safetensors.torch"
    except ImportError:
        pass
    header = {"__metadata__": metadata}
    blobs = []
    at = 0
    for name, t in state.items():
        data = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    return "built-in writer"


def main():
    fixture_dir, out_path = sys.argv[1], sys.argv[2]
    with open(os.path.join(fixture_dir, "inputs.json")) as f:
        inputs = json.load(f)
    edge_types = [(r["src"], r["name"], r["dst"]) for r in inputs["relations"]]
    model = TamiyoGNN(inputs["dims"], inputs["featureDims"], edge_types, inputs["edgeAttrDim"])
    load_weights(model, fixture_dir, inputs["weights"])
    state = model.state_dict()
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    import torch_geometric

    how = save_safetensors(state, out_path, {"architecture_version": inputs["architecture"], "torch_geometric": torch_geometric.__version__})
    print(f"wrote {len(state)} tensors with {how}; sample keys:", [k for k in state if "convs" in k][:2])


if __name__ == "__main__":
    main()
