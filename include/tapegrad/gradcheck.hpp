#pragma once
/// Numerical gradient check: compares a function's backward with central differences, in
/// float64. Every built-in op is tested with it; use it for your own ops too.
///
///     auto r = tapegrad::gradcheck(
///         [](const std::vector<tapegrad::Var<double>>& v) { return tapegrad::mul(v[0], v[0]); },
///         {xt::xarray<double>{{1.0, -2.0}}});
///     if (!r.ok) std::cerr << r.report();   // max errors per input
#include <functional>
#include <string>
#include <vector>

#include "tapegrad/arg.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad {

struct GradcheckOptions {
  /// The central-difference step.
  TAPEGRAD_ARG(double, eps) = 1e-6;
  /// An element passes if |analytic − numeric| ≤ atol + rtol·|numeric|.
  TAPEGRAD_ARG(double, atol) = 1e-6;
  TAPEGRAD_ARG(double, rtol) = 1e-4;
  /// Which inputs to differentiate (default: all). The others are passed as constants.
  TAPEGRAD_ARG(std::vector<bool>, requires_grad);
  /// The seed of the random projection that reduces a non-scalar output.
  TAPEGRAD_ARG(unsigned, seed) = 0;
};

struct GradcheckResult {
  struct Input {
    double max_abs_error = 0;  ///< max |analytic - numeric| over the input's elements
    double max_rel_error = 0;  ///< max |analytic - numeric| / max(|numeric|, 1e-12)
    bool ok = true;
  };
  std::vector<Input> inputs;  ///< one per input (zeros for inputs not checked)
  bool ok = true;
  /// One line per input: "input 0: max abs 1.2e-10, max rel 3.4e-9, ok".
  std::string report() const;
};

/// A function of several values, as gradcheck calls it: the values are bound to a tape.
using GradcheckFn = std::function<Var<double>(const std::vector<Var<double>>&)>;

/// Checks the gradient of `f` at `inputs`. A non-scalar output y is reduced to sum(y·r) with a
/// fixed random r (backward seeded with r), so every output element is checked.
GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Array<double>>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace tapegrad
