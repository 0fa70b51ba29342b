#include "tapegrad/nn/normalization.hpp"

#include "instantiate.hpp"
#include "tapegrad/normalization.hpp"

namespace tapegrad::nn {

template <class T>
LayerNorm<T>::LayerNorm(const LayerNormOptions& options) : options_(options) {
  const auto& ns = options.normalized_shape();
  shape_ = Shape(ns.begin(), ns.end());
  TG_CHECK(ValueError, !ns.empty() && numel(shape_) > 0, "LayerNorm: normalized_shape must be non-empty with no 0, got ",
           to_string(shape_));
  checked_numel("LayerNorm", shape_);
  has_weight_ = options.elementwise_affine();
  has_bias_ = options.elementwise_affine() && options.bias();
  if (has_weight_) this->register_parameter("weight", xt::ones<T>(shape_));
  if (has_bias_) this->register_parameter("bias", xt::zeros<T>(shape_));
}

template <class T>
Var<T> LayerNorm<T>::forward(const Var<T>& x) {
  const Var<T> none;
  return layer_norm(x, shape_, has_weight_ ? Var<T>(this->param_at(0)) : none,
                    has_bias_ ? Var<T>(this->param_at(1)) : none, options_.eps());
}

#define TAPEGRAD_SECTION(T) template class LayerNorm<T>;
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad::nn
