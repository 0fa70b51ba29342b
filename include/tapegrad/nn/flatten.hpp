#pragma once
/// torch.nn.Flatten: flattens axes start_dim..end_dim of its input into one.
///
///     tapegrad::nn::Flatten<float> flat;          // (N, C, H, W) -> (N, C·H·W)
///
/// Its forward calls `tapegrad::flatten(x, start_dim, end_dim)` (torch.flatten), declared in
/// <tapegrad/shape_ops.hpp>: include that header before using the module. The module is a
/// template defined here alone; it is instantiated by the code that uses it.
#include <cstdint>

#include "tapegrad/arg.hpp"
#include "tapegrad/nn/module.hpp"

namespace tapegrad::nn {

/// Options of Flatten, as libtorch's: `FlattenOptions().start_dim(0)`.
struct FlattenOptions {
  /// The first axis to flatten (negative counts from the end). PyTorch's default 1 keeps the batch.
  TAPEGRAD_ARG(std::int64_t, start_dim) = 1;
  /// The last axis to flatten (inclusive; negative counts from the end).
  TAPEGRAD_ARG(std::int64_t, end_dim) = -1;
};

/// No parameters. `forward(x)` = flatten(x, start_dim, end_dim).
template <class T>
class Flatten : public Module<T> {
 public:
  explicit Flatten(const FlattenOptions& options = {}) : options_(options) {}
  // An unqualified call with a dependent argument: found by argument-dependent lookup (in
  // namespace tapegrad) where the module is used.
  Var<T> forward(const Var<T>& x) { return flatten(x, options_.start_dim(), options_.end_dim()); }
  const FlattenOptions& options() const noexcept { return options_; }

 private:
  FlattenOptions options_;
};

}  // namespace tapegrad::nn
