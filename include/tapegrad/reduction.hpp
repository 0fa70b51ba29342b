#pragma once
/// Reductions, each an op with its own backward rule (src/reduction.cpp), gradchecked in
/// tests/test_ops.cpp. A reduction over everything returns a 0-d value.
///
///     auto loss = tapegrad::mean(tapegrad::mul(err, err));
#include "tapegrad/tape.hpp"

namespace tapegrad {

/// Sum of all elements: a 0-d value.
template <class T>
Var<T> sum(const Var<T>& x);
/// Sum along `axis` (negative counts from the end); `keepdims` keeps it with extent 1.
template <class T>
Var<T> sum(const Var<T>& x, int axis, bool keepdims = false);
/// Mean of all elements: a 0-d value. Throws ValueError for an empty value.
template <class T>
Var<T> mean(const Var<T>& x);
template <class T>
Var<T> mean(const Var<T>& x, int axis, bool keepdims = false);

}  // namespace tapegrad
