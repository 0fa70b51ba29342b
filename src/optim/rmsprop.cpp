// RMSprop, plain, centered and with momentum.
#include <algorithm>
#include <cmath>
#include <string>

#include <xsimd/xsimd.hpp>

#include "tapegrad/kernels.hpp"
#include "tapegrad/optim/rmsprop.hpp"

namespace tapegrad::optim {

namespace {
void validate(const RMSpropOptions& o, const std::string& where, bool loaded = false) {
  // A loaded state may hold lr 0: a schedule that ended there (set_learning_rate accepts it,
  // as PyTorch's 0 <= lr); a new optimizer needs a positive one.
  TG_CHECK(ValueError, std::isfinite(o.lr()) && (o.lr() > 0 || (loaded && o.lr() == 0)),
           "RMSprop: lr (the learning rate) must be positive and finite, got ", o.lr(), where);
  TG_CHECK(ValueError, o.alpha() >= 0 && o.alpha() < 1, "RMSprop: alpha must be in [0, 1), got ", o.alpha(), where);
  TG_CHECK(ValueError, std::isfinite(o.eps()) && o.eps() > 0, "RMSprop: eps must be > 0, got ", o.eps(), where);
  TG_CHECK(ValueError, std::isfinite(o.weight_decay()) && o.weight_decay() >= 0,
           "RMSprop: weight_decay must be >= 0, got ", o.weight_decay(), where);
  TG_CHECK(ValueError, std::isfinite(o.momentum()) && o.momentum() >= 0, "RMSprop: momentum must be >= 0, got ",
           o.momentum(), where);
}
}  // namespace

template <class T>
RMSprop<T>::RMSprop(std::vector<Parameter<T>> params, const RMSpropOptions& options)
    : RMSprop(std::vector<Group>{Group(std::move(params))}, options) {}

template <class T>
RMSprop<T>::RMSprop(std::vector<Group> groups, const RMSpropOptions& defaults)
    : Optimizer<T>("RMSprop", group_detail::group_rates(groups, defaults)),
      options_(defaults),
      groups_(group_detail::group_options(groups, defaults)) {
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    validate(groups_[g], group_detail::group_suffix(g, groups_.size()));
    has_momentum_ = has_momentum_ || groups_[g].momentum() > 0;
    has_centered_ = has_centered_ || groups_[g].centered();
  }
  square_slot_ = this->add_state("square_avg");
  if (has_momentum_) momentum_slot_ = this->add_state("momentum_buffer");
  if (has_centered_) grad_avg_slot_ = this->add_state("grad_avg");
}

template <class T>
RMSpropOptions RMSprop<T>::group_options(std::size_t group) const {
  return RMSpropOptions(groups_.at(group)).lr(this->learning_rate(group));
}

template <class T>
Hyperparameters RMSprop<T>::hyperparameters(std::size_t group) const {
  const RMSpropOptions o = group_options(group);
  return {{"lr", o.lr()},
          {"alpha", o.alpha()},
          {"eps", o.eps()},
          {"weight_decay", o.weight_decay()},
          {"momentum", o.momentum()},
          {"centered", o.centered() ? 1.0 : 0.0}};
}

template <class T>
std::vector<std::string> RMSprop<T>::set_hyperparameters(std::size_t group, const Hyperparameters& values,
                                                         bool apply) {
  auto problems = this->name_problems(values, {"lr", "alpha", "eps", "weight_decay", "momentum", "centered"});
  if (!problems.empty()) return problems;
  RMSpropOptions o = RMSpropOptions(this->value_of(values, "lr"))
                         .alpha(this->value_of(values, "alpha"))
                         .eps(this->value_of(values, "eps"))
                         .weight_decay(this->value_of(values, "weight_decay"))
                         .momentum(this->value_of(values, "momentum"))
                         .centered(this->value_of(values, "centered") != 0);
  try {
    validate(o, "", true);
  } catch (const ValueError& e) {
    return {e.what()};
  }
  if (o.momentum() > 0 && !has_momentum_) return {"momentum > 0 for an optimizer made without momentum (no buffers)"};
  if (o.centered() && !has_centered_) return {"centered for an optimizer made without it (no grad_avg buffers)"};
  if (apply) {
    groups_[group] = o;
    this->set_learning_rate(group, o.lr());
  }
  return {};
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
  for (std::size_t group = 0; group < groups_.size(); ++group) {
    step_group(group);
  }
}

template <class T>
void RMSprop<T>::step_group(std::size_t group) {
  const RMSpropOptions& o = groups_[group];
  const RMSpropCoefficients k{this->learning_rate(group), o.alpha(), 1 - o.alpha(),
                              o.eps(),                    o.weight_decay(), o.momentum()};
  const bool centered = o.centered(), momentum = o.momentum() > 0;
  const auto [first, last] = this->param_group_range(group);
  for (std::size_t i = first; i < last; ++i) {
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
