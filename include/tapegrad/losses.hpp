#pragma once
/// Losses, a layer above the core ops: softmax cross-entropy from logits and integer class
/// labels (fused with a stable log-softmax), log_softmax and softmax, binary cross-entropy
/// (optionally class-weighted) and mean squared error. Each is one op with one backward rule
/// (src/losses.cpp), gradchecked in tests/test_losses.cpp. Defined for float and double.
///
///     auto logits = model.forward(x);                                  // (N, C)
///     auto loss = tapegrad::softmax_cross_entropy(logits, labels);     // labels: N ints in [0, C)
///     tape.backward(loss);
#include <cstdint>
#include <initializer_list>
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

/// Options of softmax_cross_entropy.
struct CrossEntropyOptions {
  /// One weight w_c ≥ 0 per class (empty: all 1), as PyTorch's `weight`: the loss becomes the
  /// weighted mean Σ_n w_{y_n} ℓ_n / Σ_n w_{y_n}.
  TAPEGRAD_ARG(std::vector<double>, class_weights);
};

/// Softmax cross-entropy of logits (N, C) against class indices y_n in [0, C):
/// mean_n ℓ_n with ℓ_n = −log softmax(z_n)[y_n] = logsumexp(z_n) − z_n[y_n], the mean weighted
/// as CrossEntropyOptions says. Fused: one pass forward, and a backward of
/// (softmax(z_n) − onehot(y_n)) · w_{y_n} / Σ w, with no log/exp chain on the tape; stable for
/// logits of any finite magnitude. PyTorch's `cross_entropy(logits, labels)`.
///
/// Throws ShapeError unless logits are 2-D with N ≥ 1 rows and C ≥ 1 columns and there are N
/// labels; ValueError for a label outside [0, C) (naming its position and value), for class
/// weights that are not C non-negative finite numbers, or when the labels' weights sum to 0.
template <class T>
Var<T> softmax_cross_entropy(const Var<T>& logits, const std::vector<std::int64_t>& labels,
                             const CrossEntropyOptions& options = {});
/// The same with labels written in braces: `softmax_cross_entropy(z, {2, 0, 1})`.
template <class T>
Var<T> softmax_cross_entropy(const Var<T>& logits, std::initializer_list<std::int64_t> labels,
                             const CrossEntropyOptions& options = {}) {
  return softmax_cross_entropy(logits, std::vector<std::int64_t>(labels), options);
}
/// The same with labels in an array of shape (N,) or (N, 1) holding integral values (as a data
/// loader yields them); throws ValueError for a value that is not an integer in [0, C).
template <class T>
Var<T> softmax_cross_entropy(const Var<T>& logits, const Array<detail::scalar_t<T>>& labels,
                             const CrossEntropyOptions& options = {});

/// Class weights of the binary cross-entropies: w₁ for the positive class (y = 1) and w₀ for
/// the negative one (y = 0). The defaults (1, 1) give PyTorch's unweighted loss.
struct BCEOptions {
  /// w₁ ≥ 0, the weight of positive targets (PyTorch's `pos_weight`).
  TAPEGRAD_ARG(double, pos_weight) = 1;
  /// w₀ ≥ 0, the weight of negative targets (not in PyTorch).
  TAPEGRAD_ARG(double, neg_weight) = 1;
};

/// Binary cross-entropy of probabilities p in [0, 1] against targets y in [0, 1] of the same
/// shape: −mean(w₁·y·log p + w₀·(1 − y)·log(1 − p)), the mean over all N elements, each log
/// clamped at −100 as PyTorch does, so p = 0 or 1 gives a finite loss. PyTorch's
/// `binary_cross_entropy(p, y)`.
///
/// Gradient with respect to p: (w₀(1 − y)p − w₁y(1 − p)) / max(p(1 − p), 1e-12) / N, which for
/// w₀ = w₁ = w is PyTorch's w(p − y)/max(p(1 − p), ε)/N. With respect to y (when the targets
/// require a gradient): (w₀·log(1 − p) − w₁·log p)/N with the clamped logs, so at p ∈ {0, 1}
/// tapegrad gives ±100·w/N where PyTorch gives ±inf.
///
/// Throws ShapeError for shapes that differ (no broadcasting), ValueError for an empty input,
/// p or y outside [0, 1] (or NaN), or a weight that is negative or not finite.
template <class T>
Var<T> bce(const Var<T>& p, const Var<T>& y, const BCEOptions& options = {});

/// Binary cross-entropy of logits z: bce(sigmoid(z), y) computed as
/// mean(w₁·y·softplus(−z) + w₀·(1 − y)·softplus(z)), stable for any z (no clamp is needed).
/// PyTorch's `binary_cross_entropy_with_logits(z, y)` (with `pos_weight` = w₁). Gradient with
/// respect to z: (w₀(1 − y)σ(z) − w₁y(1 − σ(z)))/N, i.e. (σ(z) − y)/N unweighted; with respect
/// to y: (w₁·softplus(−z) − w₀·softplus(z))/N, i.e. −z/N unweighted. σ(z) is saved by the
/// forward pass, so backward computes no exponential. Same errors as `bce`.
template <class T>
Var<T> bce_with_logits(const Var<T>& z, const Var<T>& y, const BCEOptions& options = {});

/// Mean squared error: mean((a − b)²), same shapes.
template <class T>
Var<T> mse(const Var<T>& a, const Var<T>& b);

}  // namespace tapegrad
