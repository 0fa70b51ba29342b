// The tutorial's clip and loss as tapegrad ops: one op with its backward rule, one composition.
#include "tapegrad/tutorial/ops.hpp"

namespace tapegrad::tutorial {

template <class T>
Var<T> clip(const Var<T>& x, tapegrad::detail::scalar_t<T> low, tapegrad::detail::scalar_t<T> high) {
  TG_CHECK(ValueError, low <= high, "clip: empty range [", low, ", ", high, "]");
  Op<T> op("clip", {x});
  Array<T>& y = op.output(x.shape());
  xt::noalias(y) = xt::clip(x.value(), low, high);
  op.save_scalar(0, double(low));
  op.save_scalar(1, double(high));
  return op.finish([](Backward<T>& b) {
    const T lo = T(b.scalar(0)), hi = T(b.scalar(1));
    const Array<T>& xv = b.input(0);
    b.accumulate(0, b.grad_out() * xt::cast<T>(xv >= lo && xv <= hi));
  });
}

template <class T>
Var<T> tutorial_bce(const Var<T>& p, const Var<T>& y) {
  TG_CHECK(ShapeError, p.shape() == y.shape(), "tutorial_bce: predictions ", to_string(p.shape()), " and targets ",
           to_string(y.shape()), " differ");
  const T eps = T(1e-8);
  // -np.mean(y * np.log(predictions + 1e-8) + (1 - y) * np.log(1 - predictions + 1e-8))
  return -mean(y * log(p + eps) + (T(1) - y) * log(T(1) - p + eps));
}

#define TAPEGRAD_INSTANTIATE(T)                                                                            \
  template Var<T> clip(const Var<T>&, tapegrad::detail::scalar_t<T>, tapegrad::detail::scalar_t<T>); \
  template Var<T> tutorial_bce(const Var<T>&, const Var<T>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::tutorial
