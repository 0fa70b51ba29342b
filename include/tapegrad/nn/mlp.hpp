#pragma once
/// A multi-layer perceptron from a list of layer sizes: Linear layers with ReLU between them
/// and no activation after the last (it returns logits; apply sigmoid/softmax or use a loss on
/// logits). Parameters are named layers.0.weight, layers.0.bias, layers.1.weight, ...
///
///     tapegrad::Rng rng(42);
///     tapegrad::nn::MLP<float> model({2, 4, 1}, rng);          // the tutorial's XOR network
///     auto p = tapegrad::sigmoid(model.forward(x));
#include <cstddef>
#include <memory>
#include <vector>

#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/sequential.hpp"

namespace tapegrad::nn {

template <class T>
class MLP : public Module<T> {
 public:
  /// `sizes` = {inputs, hidden..., outputs}; at least two entries, all positive.
  MLP(const std::vector<std::size_t>& sizes, Rng& rng);
  Var<T> forward(const Var<T>& x);

  /// Layer i (0-based), a Linear.
  Linear<T>& layer(std::size_t i) { return *layers_.at(i); }
  std::size_t num_layers() const noexcept { return layers_.size(); }
  const std::vector<std::size_t>& sizes() const noexcept { return sizes_; }

 private:
  std::vector<std::size_t> sizes_;
  std::vector<std::shared_ptr<Linear<T>>> layers_;
};

}  // namespace tapegrad::nn
