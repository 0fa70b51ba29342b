#pragma once
/// Activation functions as modules, for use in Sequential.
#include "tapegrad/nn/module.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/pointwise.hpp"

namespace tapegrad::nn {

template <class T>
class ReLU : public Module<T> {
 public:
  Var<T> forward(const Var<T>& x) { return relu(x); }
};

template <class T>
class Sigmoid : public Module<T> {
 public:
  Var<T> forward(const Var<T>& x) { return sigmoid(x); }
};

template <class T>
class Tanh : public Module<T> {
 public:
  Var<T> forward(const Var<T>& x) { return tapegrad::tanh(x); }
};

}  // namespace tapegrad::nn
