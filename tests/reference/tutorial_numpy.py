#!/usr/bin/python3
"""The tutorial's NumPy network, run as the reference the C++ port is checked against.

Usage: /usr/bin/python3 tutorial_numpy.py OUTPUT_DIR

The class below is copied verbatim from the tutorial ("Building Neural Networks from Scratch",
a NumPy walk-through of a hand-derived MLP; not part of this repository). For each case, OUTPUT_DIR/<case>/ receives:
  initial.layers.<i>.weight.npy / .bias.npy   weights drawn by the tutorial's __init__ after
                                              np.random.seed(seed)
  X.npy, y.npy                                the data (float64)
  config.npy                                  [learning_rate, epochs, seed]
  losses.npy                                  the per-epoch losses train() returns
  final.layers.<i>.weight.npy / .bias.npy     the weights after training
  predictions.npy                             predict(X) after training
  train_log.txt                               what train(verbose=True) printed
tests/test_tutorial.cpp runs the C++ port from the same initial weights and compares.
"""
import contextlib
import io
import os
import sys

import numpy as np


# ---- verbatim from the tutorial ----------------------------------------------------------------
class NeuralNetwork:
    def __init__(self, layer_sizes):
        """
        Initialize network with given layer sizes.
        layer_sizes: list of integers representing neurons per layer
        """
        self.weights = []
        self.biases = []
        
        # Initialize weights using He initialization
        for i in range(len(layer_sizes) - 1):
            w = np.random.randn(layer_sizes[i], layer_sizes[i+1]) * \
                np.sqrt(2.0 / layer_sizes[i])
            b = np.zeros((1, layer_sizes[i+1]))
            
            self.weights.append(w)
            self.biases.append(b)
    
    def sigmoid(self, x):
        """Sigmoid activation function"""
        return 1 / (1 + np.exp(-np.clip(x, -500, 500)))
    
    def sigmoid_derivative(self, x):
        """Derivative of sigmoid"""
        s = self.sigmoid(x)
        return s * (1 - s)
    
    def relu(self, x):
        """ReLU activation function"""
        return np.maximum(0, x)
    
    def relu_derivative(self, x):
        """Derivative of ReLU"""
        return (x > 0).astype(float)
    
    def forward(self, X):
        """
        Forward propagation through the network.
        Returns activations for each layer.
        """
        self.layer_inputs = [X]
        self.activations = [X]
        
        # Forward through all layers
        for i in range(len(self.weights)):
            # Linear transformation
            z = np.dot(self.activations[-1], self.weights[i]) + self.biases[i]
            self.layer_inputs.append(z)
            
            # Activation (ReLU for hidden, sigmoid for output)
            if i < len(self.weights) - 1:
                a = self.relu(z)
            else:
                a = self.sigmoid(z)
            
            self.activations.append(a)
        
        return self.activations[-1]
    
    def backward(self, X, y, learning_rate=0.01):
        """
        Backpropagation algorithm.
        Updates weights and biases using gradient descent.
        """
        m = X.shape[0]  # Number of samples
        
        # Compute output layer error
        delta = self.activations[-1] - y
        
        # Backpropagate through layers
        for i in range(len(self.weights) - 1, -1, -1):
            # Compute gradients
            dW = np.dot(self.activations[i].T, delta) / m
            db = np.sum(delta, axis=0, keepdims=True) / m
            
            # Update weights and biases
            self.weights[i] -= learning_rate * dW
            self.biases[i] -= learning_rate * db
            
            # Propagate error to previous layer
            if i > 0:
                delta = np.dot(delta, self.weights[i].T) * \
                        self.relu_derivative(self.layer_inputs[i])
    
    def train(self, X, y, epochs=1000, learning_rate=0.01, verbose=True):
        """Train the network"""
        losses = []
        
        for epoch in range(epochs):
            # Forward pass
            predictions = self.forward(X)
            
            # Compute loss (binary cross-entropy)
            loss = -np.mean(y * np.log(predictions + 1e-8) + 
                           (1 - y) * np.log(1 - predictions + 1e-8))
            losses.append(loss)
            
            # Backward pass
            self.backward(X, y, learning_rate)
            
            if verbose and epoch % 100 == 0:
                print(f"Epoch {epoch}, Loss: {loss:.4f}")
        
        return losses
    
    def predict(self, X):
        """Make predictions"""
        return self.forward(X)
# ---- end of the verbatim copy --------------------------------------------------------------------


def save_parameters(directory, prefix, nn):
    for i, (w, b) in enumerate(zip(nn.weights, nn.biases)):
        np.save(os.path.join(directory, f"{prefix}layers.{i}.weight.npy"), w)
        np.save(os.path.join(directory, f"{prefix}layers.{i}.bias.npy"), b)


def run_case(directory, seed, layer_sizes, make_data, epochs, learning_rate):
    """np.random.seed(seed); NeuralNetwork(layer_sizes); data; train, as the tutorial does."""
    os.makedirs(directory, exist_ok=True)
    np.random.seed(seed)
    nn = NeuralNetwork(layer_sizes)
    X, y = make_data()
    save_parameters(directory, "initial.", nn)
    np.save(os.path.join(directory, "X.npy"), np.asarray(X, dtype=np.float64))
    np.save(os.path.join(directory, "y.npy"), np.asarray(y, dtype=np.float64))
    np.save(os.path.join(directory, "config.npy"), np.array([learning_rate, epochs, seed], dtype=np.float64))

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        losses = nn.train(X, y, epochs=epochs, learning_rate=learning_rate)
    with open(os.path.join(directory, "train_log.txt"), "w") as f:
        f.write(printed.getvalue())
    np.save(os.path.join(directory, "losses.npy"), np.array(losses, dtype=np.float64))
    save_parameters(directory, "final.", nn)
    np.save(os.path.join(directory, "predictions.npy"), nn.predict(X))


def xor_data():
    # The tutorial's XOR dataset, integers as in the tutorial.
    X = np.array([[0, 0],
                  [0, 1],
                  [1, 0],
                  [1, 1]])
    y = np.array([[0],
                  [1],
                  [1],
                  [0]])
    return X, y


def random_data(batch, n_in, n_out):
    # Drawn after the weights, from the same global generator.
    X = np.random.randn(batch, n_in)
    y = (np.random.rand(batch, n_out) < 0.5).astype(float)
    return X, y


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tutorial_numpy.py OUTPUT_DIR")
    out = sys.argv[1]
    run_case(os.path.join(out, "xor"), 1, [2, 4, 1], xor_data, epochs=5000, learning_rate=0.5)
    run_case(os.path.join(out, "random"), 2, [8, 16, 16, 3], lambda: random_data(64, 8, 3), epochs=200,
             learning_rate=0.1)


if __name__ == "__main__":
    main()
