// Regularization ops: L2 and L1 penalties, dropout with a drawn or a given mask.
#include "tapegrad/regularization.hpp"

#include <cmath>

namespace tapegrad {

template <class T>
Var<T> l2_penalty(const Var<T>& x) {
  Op<T> op("l2_penalty", {x});
  const Array<T>& xv = x.value();
  double total = 0;  // in double: many float squares lose digits
  for (std::size_t i = 0; i < xv.size(); ++i) total += double(xv.data()[i]) * double(xv.data()[i]);
  Array<T>& y = op.output(Shape{});
  y() = T(total);
  return op.finish([](Backward<T>& b) {  // d/dx Σx² = 2x
    if (!b.needs_grad(0)) return;
    const T scale = T(2) * b.grad_out()();
    const T* x = b.input(0).data();
    auto t = b.grad_target(0);
    T* d = t.grad.data();
    for (std::size_t i = 0, n = t.grad.size(); i < n; ++i) d[i] = (t.add ? d[i] : T(0)) + scale * x[i];
  });
}

template <class T>
Var<T> l1_penalty(const Var<T>& x) {
  Op<T> op("l1_penalty", {x});
  const Array<T>& xv = x.value();
  double total = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) total += std::abs(double(xv.data()[i]));
  Array<T>& y = op.output(Shape{});
  y() = T(total);
  return op.finish([](Backward<T>& b) {  // d/dx Σ|x| = sign(x), with the subgradient 0 at 0
    if (!b.needs_grad(0)) return;
    const T g = b.grad_out()();
    const T* x = b.input(0).data();
    auto t = b.grad_target(0);
    T* d = t.grad.data();
    for (std::size_t i = 0, n = t.grad.size(); i < n; ++i) {
      const T sign = x[i] > T(0) ? T(1) : (x[i] < T(0) ? T(-1) : T(0));
      d[i] = (t.add ? d[i] : T(0)) + g * sign;
    }
  });
}

namespace {
template <class T>
Var<T> sum_over(Tape<T>& tape, const std::vector<Parameter<T>>& params, Var<T> (*penalty)(const Var<T>&)) {
  if (params.empty()) return tape.constant(Array<T>(T(0)));
  Var<T> total = penalty(tape.bind(params[0]));
  for (std::size_t i = 1; i < params.size(); ++i) total = add(total, penalty(tape.bind(params[i])));
  return total;
}

void check_p(double p) {
  TG_CHECK(ValueError, p >= 0 && p <= 1, "dropout: the drop probability p must be in [0, 1], got ", p);
}

// y = x · mask, with the mask already in saved(0); backward multiplies by the same mask.
template <class T>
Var<T> apply_mask(Op<T>& op) {
  const Array<T>& x = op.input(0);
  const Array<T>& mask = op.save(0, x.shape());  // the buffer the caller filled
  Array<T>& y = op.output(x.shape());
  const T* xp = x.data();
  for (std::size_t i = 0, n = y.size(); i < n; ++i) y.data()[i] = xp[i] * mask.data()[i];
  return op.finish([](Backward<T>& b) { b.accumulate(0, b.grad_out() * b.saved(0)); });
}

template <class T>
Var<T> masked(const char* name, const Var<T>& x, const Array<T>& mask) {
  Op<T> op(name, {x});
  TG_CHECK(ShapeError, mask.shape() == x.shape(), name, ": mask ", to_string(mask.shape()), " and input ",
           to_string(x.shape()), " differ");
  Array<T>& saved = op.save(0, mask.shape());
  std::copy(mask.data(), mask.data() + mask.size(), saved.data());
  return apply_mask(op);
}
}  // namespace

template <class T>
Var<T> l2_penalty(Tape<T>& tape, const std::vector<Parameter<T>>& params) {
  return sum_over<T>(tape, params, l2_penalty<T>);
}

template <class T>
Var<T> l1_penalty(Tape<T>& tape, const std::vector<Parameter<T>>& params) {
  return sum_over<T>(tape, params, l1_penalty<T>);
}

template <class T>
Array<T> dropout_mask(const Shape& shape, double p, Rng& rng) {
  check_p(p);
  checked_numel("dropout_mask", shape);
  Array<T> mask(shape);
  const T keep = p < 1 ? T(1 / (1 - p)) : T(0);
  for (auto& m : mask) m = rng.uniform01() < p ? T(0) : keep;
  return mask;
}

template <class T>
Var<T> dropout(const Var<T>& x, double p, Rng& rng) {
  check_p(p);
  if (p == 0) return x;
  Op<T> op("dropout", {x});
  // The mask is drawn straight into the entry's saved buffer (kept from step to step): the
  // same draws as dropout_mask, without an array per step.
  Array<T>& mask = op.save(0, op.input(0).shape());
  const T keep = p < 1 ? T(1 / (1 - p)) : T(0);
  for (auto& m : mask) m = rng.uniform01() < p ? T(0) : keep;
  return apply_mask(op);
}

template <class T>
Var<T> dropout_with_mask(const Var<T>& x, const Array<detail::scalar_t<T>>& mask) {
  return masked("dropout_with_mask", x, mask);
}

#define TAPEGRAD_INSTANTIATE(T)                                                          \
  template Var<T> l2_penalty(const Var<T>&);                                            \
  template Var<T> l2_penalty(Tape<T>&, const std::vector<Parameter<T>>&);               \
  template Var<T> l1_penalty(const Var<T>&);                                            \
  template Var<T> l1_penalty(Tape<T>&, const std::vector<Parameter<T>>&);               \
  template Array<T> dropout_mask(const Shape&, double, Rng&);                           \
  template Var<T> dropout(const Var<T>&, double, Rng&);                                 \
  template Var<T> dropout_with_mask(const Var<T>&, const Array<detail::scalar_t<T>>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad
