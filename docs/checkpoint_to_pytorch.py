#!/usr/bin/python3
"""Load a tapegrad MLP checkpoint (.npz) into the equivalent PyTorch model.

    /usr/bin/python3 docs/checkpoint_to_pytorch.py model.npz

tapegrad's MLP({784, 256, 128, 10}) saves layers.0.weight, layers.0.bias, layers.1.weight, ...
The equivalent PyTorch model is nn.Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(),
Linear(128, 10)), whose parameters are named 0.weight, 0.bias, 2.weight, ... (the ReLUs take
the odd positions). Two layouts differ:
  - weights: tapegrad stores W as (in, out) and computes x @ W + b (the tutorial's convention);
    torch.nn.Linear stores (out, in) and computes x @ W.T + b. Transpose.
  - biases: tapegrad stores (1, out), torch (out,). Reshape.
The conversion needs only numpy (tests/test_checkpoint.cpp checks it); the model needs torch.
"""
import sys

import numpy as np


def torch_state_dict_arrays(npz_path):
    """The checkpoint's MLP parameters as numpy arrays, named and laid out as torch expects."""
    ckpt = np.load(npz_path)
    out = {}
    i = 0
    while f"layers.{i}.weight" in ckpt.files:
        out[f"{2 * i}.weight"] = np.ascontiguousarray(ckpt[f"layers.{i}.weight"].T)  # (in, out) -> (out, in)
        if f"layers.{i}.bias" in ckpt.files:
            out[f"{2 * i}.bias"] = ckpt[f"layers.{i}.bias"].reshape(-1)  # (1, out) -> (out,)
        i += 1
    if not out:
        raise ValueError(f"{npz_path}: no layers.0.weight: not a tapegrad MLP checkpoint")
    return out


def torch_model(npz_path):
    """A torch.nn.Sequential with the checkpoint's weights (needs torch)."""
    import torch

    arrays = torch_state_dict_arrays(npz_path)
    n_layers = len([k for k in arrays if k.endswith(".weight")])
    modules = []
    for i in range(n_layers):
        out_features, in_features = arrays[f"{2 * i}.weight"].shape
        modules.append(torch.nn.Linear(in_features, out_features, bias=f"{2 * i}.bias" in arrays))
        if i + 1 < n_layers:
            modules.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*modules)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})  # strict: all names, all shapes
    return model


if __name__ == "__main__":
    model = torch_model(sys.argv[1])
    print(model)
