#pragma once
/// Gradient clipping, as torch.nn.utils: call between `backward()` and the optimizer's `step()`.
///
///     tape.backward(loss);
///     double norm = tapegrad::nn::utils::clip_grad_norm_(model.parameters(), 1.0);   // total 2-norm before clipping
///     optimizer.step();
#include <vector>

#include "tapegrad/tape.hpp"

namespace tapegrad::nn::utils {

/// Scales the gradients of `parameters` together so that their total norm — the norm of all
/// their elements as one vector, of order `norm_type` (any p > 0, or infinity for the largest
/// absolute value) — is at most `max_norm`: each gradient is multiplied by
/// min(1, max_norm / (total + 1e-6)), as PyTorch's `clip_grad_norm_(parameters, max_norm,
/// norm_type=2, error_if_nonfinite=False)`. Returns the total norm before clipping.
/// Parameters that received no gradient since `zero_grad()` (or are frozen) are skipped, as
/// PyTorch skips `grad is None`; with none left the total is 0.
///
/// Throws ValueError for max_norm < 0 or NaN, a norm_type that is not > 0 (or NaN), or, with
/// `error_if_nonfinite`, a total norm that is NaN or infinite (then no gradient is changed;
/// without it a non-finite total scales the gradients by NaN or 0, as in PyTorch).
template <class T>
double clip_grad_norm_(const std::vector<Parameter<T>>& parameters, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

/// Clamps every gradient element of `parameters` into [−clip_value, clip_value]:
/// PyTorch's `clip_grad_value_(parameters, clip_value)`. Parameters without a gradient are
/// skipped. Throws ValueError for clip_value < 0 or NaN.
template <class T>
void clip_grad_value_(const std::vector<Parameter<T>>& parameters, double clip_value);

}  // namespace tapegrad::nn::utils
