#include "tapegrad/nn/linear.hpp"

#include "tapegrad/nn/init.hpp"
#include "tapegrad/ops.hpp"

namespace tapegrad::nn {

// ---- Linear -------------------------------------------------------------------------------------

template <class T>
Linear<T>::Linear(const LinearOptions& options, Rng& rng) : options_(options) {
  TG_CHECK(ValueError, options.in > 0 && options.out > 0, "Linear: features must be positive, got (", options.in,
           ", ", options.out, ")");
  checked_numel("Linear", {options.in, options.out});
  weight_ = this->num_own_parameters();
  this->register_parameter("weight", init::he_normal<T>(options.in, options.out, rng));
  if (options.has_bias) {
    bias_ = this->num_own_parameters();
    this->register_parameter("bias", xt::zeros<T>({std::size_t(1), options.out}));
  }
}

template <class T>
Var<T> Linear<T>::forward(const Var<T>& x) {
  return options_.has_bias ? linear(x, weight(), bias()) : linear(x, weight());
}

template class Linear<float>;
template class Linear<double>;

}  // namespace tapegrad::nn
