#!/usr/bin/env python3
"""The tutorial's XOR run, with its own NumPy code and its own random draws, for seeds
first..last (np.random.seed(s) before constructing the network). Counts the runs whose loss
at epoch 4900 is below 0.05, for comparison with build/examples/xor_seeds.

    /usr/bin/python3 tools/xor_seeds_numpy.py [first=0] [last=99]
"""
import sys

import numpy as np


class NeuralNetwork:  # the tutorial's class, trimmed to what training uses; same arithmetic
    def __init__(self, layer_sizes):
        self.weights = []
        self.biases = []
        for i in range(len(layer_sizes) - 1):
            w = np.random.randn(layer_sizes[i], layer_sizes[i + 1]) * np.sqrt(2.0 / layer_sizes[i])
            b = np.zeros((1, layer_sizes[i + 1]))
            self.weights.append(w)
            self.biases.append(b)

    def sigmoid(self, x):
        return 1 / (1 + np.exp(-np.clip(x, -500, 500)))

    def relu(self, x):
        return np.maximum(0, x)

    def relu_derivative(self, x):
        return (x > 0).astype(float)

    def forward(self, X):
        self.layer_inputs = [X]
        self.activations = [X]
        for i in range(len(self.weights)):
            z = np.dot(self.activations[-1], self.weights[i]) + self.biases[i]
            self.layer_inputs.append(z)
            a = self.relu(z) if i < len(self.weights) - 1 else self.sigmoid(z)
            self.activations.append(a)
        return self.activations[-1]

    def backward(self, X, y, learning_rate=0.01):
        m = X.shape[0]
        delta = self.activations[-1] - y
        for i in range(len(self.weights) - 1, -1, -1):
            dW = np.dot(self.activations[i].T, delta) / m
            db = np.sum(delta, axis=0, keepdims=True) / m
            self.weights[i] -= learning_rate * dW
            self.biases[i] -= learning_rate * db
            if i > 0:
                delta = np.dot(delta, self.weights[i].T) * self.relu_derivative(self.layer_inputs[i])


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
