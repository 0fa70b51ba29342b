#pragma once
/// RMSprop: gradients scaled by a running root mean square.
#include <string>
#include <vector>

#include "tapegrad/arg.hpp"
#include "tapegrad/optim/optimizer.hpp"

namespace tapegrad::optim {

/// Options of RMSprop (libtorch's defaults): `RMSpropOptions(1e-2).alpha(0.9).centered(true)`.
struct RMSpropOptions {
  /// The learning rate γ (> 0).
  RMSpropOptions() = default;
  explicit RMSpropOptions(double lr) : lr_(lr) {}
  /// γ, the learning rate (> 0).
  TAPEGRAD_ARG(double, lr) = 1e-2;
  /// α, the smoothing constant of the running mean of g² (in [0, 1)).
  TAPEGRAD_ARG(double, alpha) = 0.99;
  /// ε, added to the root mean square (> 0).
  TAPEGRAD_ARG(double, eps) = 1e-8;
  /// λ, the L2 weight decay (≥ 0), added to the gradient.
  TAPEGRAD_ARG(double, weight_decay) = 0;
  /// μ, the momentum factor (≥ 0).
  TAPEGRAD_ARG(double, momentum) = 0;
  /// Centered RMSprop: normalise by an estimate of the variance instead of the second moment.
  TAPEGRAD_ARG(bool, centered) = false;
};

/// RMSprop, as PyTorch defines it (torch.optim.RMSprop). For each parameter θ with gradient g,
/// with v_0 = 0, g^ave_0 = 0, b_0 = 0:
///
///   if λ ≠ 0:  g ← g + λ θ
///   v_t ← α v_{t-1} + (1 − α) g²
///   ṽ_t ← v_t
///   if centered:  g^ave_t ← α g^ave_{t-1} + (1 − α) g
///                 ṽ_t ← ṽ_t − (g^ave_t)²
///   if μ > 0:  b_t ← μ b_{t-1} + g / (√ṽ_t + ε)
///              θ ← θ − γ b_t
///   else:      θ ← θ − γ g / (√ṽ_t + ε)
///
/// with each parameter group's own options. State: "square_avg.<i>" (v), "momentum_buffer.<i>"
/// (b, when some group has μ > 0), "grad_avg.<i>" (g^ave, when some group is centered), and the
/// step count; hyperparameters: lr, alpha, eps, weight_decay, momentum, centered.
template <class T>
class RMSprop : public Optimizer<T> {
 public:
  using Group = ParamGroup<T, RMSpropOptions>;
  /// Throws ValueError, naming the option, for lr ≤ 0, α outside [0, 1), ε ≤ 0, λ < 0, μ < 0.
  RMSprop(std::vector<Parameter<T>> params, const RMSpropOptions& options = RMSpropOptions());
  /// Parameter groups; a group without options takes `defaults`. Errors as above, naming the group.
  RMSprop(std::vector<Group> groups, const RMSpropOptions& defaults);
  void step() override;
  /// The options given to the constructor (the groups' defaults).
  const RMSpropOptions& options() const noexcept { return options_; }
  /// Group `group`'s options, with its current learning rate.
  RMSpropOptions group_options(std::size_t group) const;
  Hyperparameters hyperparameters(std::size_t group) const override;

 protected:
  std::vector<std::string> set_hyperparameters(std::size_t group, const Hyperparameters& values, bool apply) override;

 private:
  void step_group(std::size_t group);
  RMSpropOptions options_;
  std::vector<RMSpropOptions> groups_;
  bool has_momentum_ = false, has_centered_ = false;
  std::size_t square_slot_ = 0, momentum_slot_ = 0, grad_avg_slot_ = 0;
};

}  // namespace tapegrad::optim
