// The tutorial's NumPy network, line by line. Each method quotes the Python it ports; the
// arithmetic is done in the same order with the same operations, so that from the same weights
// the port follows the NumPy original to rounding (tests/test_tutorial.cpp checks 1e-12).
// Nothing here uses the tape, the ops or nn: this is the reference autograd is checked against.
#include "tapegrad/tutorial/neural_network.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <limits>
#include <ostream>
#include <sstream>
#include <utility>

#include "detail/xtensor_blas.hpp"
#include "tapegrad/io/npy.hpp"
#include "tapegrad/error.hpp"

namespace tapegrad::tutorial {

// ---- NumPy's legacy generator ---------------------------------------------------------------------

void NumpyRandomState::seed(std::uint32_t seed) {
  // NumPy seeds MT19937 from an integer with init_genrand, as std::mt19937(seed) does.
  engine_.seed(seed);
  has_gauss_ = false;
  gauss_ = 0.0;
}

double NumpyRandomState::random_sample() {
  // NumPy's legacy_double: 27 + 26 bits from two 32-bit outputs.
  const std::uint32_t a = std::uint32_t(engine_()) >> 5;
  const std::uint32_t b = std::uint32_t(engine_()) >> 6;
  return (double(a) * 67108864.0 + double(b)) / 9007199254740992.0;
}

double NumpyRandomState::gauss() {
  // NumPy's legacy_gauss: the polar method; the second value of a pair is cached.
  if (has_gauss_) {
    has_gauss_ = false;
    const double g = gauss_;
    gauss_ = 0.0;
    return g;
  }
  double x1, x2, r2;
  do {
    x1 = 2.0 * random_sample() - 1.0;
    x2 = 2.0 * random_sample() - 1.0;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1.0 || r2 == 0.0);
  const double f = std::sqrt(-2.0 * std::log(r2) / r2);
  gauss_ = f * x1;
  has_gauss_ = true;
  return f * x2;
}

Array<double> NumpyRandomState::randn(std::size_t rows, std::size_t cols) {
  checked_numel("NumpyRandomState::randn", {rows, cols});
  Array<double> out = Array<double>::from_shape({rows, cols});
  for (auto& v : out) v = gauss();
  return out;
}

Array<double> NumpyRandomState::rand(std::size_t rows, std::size_t cols) {
  checked_numel("NumpyRandomState::rand", {rows, cols});
  Array<double> out = Array<double>::from_shape({rows, cols});
  for (auto& v : out) v = random_sample();
  return out;
}

// ---- the network --------------------------------------------------------------------------------

namespace {

std::string param_file(const std::string& directory, const std::string& prefix, std::size_t i, const char* kind) {
  return directory + "/" + prefix + "layers." + std::to_string(i) + "." + kind + ".npy";
}

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

// np.dot of 2-D arrays: one BLAS GEMM, as NumPy calls it.
template <class T>
Array<T> np_dot(const Array<T>& a, const Array<T>& b) {
  return xt::linalg::dot(a, b);
}

template <class T>
Array<T> np_transpose(const Array<T>& a) {
  return xt::transpose(a);
}

}  // namespace

template <class T>
NeuralNetwork<T>::NeuralNetwork(const std::vector<std::size_t>& layer_sizes, NumpyRandomState& rng) {
  TG_CHECK(ValueError, layer_sizes.size() >= 2, "NeuralNetwork: needs at least two layer sizes, got ",
           layer_sizes.size());
  for (auto n : layer_sizes) TG_CHECK(ValueError, n > 0, "NeuralNetwork: layer sizes must be positive");
  // Every layer's size before any weight is drawn.
  for (std::size_t i = 0; i + 1 < layer_sizes.size(); ++i) {
    checked_numel(("NeuralNetwork: weights[" + std::to_string(i) + "]").c_str(), {layer_sizes[i], layer_sizes[i + 1]});
  }
  // for i in range(len(layer_sizes) - 1):
  //     w = np.random.randn(layer_sizes[i], layer_sizes[i+1]) * np.sqrt(2.0 / layer_sizes[i])
  //     b = np.zeros((1, layer_sizes[i+1]))
  for (std::size_t i = 0; i + 1 < layer_sizes.size(); ++i) {
    Array<double> w = rng.randn(layer_sizes[i], layer_sizes[i + 1]) * std::sqrt(2.0 / double(layer_sizes[i]));
    weights.push_back(xt::cast<T>(w));
    biases.push_back(xt::zeros<T>({std::size_t(1), layer_sizes[i + 1]}));
  }
}

template <class T>
NeuralNetwork<T>::NeuralNetwork(std::vector<Array<T>> w, std::vector<Array<T>> b) {
  set_parameters(std::move(w), std::move(b));
}

template <class T>
NeuralNetwork<T> NeuralNetwork<T>::from_npy(const std::string& directory, const std::string& prefix) {
  std::vector<Array<T>> w, b;
  for (std::size_t i = 0; file_exists(param_file(directory, prefix, i, "weight")); ++i) {
    w.push_back(io::read_npy<T>(param_file(directory, prefix, i, "weight")));
    b.push_back(io::read_npy<T>(param_file(directory, prefix, i, "bias")));
  }
  TG_CHECK(IoError, !w.empty(), "NeuralNetwork::load_npy: no file '", param_file(directory, prefix, 0, "weight"),
           "'");
  return NeuralNetwork(std::move(w), std::move(b));
}

template <class T>
void NeuralNetwork<T>::load_npy(const std::string& directory, const std::string& prefix) {
  *this = from_npy(directory, prefix);
}

template <class T>
void NeuralNetwork<T>::save_npy(const std::string& directory, const std::string& prefix) const {
  for (std::size_t i = 0; i < weights.size(); ++i) {
    io::write_npy(param_file(directory, prefix, i, "weight"), weights[i]);
    io::write_npy(param_file(directory, prefix, i, "bias"), biases[i]);
  }
}

template <class T>
void NeuralNetwork<T>::set_parameters(std::vector<Array<T>> w, std::vector<Array<T>> b) {
  TG_CHECK(ShapeError, !w.empty() && w.size() == b.size(), "NeuralNetwork::set_parameters: ", w.size(),
           " weights and ", b.size(), " biases; expected the same positive number");
  for (std::size_t i = 0; i < w.size(); ++i) {
    TG_CHECK(ShapeError, w[i].dimension() == 2 && w[i].shape()[0] > 0 && w[i].shape()[1] > 0,
             "NeuralNetwork::set_parameters: weights[", i, "] is ", to_string(w[i].shape()),
             "; expected a non-empty 2-D (in, out) array");
    const std::size_t out = w[i].shape()[1];
    if (b[i].dimension() == 1 && b[i].shape()[0] == out) b[i].reshape({std::size_t(1), out});
    TG_CHECK(ShapeError, b[i].dimension() == 2 && b[i].shape()[0] == 1 && b[i].shape()[1] == out,
             "NeuralNetwork::set_parameters: biases[", i, "] is ", to_string(b[i].shape()), " for weights ",
             to_string(w[i].shape()), "; expected (1, ", out, ")");
    if (i > 0) {
      TG_CHECK(ShapeError, w[i].shape()[0] == w[i - 1].shape()[1], "NeuralNetwork::set_parameters: weights[", i,
               "] is ", to_string(w[i].shape()), " but weights[", i - 1, "] is ", to_string(w[i - 1].shape()),
               " (layers do not chain)");
    }
  }
  weights = std::move(w);
  biases = std::move(b);
  layer_inputs.clear();
  activations.clear();
}

template <class T>
std::vector<std::size_t> NeuralNetwork<T>::layer_sizes() const {
  std::vector<std::size_t> sizes;
  if (weights.empty()) return sizes;
  sizes.push_back(weights[0].shape()[0]);
  for (const auto& w : weights) sizes.push_back(w.shape()[1]);
  return sizes;
}

template <class T>
Array<T> NeuralNetwork<T>::sigmoid(const Array<T>& x) const {
  // return 1 / (1 + np.exp(-np.clip(x, -500, 500)))
  return T(1) / (T(1) + xt::exp(-xt::clip(x, T(-500), T(500))));
}

template <class T>
Array<T> NeuralNetwork<T>::sigmoid_derivative(const Array<T>& x) const {
  // s = self.sigmoid(x); return s * (1 - s)
  Array<T> s = sigmoid(x);
  return s * (T(1) - s);
}

template <class T>
Array<T> NeuralNetwork<T>::relu(const Array<T>& x) const {
  // return np.maximum(0, x)
  return xt::maximum(T(0), x);
}

template <class T>
Array<T> NeuralNetwork<T>::relu_derivative(const Array<T>& x) const {
  // return (x > 0).astype(float)
  return xt::cast<T>(x > T(0));
}

template <class T>
void NeuralNetwork<T>::check_batch(const char* method, const Array<T>& X, const Array<T>* y) const {
  TG_CHECK(StateError, !weights.empty(), "NeuralNetwork::", method, ": the network has no layers");
  // weights and biases are public (as in the tutorial): check they still chain before using them.
  TG_CHECK(ShapeError, biases.size() == weights.size(), "NeuralNetwork::", method, ": ", weights.size(),
           " weights but ", biases.size(), " biases");
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const auto& w = weights[i];
    const bool chains = w.dimension() == 2 && (i == 0 || w.shape()[0] == weights[i - 1].shape()[1]);
    TG_CHECK(ShapeError, chains, "NeuralNetwork::", method, ": weights[", i, "] is ", to_string(w.shape()),
             i == 0 ? std::string() : " after weights " + to_string(weights[i - 1].shape()), " (layers do not chain)");
    const auto& b = biases[i];
    TG_CHECK(ShapeError, b.dimension() == 2 && b.shape()[0] == 1 && b.shape()[1] == w.shape()[1],
             "NeuralNetwork::", method, ": biases[", i, "] is ", to_string(biases[i].shape()), " for weights ",
             to_string(w.shape()), "; expected (1, ", w.shape()[1], ")");
  }
  TG_CHECK(ShapeError, X.dimension() == 2 && X.shape()[0] > 0 && X.shape()[1] == weights[0].shape()[0],
           "NeuralNetwork::", method, ": X is ", to_string(X.shape()), "; expected (m, ", weights[0].shape()[0],
           ") with m > 0");
  if (y) {
    const std::size_t out = weights.back().shape()[1];
    TG_CHECK(ShapeError, y->dimension() == 2 && y->shape()[0] == X.shape()[0] && y->shape()[1] == out,
             "NeuralNetwork::", method, ": y is ", to_string(y->shape()), " for X ", to_string(X.shape()),
             "; expected (", X.shape()[0], ", ", out, ")");
  }
}

