// RMSprop, plain, centered and with momentum.
#include <algorithm>
#include <cmath>

#include <xsimd/xsimd.hpp>

#include "tapegrad/kernels.hpp"
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

namespace {
// One RMSprop update of n elements, with xsimd batches (std::sqrt's errno semantics stop GCC
// from vectorising the plain loop) and a scalar tail computing the same expression.
struct RMSpropCoefficients {
  double lr, alpha, c, eps, wd, mu;
};

template <class T, bool Centered, bool Momentum>
void rmsprop_update(T* w, const T* g, T* v, T* gavg, T* b, std::size_t n, const RMSpropCoefficients& k) {
  const T lr = T(k.lr), alpha = T(k.alpha), c = T(k.c), eps = T(k.eps), wd = T(k.wd), mu = T(k.mu);
  using B = xsimd::batch<T>;
  constexpr std::size_t L = B::size;
  std::size_t i = 0;
  for (; i + L <= n; i += L) {
    const B wi = B::load_unaligned(w + i);
    const B gi = B::load_unaligned(g + i) + wd * wi;
    const B vi = alpha * B::load_unaligned(v + i) + c * gi * gi;
    vi.store_unaligned(v + i);
    B var = vi;
    if constexpr (Centered) {
      const B ai = alpha * B::load_unaligned(gavg + i) + c * gi;
      ai.store_unaligned(gavg + i);
      // A centered estimate can round below 0, where sqrt would give NaN; 0 changes nothing else.
      var = xsimd::max(var - ai * ai, B(T(0)));
    }
    const B scaled = gi / (xsimd::sqrt(var) + eps);
    if constexpr (Momentum) {
      const B bi = mu * B::load_unaligned(b + i) + scaled;
      bi.store_unaligned(b + i);
      (wi - lr * bi).store_unaligned(w + i);
    } else {
      (wi - lr * scaled).store_unaligned(w + i);
    }
  }
  for (; i < n; ++i) {
    const T gi = g[i] + wd * w[i];
    v[i] = alpha * v[i] + c * gi * gi;
    T var = v[i];
    if constexpr (Centered) {
      gavg[i] = alpha * gavg[i] + c * gi;
      var = std::max(var - gavg[i] * gavg[i], T(0));
    }
    const T scaled = gi / (std::sqrt(var) + eps);
    if constexpr (Momentum) {
      b[i] = mu * b[i] + scaled;
      w[i] -= lr * b[i];
    } else {
      w[i] -= lr * scaled;
    }
  }
}
}  // namespace

template <class T>
void RMSprop<T>::step() {
  this->advance();
  const RMSpropCoefficients k{this->learning_rate(), options_.alpha(), 1 - options_.alpha(),
                              options_.eps(),        options_.weight_decay(), options_.momentum()};
  const bool centered = options_.centered(), momentum = options_.momentum() > 0;
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    if (!this->has_gradient(i)) continue;
    Parameter<T>& p = this->params_[i];
    T* w = p.mutable_value().data();
    const T* g = p.grad().data();
    T* v = this->state(square_slot_, i).data();
    T* gavg = centered ? this->state(grad_avg_slot_, i).data() : nullptr;
    T* b = momentum ? this->state(momentum_slot_, i).data() : nullptr;
    this->update_parameter(i, [&](std::size_t lo, std::size_t hi) {
      T* const bl = b != nullptr ? b + lo : nullptr;
      T* const gl = gavg != nullptr ? gavg + lo : nullptr;
      const std::size_t n = hi - lo;
      if (centered && momentum) {
        rmsprop_update<T, true, true>(w + lo, g + lo, v + lo, gl, bl, n, k);
      } else if (centered) {
        rmsprop_update<T, true, false>(w + lo, g + lo, v + lo, gl, bl, n, k);
      } else if (momentum) {
        rmsprop_update<T, false, true>(w + lo, g + lo, v + lo, gl, bl, n, k);
      } else {
        rmsprop_update<T, false, false>(w + lo, g + lo, v + lo, gl, bl, n, k);
      }
    });
  }
}

template class RMSprop<float>;
template class RMSprop<double>;

}  // namespace tapegrad::optim
