#pragma once
/// Normalisation ops with PyTorch's names and arguments (torch.nn.functional.layer_norm,
/// batch_norm). Each is one fused op with one backward rule (src/normalization.cpp),
/// gradchecked in tests/test_normalization.cpp. Defined for float and double.
///
///     tapegrad::Parameter<float> gamma(tapegrad::Array<float>(xt::ones<float>({2}))), beta(tapegrad::Array<float>(xt::zeros<float>({2})));
///     tapegrad::Parameter<float> running_mean(tapegrad::Array<float>(xt::zeros<float>({2}))), running_var(tapegrad::Array<float>(xt::ones<float>({2})));
///     auto h = tapegrad::layer_norm(x, {2}, tape.bind(gamma), tape.bind(beta));   // x (4, 2)
///     auto y = tapegrad::batch_norm(x, running_mean, running_var, tape.bind(gamma), tape.bind(beta), true);
///
/// An optional argument left out (`Var<T>()`, `Parameter<T>()`, or `{}`) is PyTorch's None.
#include "tapegrad/array.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad {

/// Layer normalisation over the last dimensions of `x`, those of `normalized_shape`: each slice
/// x_m of that shape becomes (x_m − mean)/sqrt(var + eps)·weight + bias, with the biased
/// variance (as PyTorch). `weight` and `bias` are optional and shaped `normalized_shape`.
/// PyTorch's `layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5)`.
///
/// One op: forward saves the mean and 1/sqrt(var + eps) of each slice; backward is
/// dx = rstd·(dy − mean(dy) − x̂·mean(dy·x̂)) with dy = g·weight, and dweight = Σ g·x̂,
/// dbias = Σ g over the slices.
///
/// Throws ShapeError when `normalized_shape` is empty, is not the end of x's shape, or weight or
/// bias is not shaped `normalized_shape`; ValueError for eps < 0 (or NaN).
template <class T>
Var<T> layer_norm(const Var<T>& x, const Shape& normalized_shape, const Var<T>& weight = Var<T>(),
                  const Var<T>& bias = Var<T>(), double eps = 1e-5);

/// Batch normalisation over the channels of x (N, C, d1, ...): statistics per channel c over
/// the N·d1·… values of that channel. PyTorch's `batch_norm(input, running_mean, running_var,
/// weight=None, bias=None, training=False, momentum=0.1, eps=1e-5)`.
///
/// - training: normalises with the batch's mean and biased variance, and, when the running
///   statistics are given, updates them in place (written through `mutable_value()`, even under
///   NoGradGuard, as PyTorch does): running_mean ← (1 − momentum)·running_mean + momentum·mean,
///   running_var ← (1 − momentum)·running_var + momentum·var·n/(n − 1), the unbiased variance
///   for the running estimate (n values per channel).
/// - evaluation: normalises with running_mean and running_var, which must be given.
///
/// y = (x − mean)/sqrt(var + eps)·weight + bias, weight and bias optional, shaped (C,) as the
/// running statistics. One op: forward saves the mean and 1/sqrt(var + eps) per channel; the
/// backward in training is dx = rstd·(dy − mean(dy) − x̂·mean(dy·x̂)) over the channel's values,
/// in evaluation dx = rstd·dy (the statistics are constants).
///
/// Throws ShapeError for x of rank < 2, or a statistic, weight or bias not shaped (C,);
/// ValueError in training for channels of a single value (PyTorch's "expected more than 1 value
/// per channel"), in evaluation without running statistics, and for eps < 0 or momentum
/// outside [0, 1]. Nothing is updated when it throws.
template <class T>
Var<T> batch_norm(const Var<T>& x, Parameter<T> running_mean, Parameter<T> running_var,
                  const Var<T>& weight = Var<T>(), const Var<T>& bias = Var<T>(), bool training = false,
                  double momentum = 0.1, double eps = 1e-5);

}  // namespace tapegrad