template <class T>
const Array<T>& NeuralNetwork<T>::forward(const Array<T>& X) {
  check_batch("forward", X, nullptr);
  // self.layer_inputs = [X]; self.activations = [X]
  layer_inputs.assign(1, X);
  activations.assign(1, X);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    // z = np.dot(self.activations[-1], self.weights[i]) + self.biases[i]
    Array<T> z = np_dot(activations.back(), weights[i]) + biases[i];
    layer_inputs.push_back(z);
    // a = self.relu(z) for hidden layers, self.sigmoid(z) for the output
    activations.push_back(i + 1 < weights.size() ? relu(z) : sigmoid(z));
  }
  return activations.back();
}

template <class T>
void NeuralNetwork<T>::backward(const Array<T>& X, const Array<T>& y, T learning_rate) {
  check_batch("backward", X, &y);
  TG_CHECK(StateError, activations.size() == weights.size() + 1 && activations[0].shape() == X.shape(),
           "NeuralNetwork::backward: call forward(X) first (backward uses its activations)");
  // m = X.shape[0]
  const T m = T(X.shape()[0]);
  // delta = self.activations[-1] - y
  Array<T> delta = activations.back() - y;
  for (std::size_t i = weights.size(); i-- > 0;) {
    // dW = np.dot(self.activations[i].T, delta) / m
    // db = np.sum(delta, axis=0, keepdims=True) / m
    Array<T> dW = np_dot(np_transpose(activations[i]), delta) / m;
    Array<T> db = xt::sum(delta, {0}, xt::keep_dims) / m;
    // self.weights[i] -= learning_rate * dW; self.biases[i] -= learning_rate * db
    weights[i] -= learning_rate * dW;
    biases[i] -= learning_rate * db;
    // if i > 0: delta = np.dot(delta, self.weights[i].T) * self.relu_derivative(self.layer_inputs[i])
    // (through the weights just updated: the tutorial's order, kept as written)
    if (i > 0) delta = np_dot(delta, np_transpose(weights[i])) * relu_derivative(layer_inputs[i]);
  }
}

