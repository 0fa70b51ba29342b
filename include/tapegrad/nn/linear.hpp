#pragma once
/// A fully-connected layer: y = x·W + b, with W of shape (in, out) as in the tutorial.
///
///     tapegrad::Rng rng(0);
///     tapegrad::nn::Linear<float> fc(tapegrad::nn::LinearOptions(784, 128).bias(false), rng);
///     auto y = fc.forward(x);   // x (batch, 784) -> y (batch, 128)
#include <cstddef>

#include "tapegrad/arg.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/random.hpp"

namespace tapegrad::nn {

struct LinearOptions {
  LinearOptions(std::size_t in_features, std::size_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  TAPEGRAD_ARG(std::size_t, in_features);
  TAPEGRAD_ARG(std::size_t, out_features);
  /// Whether the layer has a bias.
  TAPEGRAD_ARG(bool, bias) = true;
};

/// Weights are He-normal (`randn · sqrt(2 / in)`), the bias zeros (shape (1, out)). The
/// constructor throws ValueError for 0 features or for in · out > kMaxNumel (checked_numel).
template <class T>
class Linear : public Module<T> {
 public:
  Linear(const LinearOptions& options, Rng& rng);
  Var<T> forward(const Var<T>& x);

  Parameter<T>& weight() { return this->param_at(weight_); }
  /// Throws ValueError for a layer without bias.
  Parameter<T>& bias() { return options_.bias() ? this->param_at(bias_) : this->param("bias"); }
  const LinearOptions& options() const noexcept { return options_; }

 private:
  LinearOptions options_;
  // Positions in the registry, found at registration: forward() runs every step, and a lookup
  // by name there cost more than the bias add. The registry stays the one owner of the handles.
  std::size_t weight_ = 0, bias_ = 0;
};

}  // namespace tapegrad::nn
