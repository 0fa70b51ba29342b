#include "tapegrad/optim/sgd.hpp"

#include <cmath>

namespace tapegrad::optim {

namespace {
void validate(const SGDOptions& o, const std::string& where, bool loaded = false) {
  // A loaded state may hold lr 0: a schedule that ended there (set_learning_rate accepts it,
  // as PyTorch's 0 <= lr); a new optimizer needs a positive one.
  const double mu = o.momentum(), tau = o.dampening(), wd = o.weight_decay();
  TG_CHECK(ValueError, std::isfinite(o.lr()) && (o.lr() > 0 || (loaded && o.lr() == 0)), "SGD: lr (the learning rate) must be positive and finite, got ",
           o.lr(), where);
  TG_CHECK(ValueError, std::isfinite(mu) && mu >= 0, "SGD: momentum must be >= 0, got ", mu, where);
  TG_CHECK(ValueError, tau >= 0 && tau <= 1, "SGD: dampening must be in [0, 1], got ", tau, where);
  TG_CHECK(ValueError, std::isfinite(wd) && wd >= 0, "SGD: weight_decay must be >= 0, got ", wd, where);
  TG_CHECK(ValueError, !o.nesterov() || (mu > 0 && tau == 0),
           "SGD: nesterov needs momentum > 0 and dampening 0, got momentum ", mu, " and dampening ", tau, where);
}
}  // namespace

template <class T>
SGD<T>::SGD(std::vector<Parameter<T>> params, const SGDOptions& options)
    : SGD(std::vector<Group>{Group(std::move(params))}, options) {}

template <class T>
SGD<T>::SGD(std::vector<Group> groups, const SGDOptions& defaults)
    : Optimizer<T>("SGD", group_detail::group_rates(groups, defaults)),
      options_(defaults),
      groups_(group_detail::group_options(groups, defaults)) {
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    validate(groups_[g], group_detail::group_suffix(g, groups_.size()));
    has_momentum_ = has_momentum_ || groups_[g].momentum() > 0;
  }
  if (has_momentum_) momentum_slot_ = this->add_state("momentum_buffer");
}

template <class T>
SGDOptions SGD<T>::group_options(std::size_t group) const {
  return SGDOptions(groups_.at(group)).lr(this->learning_rate(group));
}

template <class T>
Hyperparameters SGD<T>::hyperparameters(std::size_t group) const {
  const SGDOptions o = group_options(group);
  return {{"lr", o.lr()},
          {"momentum", o.momentum()},
          {"dampening", o.dampening()},
          {"weight_decay", o.weight_decay()},
          {"nesterov", o.nesterov() ? 1.0 : 0.0}};
}

template <class T>
std::vector<std::string> SGD<T>::set_hyperparameters(std::size_t group, const Hyperparameters& values, bool apply) {
  auto problems = this->name_problems(values, {"lr", "momentum", "dampening", "weight_decay", "nesterov"});
  if (!problems.empty()) return problems;
  SGDOptions o = SGDOptions(this->value_of(values, "lr"))
                     .momentum(this->value_of(values, "momentum"))
                     .dampening(this->value_of(values, "dampening"))
                     .weight_decay(this->value_of(values, "weight_decay"))
                     .nesterov(this->value_of(values, "nesterov") != 0);
  try {
    validate(o, "", true);
  } catch (const ValueError& e) {
    return {e.what()};
  }
  if (o.momentum() > 0 && !has_momentum_) return {"momentum > 0 for an optimizer made without momentum (no buffers)"};
  if (apply) {
    groups_[group] = o;
    this->set_learning_rate(group, o.lr());
  }
  return {};
}

template <class T>
void SGD<T>::step() {
  const std::uint64_t t = this->advance();
  for (std::size_t group = 0; group < groups_.size(); ++group) {
    const SGDOptions& o = groups_[group];
    const T lr = T(this->learning_rate(group));
    const T mu = T(o.momentum()), keep = T(1 - o.dampening()), wd = T(o.weight_decay());
    const bool nesterov = o.nesterov();
    const auto [begin, end] = this->param_group_range(group);
    for (std::size_t i = begin; i < end; ++i) {
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
}

template class SGD<float>;
template class SGD<double>;

}  // namespace tapegrad::optim
