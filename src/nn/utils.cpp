// Gradient clipping (torch.nn.utils.clip_grad_norm_, clip_grad_value_).
#include "tapegrad/nn/utils.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "instantiate.hpp"

namespace tapegrad::nn::utils {

template <class T>
double clip_grad_norm_(const std::vector<Parameter<T>>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  TG_CHECK(ValueError, max_norm >= 0, "clip_grad_norm_: max_norm must be >= 0, got ", max_norm);
  TG_CHECK(ValueError, norm_type > 0, "clip_grad_norm_: norm_type must be > 0 (or infinity), got ", norm_type);
  const bool inf = std::isinf(norm_type);
  // In double: a float sum of squares of many gradients loses digits (PyTorch sums in the
  // gradients' type; for float the two agree to float precision).
  double total = 0;
  for (const auto& p : parameters) {
    if (!p.requires_grad() || !p.has_grad()) continue;
    for (const T g : p.grad()) {
      const double a = std::abs(double(g));
      if (inf) {
        total = std::isnan(a) || std::isnan(total) ? std::numeric_limits<double>::quiet_NaN() : std::max(total, a);
      } else {
        total += norm_type == 2 ? a * a : std::pow(a, norm_type);
      }
    }
  }
  if (!inf) total = norm_type == 2 ? std::sqrt(total) : std::pow(total, 1.0 / norm_type);
  TG_CHECK(ValueError, !error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total norm of order ",
           norm_type, " of the gradients is ", total, ", so they cannot be clipped (error_if_nonfinite is set)");
  const double raw = max_norm / (total + 1e-6);
  const double coef = std::isnan(raw) ? raw : std::min(1.0, raw);  // a NaN norm makes NaN gradients, as PyTorch
  if (coef < 1.0 || std::isnan(coef)) {
    const T c = T(coef);
    for (auto p : parameters) {
      if (!p.requires_grad() || !p.has_grad()) continue;
      for (T& g : p.mutable_grad()) g *= c;
    }
  }
  return total;
}

template <class T>
void clip_grad_value_(const std::vector<Parameter<T>>& parameters, double clip_value) {
  TG_CHECK(ValueError, clip_value >= 0, "clip_grad_value_: clip_value must be >= 0, got ", clip_value);
  const T hi = T(clip_value), lo = -hi;
  for (auto p : parameters) {
    if (!p.requires_grad() || !p.has_grad()) continue;
    for (T& g : p.mutable_grad()) g = std::clamp(g, lo, hi);
  }
}

#define TAPEGRAD_SECTION(T)                                                                \
  template double clip_grad_norm_(const std::vector<Parameter<T>>&, double, double, bool); \
  template void clip_grad_value_(const std::vector<Parameter<T>>&, double);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad::nn::utils
