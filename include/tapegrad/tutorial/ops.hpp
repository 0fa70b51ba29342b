#pragma once
/// The two pieces of the tutorial's forward pass that tapegrad's ops do not have, so that
/// autograd can differentiate the tutorial's loss exactly as the tutorial writes it:
///
///     auto p = tapegrad::sigmoid(tapegrad::tutorial::clip(z, -500.0, 500.0));  // its sigmoid
///     auto loss = tapegrad::tutorial::tutorial_bce(p, y);                     // its loss
///
/// `clip` is a user-style op written with the public Op/Backward API (see src/ops_tutorial.cpp).
#include "tapegrad/ops.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/pointwise.hpp"

namespace tapegrad::tutorial {

/// `np.clip(x, low, high)`; its gradient is 1 where low <= x <= high and 0 outside (as
/// torch.clamp). Throws ValueError if low > high.
template <class T>
Var<T> clip(const Var<T>& x, tapegrad::detail::scalar_t<T> low, tapegrad::detail::scalar_t<T> high);

/// The tutorial's loss, as written: `-mean(y·log(p + 1e-8) + (1 - y)·log(1 - p + 1e-8))` over
/// all m·k elements, composed from tapegrad ops (so autograd differentiates the 1e-8 too).
/// p and y must have the same shape.
template <class T>
Var<T> tutorial_bce(const Var<T>& p, const Var<T>& y);

}  // namespace tapegrad::tutorial
