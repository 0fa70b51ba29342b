#pragma once
/// The tutorial's hand-derived network ("Building Neural Networks from Scratch", a NumPy
/// walk-through not shipped here; its class is in tests/reference/tutorial_numpy.py), ported
/// line by line from its NumPy class. It is the independent reference
/// that tapegrad's autograd is compared against, so it shares no code with the tape, the ops or
/// nn: plain xtensor arrays and BLAS products, exactly the arithmetic of the NumPy original.
///
///     const tapegrad::Array<double> X{{0., 0.}, {0., 1.}, {1., 0.}, {1., 1.}}, y = tapegrad::column({0., 1., 1., 0.});
///     tapegrad::tutorial::NumpyRandomState rng(1);               // np.random.seed(1)
///     tapegrad::tutorial::NeuralNetwork<double> nn({2, 4, 1}, rng);  // NeuralNetwork([2, 4, 1])
///     auto losses = nn.train(X, y, 5000, 0.5, std::cout);      // prints "Epoch 0, Loss: ..."
///     auto g = nn.gradients(X, y);                             // textbook dW, db; no update
///
/// Member names are the tutorial's (weights, biases, layer_inputs, activations); weights are
/// (in, out), biases (1, out), as in the tutorial and in tapegrad::nn::Linear.
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <random>
#include <string>
#include <vector>

#include "tapegrad/array.hpp"

namespace tapegrad::tutorial {

/// NumPy's legacy global generator (`np.random.seed(s)`, `np.random.randn`, `np.random.rand`),
/// reproduced draw for draw: MT19937 seeded as NumPy seeds it from an integer, 53-bit doubles
/// from two 32-bit outputs, and the polar Box–Muller method with its cached second value.
/// With it the port draws the very weights the tutorial draws after `np.random.seed(s)`.
///
///     tapegrad::tutorial::NumpyRandomState rng(1);
///     auto w = rng.randn(2, 4);   // == np.random.seed(1); np.random.randn(2, 4)
class NumpyRandomState {
 public:
  /// `np.random.seed(seed)`.
  explicit NumpyRandomState(std::uint32_t seed = 0) { this->seed(seed); }
  /// Re-seeds, dropping a cached Gaussian as NumPy does.
  void seed(std::uint32_t seed);
  /// `np.random.randn(rows, cols)`: standard normal draws, in row-major order. Throws
  /// ValueError when rows · cols exceeds kMaxNumel (as rand does).
  Array<double> randn(std::size_t rows, std::size_t cols);
  /// `np.random.rand(rows, cols)`: uniform draws in [0, 1), in row-major order.
  Array<double> rand(std::size_t rows, std::size_t cols);
  /// One `np.random.random_sample()`.
  double random_sample();
  /// One standard normal draw (NumPy's `legacy_gauss`).
  double gauss();

 private:
  std::mt19937 engine_;
  bool has_gauss_ = false;
  double gauss_ = 0.0;
};

/// dW and db for every layer, in layer order (dW[i] shaped like weights[i], db[i] like biases[i]).
template <class T>
struct Gradients {
  std::vector<Array<T>> dW;
  std::vector<Array<T>> db;
};

/// The tutorial's `NeuralNetwork`: ReLU hidden layers, a sigmoid output, binary cross-entropy,
/// full-batch gradient descent with the tutorial's hand-written backward.
///
/// Inputs X are (m, n_in), targets y are (m, n_out). Every method checks shapes and throws
/// ShapeError naming the method and the shapes; nothing prints except `train` with a stream.
template <class T>
class NeuralNetwork {
 public:
  /// `NeuralNetwork(layer_sizes)`: He initialisation drawn from `rng` exactly as the tutorial
  /// draws it (`np.random.randn(n_i, n_{i+1}) * np.sqrt(2.0 / n_i)`, in double, then rounded
  /// to T), zero biases. Throws ValueError for fewer than two sizes or a zero size.
  NeuralNetwork(const std::vector<std::size_t>& layer_sizes, NumpyRandomState& rng);
  /// A network with the given parameters (see set_parameters).
  NeuralNetwork(std::vector<Array<T>> weights, std::vector<Array<T>> biases);
  /// A network whose parameters are read from `<directory>/<prefix>layers.<i>.weight.npy` and
  /// `.bias.npy` (see load_npy).
  static NeuralNetwork from_npy(const std::string& directory, const std::string& prefix = "");

