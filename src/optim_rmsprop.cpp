// RMSprop, plain, centered and with momentum.
#include <cmath>

#include "tapegrad/optim/rmsprop.hpp"

namespace tapegrad::optim {

template <class T>
RMSprop<T>::RMSprop(std::vector<Parameter<T>> params, const RMSpropOptions& options)
    : Optimizer<T>("RMSprop", std::move(params), options.lr()), options_(options) {
  TG_CHECK(ValueError, options.alpha() >= 0 && options.alpha() < 1, "RMSprop: alpha must be in [0, 1), got ",
           options.alpha());
  TG_CHECK(ValueError, std::isfinite(options.eps()) && options.eps() > 0, "RMSprop: eps must be > 0, got ",
           options.eps());
  TG_CHECK(ValueError, std::isfinite(options.weight_decay()) && options.weight_decay() >= 0,
           "RMSprop: weight_decay must be >= 0, got ", options.weight_decay());
  TG_CHECK(ValueError, std::isfinite(options.momentum()) && options.momentum() >= 0,
           "RMSprop: momentum must be >= 0, got ", options.momentum());
  square_slot_ = this->add_state("square_avg");
  if (options.momentum() > 0) momentum_slot_ = this->add_state("momentum_buffer");
  if (options.centered()) grad_avg_slot_ = this->add_state("grad_avg");
}

template <class T>
void RMSprop<T>::step() {
  this->advance();
  const T lr = T(this->learning_rate());
  const T alpha = T(options_.alpha()), c = T(1 - options_.alpha()), eps = T(options_.eps());
  const T wd = T(options_.weight_decay()), mu = T(options_.momentum());
  const bool centered = options_.centered(), momentum = options_.momentum() > 0;
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    if (!this->has_gradient(i)) continue;
    Parameter<T>& p = this->params_[i];
    T* w = p.value().data();
    const T* g = p.grad().data();
    T* v = this->state(square_slot_, i).data();
    T* gavg = centered ? this->state(grad_avg_slot_, i).data() : nullptr;
    T* b = momentum ? this->state(momentum_slot_, i).data() : nullptr;
    const std::size_t n = p.value().size();
    for (std::size_t k = 0; k < n; ++k) {
      const T gk = g[k] + wd * w[k];
      v[k] = alpha * v[k] + c * gk * gk;
      T var = v[k];
      if (centered) {
        gavg[k] = alpha * gavg[k] + c * gk;
        var -= gavg[k] * gavg[k];
      }
      // A centered variance estimate can round below zero; PyTorch's sqrt would give NaN there.
      // Clamping at 0 leaves every finite case unchanged.
      const T scaled = gk / (std::sqrt(std::max(var, T(0))) + eps);
      if (momentum) {
        b[k] = mu * b[k] + scaled;
        w[k] -= lr * b[k];
      } else {
        w[k] -= lr * scaled;
      }
    }
  }
}

template class RMSprop<float>;
template class RMSprop<double>;

}  // namespace tapegrad::optim
