// The custom op's definition, compiled once (see softplus.hpp).
#include "softplus.hpp"

namespace example {

template <class T>
tapegrad::Var<T> softplus(const tapegrad::Var<T>& x) {
  tapegrad::Op<T> op("softplus", {x});  // name and inputs: this records the entry
  tapegrad::Array<T>& y = op.output(x.shape());
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large x.
  xt::noalias(y) = xt::maximum(x.value(), T(0)) + xt::log1p(xt::exp(-xt::abs(x.value())));
  // The backward rule captures nothing; d softplus / dx = sigmoid(x).
  return op.finish([](tapegrad::Backward<T>& b) {
    b.accumulate(0, b.grad_out() / (T(1) + xt::exp(-b.input(0))));
  });
}

// Explicit instantiation: the element types callers may use.
template tapegrad::Var<float> softplus(const tapegrad::Var<float>&);
template tapegrad::Var<double> softplus(const tapegrad::Var<double>&);

}  // namespace example
