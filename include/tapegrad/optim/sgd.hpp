#pragma once
/// Stochastic gradient descent, with momentum, Nesterov momentum and weight decay.
#include <string>
#include <vector>

#include "tapegrad/arg.hpp"
#include "tapegrad/optim/optimizer.hpp"

namespace tapegrad::optim {

/// Options of SGD, as in libtorch: `SGDOptions(0.1).momentum(0.9).nesterov(true)`.
struct SGDOptions {
  /// The learning rate γ (> 0).
  explicit SGDOptions(double lr) : lr_(lr) {}
  /// γ, the learning rate (> 0).
  TAPEGRAD_ARG(double, lr);
  /// μ, the momentum factor (≥ 0; 0 is plain SGD).
  TAPEGRAD_ARG(double, momentum) = 0;
  /// τ, the dampening of the momentum (in [0, 1]; must be 0 with Nesterov).
  TAPEGRAD_ARG(double, dampening) = 0;
  /// λ, the L2 weight decay (≥ 0), added to the gradient.
  TAPEGRAD_ARG(double, weight_decay) = 0;
  /// Nesterov momentum (needs μ > 0 and τ = 0).
  TAPEGRAD_ARG(bool, nesterov) = false;
};

/// Stochastic gradient descent, as PyTorch defines it (torch.optim.SGD). For each parameter θ
/// with gradient g, at step t:
///
///   if λ ≠ 0:  g ← g + λ θ
///   if μ ≠ 0:  b_t ← g                       if t = 1
///              b_t ← μ b_{t-1} + (1 − τ) g     otherwise
///              g ← g + μ b_t    if nesterov,   else  g ← b_t
///   θ ← θ − γ g
///
/// with each parameter group's own γ, μ, τ, λ. With μ = 0 and λ = 0 this is the tutorial's
/// update θ ← θ − γ g. State (when some group has μ > 0): "momentum_buffer.<i>" (b), and the
/// step count; hyperparameters: lr, momentum, dampening, weight_decay, nesterov.
///
///     tapegrad::optim::SGD<float> opt(model.parameters(), tapegrad::optim::SGDOptions(0.1).momentum(0.9).nesterov(true));
template <class T>
class SGD : public Optimizer<T> {
 public:
  using Group = ParamGroup<T, SGDOptions>;
  /// Throws ValueError, naming the option, for lr ≤ 0, μ < 0, τ outside [0, 1], λ < 0, or
  /// Nesterov without μ > 0 and τ = 0.
  SGD(std::vector<Parameter<T>> params, const SGDOptions& options);
  SGD(std::vector<Parameter<T>> params, double lr) : SGD(std::move(params), SGDOptions(lr)) {}
  /// Parameter groups; a group without options takes `defaults`. Errors as above, naming the group.
  SGD(std::vector<Group> groups, const SGDOptions& defaults);
  void step() override;
  /// The options given to the constructor (the groups' defaults).
  const SGDOptions& options() const noexcept { return options_; }
  /// Group `group`'s options, with its current learning rate.
  SGDOptions group_options(std::size_t group) const;
  Hyperparameters hyperparameters(std::size_t group) const override;

 protected:
  std::vector<std::string> set_hyperparameters(std::size_t group, const Hyperparameters& values, bool apply) override;

 private:
  SGDOptions options_;
  std::vector<SGDOptions> groups_;
  bool has_momentum_ = false;
  std::size_t momentum_slot_ = 0;
};

}  // namespace tapegrad::optim
