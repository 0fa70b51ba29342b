#pragma once
/// Elementwise functions and activations, each an op with its own backward rule
/// (src/pointwise.cpp), gradchecked in tests/test_ops.cpp. Same shape in and out.
///
///     auto h = tapegrad::relu(tapegrad::linear(x, W, b));
#include "tapegrad/tape.hpp"

namespace tapegrad {

template <class T>
Var<T> relu(const Var<T>& x);
/// 1 / (1 + exp(-x)), finite for every finite x.
template <class T>
Var<T> sigmoid(const Var<T>& x);
template <class T>
Var<T> tanh(const Var<T>& x);
template <class T>
Var<T> exp(const Var<T>& x);
template <class T>
Var<T> log(const Var<T>& x);

}  // namespace tapegrad