  /// Replaces every weight and bias. weights[i] must be (n_i, n_{i+1}), biases[i] (1, n_{i+1})
  /// or (n_{i+1},), consecutive layers must fit; otherwise ShapeError and nothing changes.
  void set_parameters(std::vector<Array<T>> weights, std::vector<Array<T>> biases);
  /// Reads `<directory>/<prefix>layers.<i>.weight.npy` and `<prefix>layers.<i>.bias.npy` for
  /// i = 0, 1, ... until no weight file is left (float64, float32 or integer arrays, converted
  /// to T). Throws IoError naming the file if one is missing, truncated or malformed, and
  /// ShapeError if the shapes do not fit; on error nothing changes.
  void load_npy(const std::string& directory, const std::string& prefix = "");
  /// Writes the parameters as `<directory>/<prefix>layers.<i>.weight.npy` / `.bias.npy` (the
  /// names tapegrad::nn::MLP gives them). Throws IoError if a file cannot be written.
  void save_npy(const std::string& directory, const std::string& prefix = "") const;

  /// `1 / (1 + exp(-clip(x, -500, 500)))`.
  Array<T> sigmoid(const Array<T>& x) const;
  /// `s * (1 - s)` with `s = sigmoid(x)` (the tutorial defines it; its backward never calls it).
  Array<T> sigmoid_derivative(const Array<T>& x) const;
  /// `max(0, x)`.
  Array<T> relu(const Array<T>& x) const;
  /// `(x > 0)` as 0/1.
  Array<T> relu_derivative(const Array<T>& x) const;

  /// Forward propagation; keeps `layer_inputs` (X, then each z) and `activations` (X, then each
  /// a) and returns the output activations (m, n_out).
  const Array<T>& forward(const Array<T>& X);
  /// The tutorial's backward, as written: uses the activations of the last `forward`, and
  /// updates weights[i] and biases[i] *before* propagating delta through weights[i], from the
  /// output layer down. Throws StateError without a forward on a batch of X's size.
  void backward(const Array<T>& X, const Array<T>& y, T learning_rate = T(0.01));
  /// `epochs` times: forward, the loss `-mean(y log(p + 1e-8) + (1 - y) log(1 - p + 1e-8))`,
  /// backward. Returns the per-epoch losses; prints nothing.
  std::vector<T> train(const Array<T>& X, const Array<T>& y, std::size_t epochs = 1000,
                       T learning_rate = T(0.01));
  /// The same, printing "Epoch <e>, Loss: <loss with 4 decimals>" to `log` every 100 epochs
  /// when `verbose`, exactly as the tutorial prints to stdout.
  std::vector<T> train(const Array<T>& X, const Array<T>& y, std::size_t epochs, T learning_rate, std::ostream& log,
                       bool verbose = true);
  /// `forward(X)`, returned by value.
  Array<T> predict(const Array<T>& X);

  /// The textbook backprop the tutorial intends: runs `forward(X)`, then forms every delta
  /// through the current (not yet updated) weights. dW[i] = a_iᵀ·delta_i / m,
  /// db[i] = Σ_rows delta_i / m, with delta_out = a_out - y. Weights are not changed.
  Gradients<T> gradients(const Array<T>& X, const Array<T>& y);
  /// The gradients `backward(X, y, learning_rate)` applies, computed without changing the
  /// weights: like `gradients`, but each delta is propagated through
  /// `weights[i] - learning_rate * dW[i]`, as the tutorial's in-place update makes it happen.
  Gradients<T> gradients_as_applied(const Array<T>& X, const Array<T>& y, T learning_rate);

  /// Number of weight layers.
  std::size_t num_layers() const noexcept { return weights.size(); }
  /// {n_in, hidden..., n_out}.
  std::vector<std::size_t> layer_sizes() const;

  /// weights[i]: (n_i, n_{i+1}).
  std::vector<Array<T>> weights;
  /// biases[i]: (1, n_{i+1}).
  std::vector<Array<T>> biases;
  /// After forward: X, then z_i = a_i·W_i + b_i for every layer.
  std::vector<Array<T>> layer_inputs;
  /// After forward: X, then relu(z_i) for hidden layers and sigmoid(z) for the output.
  std::vector<Array<T>> activations;

 private:
  void check_batch(const char* method, const Array<T>& X, const Array<T>* y) const;
  Gradients<T> backprop(const Array<T>& X, const Array<T>& y, const T* learning_rate);
};

}  // namespace tapegrad::tutorial
