#pragma once
/// Batch normalisation as a module: torch.nn.BatchNorm1d, with running statistics as buffers.
///
///     tapegrad::nn::BatchNorm1d<float> bn(16);   // x (N, 16) or (N, 16, L)
///     auto y = bn.forward(x);                    // training: batch statistics, running ones updated
///     bn.eval();                                 // evaluation: the running statistics
#include <cstddef>
#include <optional>

#include "tapegrad/arg.hpp"
#include "tapegrad/nn/module.hpp"

namespace tapegrad::nn {

/// Options of the batch norms, as libtorch's BatchNormOptions.
struct BatchNormOptions {
  explicit BatchNormOptions(std::size_t num_features) : num_features_(num_features) {}
  /// C, the number of channels (features).
  TAPEGRAD_ARG(std::size_t, num_features);
  /// Added to the variance.
  TAPEGRAD_ARG(double, eps) = 1e-5;
  /// The weight of the batch in the running statistics; none (std::nullopt) for the cumulative
  /// average 1/num_batches_tracked, as PyTorch's momentum=None.
  TAPEGRAD_ARG(std::optional<double>, momentum) = 0.1;
  /// Learn `weight` (ones) and `bias` (zeros), shaped (C,).
  TAPEGRAD_ARG(bool, affine) = true;
  /// Keep running statistics (buffers `running_mean`, `running_var`, `num_batches_tracked`);
  /// without them the batch statistics are used in evaluation too.
  TAPEGRAD_ARG(bool, track_running_stats) = true;
};
using BatchNorm1dOptions = BatchNormOptions;

/// torch.nn.BatchNorm1d over input (N, C) or (N, C, L). Parameters `weight` (C,) = 1 and
/// `bias` (C,) = 0 (with affine); buffers `running_mean` (C,) = 0, `running_var` (C,) = 1 and
/// `num_batches_tracked` () = 0 (with track_running_stats), saved and loaded by checkpoints
/// under those names, as in a PyTorch state_dict.
///
/// `forward(x)` in training mode normalises with the batch's statistics and updates the
/// running ones (see tapegrad::batch_norm) and adds 1 to num_batches_tracked; in evaluation
/// mode it uses the running statistics. num_batches_tracked is a T (PyTorch: int64), exact up
/// to 2^24 batches in float and 2^53 in double. A call that throws (e.g. a batch of one in
/// training) changes no buffer.
///
/// The constructor throws ValueError for 0 features or a momentum outside [0, 1].
template <class T>
class BatchNorm1d : public Module<T> {
 public:
  explicit BatchNorm1d(const BatchNormOptions& options);
  explicit BatchNorm1d(std::size_t num_features) : BatchNorm1d(BatchNormOptions(num_features)) {}
  /// Throws ShapeError unless x is (N, C) or (N, C, L) with C = num_features.
  Var<T> forward(const Var<T>& x);

  /// Throw ValueError when the module has no such parameter or buffer.
  Parameter<T>& weight() { return this->param("weight"); }
  Parameter<T>& bias() { return this->param("bias"); }
  Parameter<T>& running_mean() { return this->buffer("running_mean"); }
  Parameter<T>& running_var() { return this->buffer("running_var"); }
  Parameter<T>& num_batches_tracked() { return this->buffer("num_batches_tracked"); }
  const BatchNormOptions& options() const noexcept { return options_; }

 private:
  BatchNormOptions options_;
};

}  // namespace tapegrad::nn