template <class T>
std::vector<T> NeuralNetwork<T>::train(const Array<T>& X, const Array<T>& y, std::size_t epochs, T learning_rate) {
  std::ostringstream unused;
  return train(X, y, epochs, learning_rate, unused, false);
}

template <class T>
std::vector<T> NeuralNetwork<T>::train(const Array<T>& X, const Array<T>& y, std::size_t epochs, T learning_rate,
                                       std::ostream& log, bool verbose) {
  check_batch("train", X, &y);
  std::vector<T> losses;
  losses.reserve(epochs);
  for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
    // predictions = self.forward(X)
    const Array<T>& predictions = forward(X);
    // loss = -np.mean(y * np.log(predictions + 1e-8) + (1 - y) * np.log(1 - predictions + 1e-8))
    const T eps = T(1e-8);
    const T loss = -xt::mean(y * xt::log(predictions + eps) + (T(1) - y) * xt::log(T(1) - predictions + eps))();
    losses.push_back(loss);
    // self.backward(X, y, learning_rate)
    backward(X, y, learning_rate);
    // if verbose and epoch % 100 == 0: print(f"Epoch {epoch}, Loss: {loss:.4f}")
    if (verbose && epoch % 100 == 0) {
      const auto flags = log.flags();
      const auto precision = log.precision();
      log << "Epoch " << epoch << ", Loss: " << std::fixed << std::setprecision(4) << double(loss) << '\n';
      log.flags(flags);
      log.precision(precision);
    }
  }
  return losses;
}

