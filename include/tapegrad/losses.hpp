#pragma once
/// Losses, a layer above the core ops, with PyTorch's names, arguments and defaults
/// (torch.nn.functional): cross_entropy from logits and class indices (fused with a stable
/// log-softmax; weights, ignore_index, label smoothing), nll_loss, binary_cross_entropy (with
/// logits), mse_loss, l1_loss, smooth_l1_loss, huber_loss, each with a `reduction`; and
/// log_softmax, softmax. Each loss is one op with one backward rule (src/losses.cpp),
/// gradchecked in tests/test_losses.cpp. Defined for float and double. The earlier names
/// softmax_cross_entropy, bce, bce_with_logits and mse forward to these.
///
///     auto logits = model.forward(x);                                  // (N, C)
///     auto loss = tapegrad::cross_entropy(logits, labels);             // labels: N ints in [0, C)
///     tape.backward(loss);
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/arg.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/pointwise.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad {

/// log(softmax(x)) along `axis` (default: the last), computed as x − max − log Σ exp(x − max):
/// finite for any finite x, even 1e4. Same shape as x.
template <class T>
Var<T> log_softmax(const Var<T>& x, int axis = -1);

/// softmax(x) = exp(x − max) / Σ exp(x − max) along `axis` (default: the last). For a loss, use
/// softmax_cross_entropy on the logits instead: it is fused and stable.
template <class T>
Var<T> softmax(const Var<T>& x, int axis = -1);

/// How a loss reduces its per-element values, as PyTorch's `reduction`: "mean" (the default),
/// "sum", or "none" (one value per element, shaped as the target). Any other string is a
/// ValueError naming the loss.
///
/// The options structs below follow PyTorch's keyword arguments, with PyTorch's defaults.

/// Options of cross_entropy (torch.nn.functional.cross_entropy with class-index targets).
struct CrossEntropyOptions {
  /// w_c, one weight per class (empty: all 1), PyTorch's `weight`; finite and >= 0.
  TAPEGRAD_ARG(std::vector<double>, weight);
  /// Targets equal to this value contribute nothing (loss and gradient 0) and are left out of
  /// the mean's denominator; it need not be a class index. PyTorch's default -100.
  TAPEGRAD_ARG(std::int64_t, ignore_index) = -100;
  /// ε in [0, 1]: the target becomes (1 − ε)·onehot(y) + ε/C (Szegedy et al.), as PyTorch.
  TAPEGRAD_ARG(double, label_smoothing) = 0;
  /// "mean", "sum" or "none".
  TAPEGRAD_ARG(std::string, reduction) = "mean";

 public:
  /// The name this option had before `weight` (kept so older code compiles).
  CrossEntropyOptions& class_weights(std::vector<double> w) { return weight(std::move(w)); }
  const std::vector<double>& class_weights() const noexcept { return weight(); }
};

/// Cross-entropy of logits against class indices, exactly as PyTorch's
/// `cross_entropy(input, target, weight, ignore_index=-100, reduction="mean", label_smoothing=0)`:
/// logits (N, C) with targets (N,), or (N, C, d1, ..., dk) with targets (N, d1, ..., dk) (the
/// class axis is axis 1, as in PyTorch), or (C,) with one target. For each position n with
/// target y ≠ ignore_index, with log p = log_softmax over the class axis:
///
///   ℓ_n = (1 − ε)·w_y·(−log p_y) + (ε/C)·Σ_c w_c·(−log p_c)
///
/// and ℓ_n = 0 for ignored positions. "mean" returns Σ_n ℓ_n / Σ_{n not ignored} w_{y_n} (so
/// with no weights, the mean over positions not ignored; when every target is ignored that is
/// 0/0 = NaN, as in PyTorch), "sum" Σ_n ℓ_n, "none" the ℓ_n shaped as the targets.
///
/// One fused op: a stable log-softmax (logits of any finite magnitude), one pass forward, and a
/// backward of (1 − ε)·w_y·(p − onehot(y)) + (ε/C)·(p·Σw − w), scaled by the reduction; nothing
/// else is recorded. Only class-index targets: PyTorch's class-probability targets are not
/// supported.
///
/// Throws ShapeError for logits of rank 0 or with C = 0, or targets whose shape does not match;
/// ValueError for a target that is neither in [0, C) nor ignore_index (naming its position and
/// value), for weights that are not C finite numbers >= 0, ε outside [0, 1], or an unknown
/// reduction.
///
///     auto loss = tapegrad::cross_entropy(logits, labels);                        // (N, C), N labels
///     auto smoothed = tapegrad::cross_entropy(logits, labels, tapegrad::CrossEntropyOptions()
///                                                                 .label_smoothing(0.1)
///                                                                 .ignore_index(0));
template <class T>
Var<T> cross_entropy(const Var<T>& logits, const IndexArray& labels, const CrossEntropyOptions& options = {});
/// Targets as a flat list in row-major order of the target shape (N for (N, C) logits).
template <class T>
Var<T> cross_entropy(const Var<T>& logits, const std::vector<std::int64_t>& labels,
                     const CrossEntropyOptions& options = {});
/// Targets written in braces: `cross_entropy(z, {2, 0, 1})`.
template <class T>
Var<T> cross_entropy(const Var<T>& logits, std::initializer_list<std::int64_t> labels,
                     const CrossEntropyOptions& options = {}) {
  return cross_entropy(logits, std::vector<std::int64_t>(labels), options);
}
/// Targets in an array of T holding integral values (as a data loader yields them), shaped as
/// the targets, or (N, 1) for (N, C) logits. A value that is not an integer is a ValueError.
template <class T>
Var<T> cross_entropy(const Var<T>& logits, const Array<detail::scalar_t<T>>& labels,
                     const CrossEntropyOptions& options = {});

/// The earlier name of cross_entropy (the same function: it forwards to it).
template <class T>
Var<T> softmax_cross_entropy(const Var<T>& logits, const std::vector<std::int64_t>& labels,
                             const CrossEntropyOptions& options = {}) {
  return cross_entropy(logits, labels, options);
}
template <class T>
Var<T> softmax_cross_entropy(const Var<T>& logits, std::initializer_list<std::int64_t> labels,
                             const CrossEntropyOptions& options = {}) {
  return cross_entropy(logits, std::vector<std::int64_t>(labels), options);
}
template <class T>
Var<T> softmax_cross_entropy(const Var<T>& logits, const Array<detail::scalar_t<T>>& labels,
                             const CrossEntropyOptions& options = {}) {
  return cross_entropy(logits, labels, options);
}

/// Options of nll_loss (torch.nn.functional.nll_loss).
struct NLLLossOptions {
  /// w_c, one weight per class (empty: all 1); finite and >= 0.
  TAPEGRAD_ARG(std::vector<double>, weight);
  TAPEGRAD_ARG(std::int64_t, ignore_index) = -100;
  TAPEGRAD_ARG(std::string, reduction) = "mean";
};

/// Negative log-likelihood of log-probabilities (e.g. log_softmax's output) against class
/// indices, as PyTorch's `nll_loss(input, target, weight, ignore_index=-100, reduction="mean")`:
/// ℓ_n = −w_y·input[n, y] for targets y ≠ ignore_index (0 otherwise), reduced as cross_entropy
/// reduces. Shapes, targets and errors as cross_entropy: cross_entropy(z, y) equals
/// nll_loss(log_softmax(z, 1), y).
template <class T>
Var<T> nll_loss(const Var<T>& log_probs, const IndexArray& labels, const NLLLossOptions& options = {});
template <class T>
Var<T> nll_loss(const Var<T>& log_probs, const std::vector<std::int64_t>& labels,
                const NLLLossOptions& options = {});
template <class T>
Var<T> nll_loss(const Var<T>& log_probs, std::initializer_list<std::int64_t> labels,
                const NLLLossOptions& options = {}) {
  return nll_loss(log_probs, std::vector<std::int64_t>(labels), options);
}
template <class T>
Var<T> nll_loss(const Var<T>& log_probs, const Array<detail::scalar_t<T>>& labels,
                const NLLLossOptions& options = {});

/// Class weights and reduction of the binary cross-entropies: w₁ for the positive class (y = 1)
/// and w₀ for the negative one (y = 0). The defaults (1, 1, "mean") give PyTorch's unweighted
/// loss.
struct BCEOptions {
  /// w₁ ≥ 0, the weight of positive targets (PyTorch's `pos_weight`, here one number for every
  /// element rather than a tensor broadcast over the last axis).
  TAPEGRAD_ARG(double, pos_weight) = 1;
  /// w₀ ≥ 0, the weight of negative targets (not in PyTorch).
  TAPEGRAD_ARG(double, neg_weight) = 1;
  /// "mean", "sum" or "none".
  TAPEGRAD_ARG(std::string, reduction) = "mean";
};

/// Binary cross-entropy of probabilities p in [0, 1] against targets y in [0, 1] of the same
/// shape: ℓ_i = −(w₁·y·log p + w₀·(1 − y)·log(1 − p)), each log clamped at −100 as PyTorch
/// does, so p = 0 or 1 gives a finite loss; reduced by the mean over all N elements (default),
/// the sum, or not at all. PyTorch's `binary_cross_entropy(p, y, reduction=...)`.
///
/// Gradient with respect to p: (w₀(1 − y)p − w₁y(1 − p)) / max(p(1 − p), 1e-12) (÷N for the
/// mean), which for w₀ = w₁ = w is PyTorch's w(p − y)/max(p(1 − p), ε). With respect to y (when
/// the targets require a gradient): w₀·log(1 − p) − w₁·log p with the clamped logs, so at
/// p ∈ {0, 1} tapegrad gives ±100·w where PyTorch gives ±inf.
///
/// Throws ShapeError for shapes that differ (no broadcasting), ValueError for an empty input
/// with "mean", p or y outside [0, 1] (or NaN), a weight that is negative or not finite, or an
/// unknown reduction.
template <class T>
Var<T> binary_cross_entropy(const Var<T>& p, const Var<T>& y, const BCEOptions& options = {});

/// Binary cross-entropy of logits z: binary_cross_entropy(sigmoid(z), y) computed as
/// w₁·y·softplus(−z) + w₀·(1 − y)·softplus(z) per element, stable for any z (no clamp is
/// needed), reduced as `options.reduction()` says. PyTorch's
/// `binary_cross_entropy_with_logits(z, y, pos_weight=w₁)`. Gradient with respect to z:
/// w₀(1 − y)σ(z) − w₁y(1 − σ(z)), i.e. σ(z) − y unweighted; with respect to y:
/// w₁·softplus(−z) − w₀·softplus(z), i.e. −z unweighted (÷N for the mean). σ(z) is saved by the
/// forward pass, so backward computes no exponential. Same errors as binary_cross_entropy.
template <class T>
Var<T> binary_cross_entropy_with_logits(const Var<T>& z, const Var<T>& y, const BCEOptions& options = {});

/// The earlier name of binary_cross_entropy (it forwards to it).
template <class T>
Var<T> bce(const Var<T>& p, const Var<T>& y, const BCEOptions& options = {}) {
  return binary_cross_entropy(p, y, options);
}
/// The earlier name of binary_cross_entropy_with_logits (it forwards to it).
template <class T>
Var<T> bce_with_logits(const Var<T>& z, const Var<T>& y, const BCEOptions& options = {}) {
  return binary_cross_entropy_with_logits(z, y, options);
}

// -- regression losses: input and target of the same shape (tapegrad does not broadcast them;
// PyTorch does, with a warning that it is likely a mistake) --------------------------------------

/// Options of mse_loss and l1_loss.
struct MSELossOptions {
  /// "mean", "sum" or "none".
  TAPEGRAD_ARG(std::string, reduction) = "mean";
};
using L1LossOptions = MSELossOptions;

/// Options of smooth_l1_loss.
struct SmoothL1LossOptions {
  TAPEGRAD_ARG(std::string, reduction) = "mean";
  /// β ≥ 0, where the loss turns from quadratic to linear (β = 0 is l1_loss).
  TAPEGRAD_ARG(double, beta) = 1;
};

/// Options of huber_loss.
struct HuberLossOptions {
  TAPEGRAD_ARG(std::string, reduction) = "mean";
  /// δ > 0, where the loss turns from quadratic to linear.
  TAPEGRAD_ARG(double, delta) = 1;
};

/// Squared error (x − y)² per element, reduced: PyTorch's `mse_loss(input, target, reduction)`.
/// Throws ShapeError for shapes that differ, ValueError for an empty input with "mean" or an
/// unknown reduction.
template <class T>
Var<T> mse_loss(const Var<T>& input, const Var<T>& target, const MSELossOptions& options = {});
/// Absolute error |x − y| per element (gradient sign(x − y), 0 at 0), reduced:
/// PyTorch's `l1_loss(input, target, reduction)`. Errors as mse_loss.
template <class T>
Var<T> l1_loss(const Var<T>& input, const Var<T>& target, const L1LossOptions& options = {});
/// With d = x − y: 0.5·d²/β where |d| < β, else |d| − 0.5·β; reduced. PyTorch's
/// `smooth_l1_loss(input, target, reduction, beta=1)`. Throws ValueError for β < 0 (or NaN),
/// otherwise errors as mse_loss.
template <class T>
Var<T> smooth_l1_loss(const Var<T>& input, const Var<T>& target, const SmoothL1LossOptions& options = {});
/// With d = x − y: 0.5·d² where |d| < δ, else δ·(|d| − 0.5·δ); reduced. PyTorch's
/// `huber_loss(input, target, reduction, delta=1)` (= δ·smooth_l1_loss with β = δ). Throws
/// ValueError for δ ≤ 0 (or NaN), otherwise errors as mse_loss.
template <class T>
Var<T> huber_loss(const Var<T>& input, const Var<T>& target, const HuberLossOptions& options = {});

/// The earlier name of mse_loss with the mean (it forwards to it).
template <class T>
Var<T> mse(const Var<T>& a, const Var<T>& b) {
  return mse_loss(a, b);
}

}  // namespace tapegrad
