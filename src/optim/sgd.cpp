#include "tapegrad/optim/sgd.hpp"

#include <cmath>

namespace tapegrad::optim {

// ---- SGD -----------------------------------------------------------------------------------------

template <class T>
SGD<T>::SGD(std::vector<Parameter<T>> params, const SGDOptions& options)
    : Optimizer<T>("SGD", std::move(params), options.lr()), options_(options) {
  const double mu = options.momentum(), tau = options.dampening(), wd = options.weight_decay();
  TG_CHECK(ValueError, std::isfinite(mu) && mu >= 0, "SGD: momentum must be >= 0, got ", mu);
  TG_CHECK(ValueError, tau >= 0 && tau <= 1, "SGD: dampening must be in [0, 1], got ", tau);
  TG_CHECK(ValueError, std::isfinite(wd) && wd >= 0, "SGD: weight_decay must be >= 0, got ", wd);
  TG_CHECK(ValueError, !options.nesterov() || (mu > 0 && tau == 0),
           "SGD: nesterov needs momentum > 0 and dampening 0, got momentum ", mu, " and dampening ", tau);
  if (mu > 0) momentum_slot_ = this->add_state("momentum_buffer");
}

template <class T>
void SGD<T>::step() {
  const std::uint64_t t = this->advance();
  const T lr = T(this->learning_rate());
  const T mu = T(options_.momentum()), keep = T(1 - options_.dampening()), wd = T(options_.weight_decay());
  const bool nesterov = options_.nesterov();
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    if (!this->has_gradient(i)) continue;
    Parameter<T>& p = this->params_[i];
    T* w = p.mutable_value().data();
    const T* g = p.grad().data();
    T* b = mu == T(0) ? nullptr : this->state(momentum_slot_, i).data();
    this->update_parameter(i, [&](std::size_t lo, std::size_t hi) {
      if (b == nullptr) {
        for (std::size_t k = lo; k < hi; ++k) w[k] -= lr * (g[k] + wd * w[k]);
        return;
      }
      for (std::size_t k = lo; k < hi; ++k) {
        const T d = g[k] + wd * w[k];
        b[k] = t == 1 ? d : mu * b[k] + keep * d;
        w[k] -= lr * (nesterov ? d + mu * b[k] : b[k]);
      }
    });
  }
}

template class SGD<float>;
template class SGD<double>;

}  // namespace tapegrad::optim
