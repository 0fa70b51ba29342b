#include "tapegrad/nn/linear.hpp"

#include "tapegrad/nn/init.hpp"
#include "tapegrad/ops.hpp"

namespace tapegrad::nn {

// ---- Linear -------------------------------------------------------------------------------------

template <class T>
Linear<T>::Linear(const LinearOptions& options, Rng& rng) : options_(options) {
  const std::size_t in = options.in_features(), out = options.out_features();
  TG_CHECK(ValueError, in > 0 && out > 0, "Linear: features must be positive, got (", in, ", ", out, ")");
  checked_numel("Linear", {in, out});
  weight_ = this->num_own_parameters();
  this->register_parameter("weight", init::he_normal<T>(in, out, rng));
  if (options.bias()) {
    bias_ = this->num_own_parameters();
    this->register_parameter("bias", xt::zeros<T>({std::size_t(1), out}));
  }
}

template <class T>
Var<T> Linear<T>::forward(const Var<T>& x) {
  return options_.bias() ? linear(x, weight(), bias()) : linear(x, weight());
}

template class Linear<float>;
template class Linear<double>;

}  // namespace tapegrad::nn
