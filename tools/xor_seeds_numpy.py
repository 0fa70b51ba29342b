#!/usr/bin/env python3
"""The tutorial's XOR run, with its own NumPy code and its own random draws, for seeds
first..last (np.random.seed(s) before constructing the network). Counts the runs whose loss
at epoch 4900 is below 0.05, for comparison with build/examples/xor_seeds.

    /usr/bin/python3 tools/xor_seeds_numpy.py [first=0] [last=99]
"""
import os
import sys

import numpy as np


# The tutorial's class, copied verbatim from the tutorial text, lives in one place: the reference
# script the tests run.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from tutorial_numpy import NeuralNetwork  # noqa: E402


def main():
    first = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    last = int(sys.argv[2]) if len(sys.argv) > 2 else 99
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    y = np.array([[0], [1], [1], [0]])
    converged = 0
    for seed in range(first, last + 1):
        np.random.seed(seed)
        nn = NeuralNetwork([2, 4, 1])
        loss_4900 = None
        for epoch in range(5000):
            p = nn.forward(X)
            loss = -np.mean(y * np.log(p + 1e-8) + (1 - y) * np.log(1 - p + 1e-8))
            if epoch == 4900:
                loss_4900 = loss
            nn.backward(X, y, 0.5)
        converged += loss_4900 < 0.05
        print(f"seed {seed}: loss at epoch 4900 = {loss_4900:.4f}{'' if loss_4900 < 0.05 else '  (stuck)'}")
    print(f"converged (loss < 0.05 at epoch 4900): {converged} of {last - first + 1} seeds")


if __name__ == "__main__":
    main()
