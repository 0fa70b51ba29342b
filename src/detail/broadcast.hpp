#pragma once
// Broadcasting for elementwise ops of several inputs (private; used by pointwise.cpp and
// indexing.cpp): an input that does not have the output's shape is expanded once into a buffer
// the op saves, so that forward and backward run one plain loop over equal shapes; a gradient is
// summed back to each input's shape.
#include "tapegrad/kernels.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad::detail {

/// The data of input i laid out in `out`'s shape: the input itself, or its broadcast, written
/// into saved buffer `slot` (kept across steps).
template <class T>
const T* broadcast_input(Op<T>& op, std::size_t i, const Shape& out, std::size_t slot) {
  const Array<T>& v = op.input(i);
  if (same_shape(v.shape(), out)) return v.data();
  Array<T>& s = op.save(slot, out);
  xt::noalias(s) = xt::broadcast(v, out);
  return s.data();
}
/// The same data, in the op's backward.
template <class T>
const T* broadcast_input(const Backward<T>& b, std::size_t i, std::size_t slot) {
  return same_shape(b.input(i).shape(), b.output().shape()) ? b.input(i).data() : b.saved(slot).data();
}

/// Input i's gradient (+)= f(k) for each element k of the output: directly when the input has
/// the output's shape, else through a scratch buffer summed over the broadcast dims.
template <class T, class F>
void accumulate_elementwise(Backward<T>& b, std::size_t i, F&& f) {
  if (!b.needs_grad(i)) return;
  const Shape& out = b.output().shape();
  const std::size_t n = b.output().size();
  if (same_shape(b.input(i).shape(), out)) {
    auto t = b.grad_target(i);
    T* d = t.grad.data();
    if (t.add) {
      for (std::size_t k = 0; k < n; ++k) d[k] += f(k);
    } else {
      for (std::size_t k = 0; k < n; ++k) d[k] = f(k);
    }
    return;
  }
  Array<T>& s = b.scratch(out);
  T* sp = s.data();
  for (std::size_t k = 0; k < n; ++k) sp[k] = f(k);
  auto t = b.grad_target(i);
  kernels::sum_to(s, t.grad, t.add);
}

}  // namespace tapegrad::detail
