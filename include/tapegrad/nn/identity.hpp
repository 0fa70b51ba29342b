#pragma once
/// torch.nn.Identity: returns its input. A placeholder where a model has an optional layer
/// (e.g. a projection on a residual path that is only needed when widths differ).
#include "tapegrad/nn/module.hpp"

namespace tapegrad::nn {

/// `forward(x)` returns x itself (the same handle: nothing is recorded). No parameters.
template <class T>
class Identity : public Module<T> {
 public:
  Var<T> forward(const Var<T>& x) { return x; }
};

}  // namespace tapegrad::nn