template <class T>
Array<T> NeuralNetwork<T>::predict(const Array<T>& X) {
  return forward(X);
}

template <class T>
Gradients<T> NeuralNetwork<T>::backprop(const Array<T>& X, const Array<T>& y, const T* learning_rate) {
  check_batch("gradients", X, &y);
  forward(X);
  const T m = T(X.shape()[0]);
  Gradients<T> g;
  g.dW.resize(weights.size());
  g.db.resize(weights.size());
  Array<T> delta = activations.back() - y;
  for (std::size_t i = weights.size(); i-- > 0;) {
    g.dW[i] = np_dot(np_transpose(activations[i]), delta) / m;
    g.db[i] = xt::sum(delta, {0}, xt::keep_dims) / m;
    if (i == 0) break;
    if (learning_rate) {
      // The weights as the tutorial's backward has already updated them at this point.
      Array<T> updated = weights[i] - *learning_rate * g.dW[i];
      delta = np_dot(delta, np_transpose(updated)) * relu_derivative(layer_inputs[i]);
    } else {
      delta = np_dot(delta, np_transpose(weights[i])) * relu_derivative(layer_inputs[i]);
    }
  }
  return g;
}

template <class T>
Gradients<T> NeuralNetwork<T>::gradients(const Array<T>& X, const Array<T>& y) {
  return backprop(X, y, nullptr);
}

template <class T>
Gradients<T> NeuralNetwork<T>::gradients_as_applied(const Array<T>& X, const Array<T>& y, T learning_rate) {
  return backprop(X, y, &learning_rate);
}

template class NeuralNetwork<float>;
template class NeuralNetwork<double>;

}  // namespace tapegrad::tutorial
