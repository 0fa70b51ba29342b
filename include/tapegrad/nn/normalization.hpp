#pragma once
/// Layer normalisation as a module: torch.nn.LayerNorm.
///
///     tapegrad::nn::LayerNorm<float> norm(tapegrad::nn::LayerNormOptions(64));   // over the last axis
///     auto y = norm.forward(x);                                                  // x (N, 64)
#include <cstddef>
#include <vector>

#include "tapegrad/arg.hpp"
#include "tapegrad/nn/module.hpp"

namespace tapegrad::nn {

/// Options of LayerNorm, as libtorch's: `LayerNormOptions({3, 4}).eps(1e-6).elementwise_affine(false)`.
struct LayerNormOptions {
  /// Normalise over the last axis, of this size.
  LayerNormOptions(std::size_t normalized_size) : normalized_shape_{normalized_size} {}
  /// Normalise over the last normalized_shape.size() axes, of these sizes.
  LayerNormOptions(std::vector<std::size_t> normalized_shape) : normalized_shape_(std::move(normalized_shape)) {}
  TAPEGRAD_ARG(std::vector<std::size_t>, normalized_shape);
  /// Added to the variance.
  TAPEGRAD_ARG(double, eps) = 1e-5;
  /// Learn `weight` (ones) and, with `bias`, `bias` (zeros), shaped normalized_shape.
  TAPEGRAD_ARG(bool, elementwise_affine) = true;
  /// Whether the affine part has a bias (PyTorch ≥ 2.1's `bias`).
  TAPEGRAD_ARG(bool, bias) = true;
};

/// `forward(x)` is `tapegrad::layer_norm(x, normalized_shape, weight, bias, eps)`. Parameters
/// `weight` (ones) and `bias` (zeros), shaped normalized_shape, when elementwise_affine. The
/// constructor throws ValueError for an empty normalized_shape or a size of 0.
template <class T>
class LayerNorm : public Module<T> {
 public:
  explicit LayerNorm(const LayerNormOptions& options);
  Var<T> forward(const Var<T>& x);

  /// Throw ValueError when the module has no such parameter.
  Parameter<T>& weight() { return this->param("weight"); }
  Parameter<T>& bias() { return this->param("bias"); }
  const LayerNormOptions& options() const noexcept { return options_; }

 private:
  LayerNormOptions options_;
  Shape shape_;
  bool has_weight_ = false, has_bias_ = false;
};

}  // namespace tapegrad::nn
