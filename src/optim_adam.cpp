// Adam and AdamW: one update loop, with the weight decay coupled (Adam) or decoupled (AdamW).
#include <cmath>

#include "tapegrad/optim/adam.hpp"

namespace tapegrad::optim {

template <class T>
Adam<T>::Adam(const char* name, std::vector<Parameter<T>> params, const AdamOptions& options, bool decoupled)
    : Optimizer<T>(name, std::move(params), options.lr()), options_(options), decoupled_(decoupled) {
  const auto [b1, b2] = options.betas();
  TG_CHECK(ValueError, b1 >= 0 && b1 < 1, name, ": betas.first (beta1) must be in [0, 1), got ", b1);
  TG_CHECK(ValueError, b2 >= 0 && b2 < 1, name, ": betas.second (beta2) must be in [0, 1), got ", b2);
  TG_CHECK(ValueError, std::isfinite(options.eps()) && options.eps() > 0, name, ": eps must be > 0, got ",
           options.eps());
  TG_CHECK(ValueError, std::isfinite(options.weight_decay()) && options.weight_decay() >= 0, name,
           ": weight_decay must be >= 0, got ", options.weight_decay());
  exp_avg_slot_ = this->add_state("exp_avg");
  exp_avg_sq_slot_ = this->add_state("exp_avg_sq");
  if (options.amsgrad()) max_slot_ = this->add_state("max_exp_avg_sq");
}

template <class T>
void Adam<T>::step() {
  const double t = double(this->advance());
  const auto [beta1, beta2] = options_.betas();
  const double lr = this->learning_rate();
  // The bias corrections are computed once per step in double, then the loop runs in T.
  const T step_size = T(lr / (1 - std::pow(beta1, t)));
  const T inv_bc2_sqrt = T(1 / std::sqrt(1 - std::pow(beta2, t)));
  const T b1 = T(beta1), b2 = T(beta2), c1 = T(1 - beta1), c2 = T(1 - beta2), eps = T(options_.eps());
  // Adam adds λθ to the gradient; AdamW multiplies θ by (1 − γλ) first.
  const T l2 = decoupled_ ? T(0) : T(options_.weight_decay());
  const T shrink = decoupled_ ? T(1 - lr * options_.weight_decay()) : T(1);
  const bool amsgrad = options_.amsgrad();
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    if (!this->has_gradient(i)) continue;
    Parameter<T>& p = this->params_[i];
    T* __restrict w = p.value().data();
    const T* __restrict g = p.grad().data();
    T* __restrict m = this->state(exp_avg_slot_, i).data();
    T* __restrict v = this->state(exp_avg_sq_slot_, i).data();
    const std::size_t n = p.value().size();
    if (amsgrad) {
      T* __restrict vmax = this->state(max_slot_, i).data();
      for (std::size_t k = 0; k < n; ++k) {
        const T wk = w[k] * shrink;
        const T gk = g[k] + l2 * wk;
        m[k] = b1 * m[k] + c1 * gk;
        v[k] = b2 * v[k] + c2 * gk * gk;
        vmax[k] = std::max(vmax[k], v[k]);
        w[k] = wk - step_size * m[k] / (std::sqrt(vmax[k]) * inv_bc2_sqrt + eps);
      }
    } else {
      for (std::size_t k = 0; k < n; ++k) {
        const T wk = w[k] * shrink;
        const T gk = g[k] + l2 * wk;
        m[k] = b1 * m[k] + c1 * gk;
        v[k] = b2 * v[k] + c2 * gk * gk;
        w[k] = wk - step_size * m[k] / (std::sqrt(v[k]) * inv_bc2_sqrt + eps);
      }
    }
  }
}

template class Adam<float>;
template class Adam<double>;
template class AdamW<float>;
template class AdamW<double>;

}  // namespace tapegrad::optim
