#pragma once
/// Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay.
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/arg.hpp"
#include "tapegrad/optim/optimizer.hpp"

namespace tapegrad::optim {

/// Options of Adam (libtorch's defaults): `AdamOptions(1e-3).betas({0.9, 0.999}).amsgrad(true)`.
/// β₁, β₂: the decay rates of Adam's first and second moments.
using Betas = std::pair<double, double>;

struct AdamOptions {
  /// The learning rate γ (> 0).
  AdamOptions() = default;
  explicit AdamOptions(double lr) : lr_(lr) {}
  /// γ, the learning rate (> 0).
  TAPEGRAD_ARG(double, lr) = 1e-3;
  /// ε, added to the root of the second moment (> 0).
  TAPEGRAD_ARG(double, eps) = 1e-8;
  /// λ, the weight decay (≥ 0): L2 added to the gradient in Adam, decoupled in AdamW.
  TAPEGRAD_ARG(double, weight_decay) = 0;
  /// AMSGrad: normalise by the running maximum of the second moment.
  TAPEGRAD_ARG(bool, amsgrad) = false;

  /// β₁, β₂: decay rates of the first and second moments (each in [0, 1)).
  TAPEGRAD_ARG(Betas, betas) = {0.9, 0.999};
};

/// Options of AdamW: Adam's, with libtorch's AdamW default weight decay λ = 1e-2.
struct AdamWOptions {
  AdamWOptions() = default;
  explicit AdamWOptions(double lr) : lr_(lr) {}
  /// γ, the learning rate (> 0).
  TAPEGRAD_ARG(double, lr) = 1e-3;
  /// β₁, β₂ (each in [0, 1)).
  TAPEGRAD_ARG(Betas, betas) = {0.9, 0.999};
  /// ε (> 0).
  TAPEGRAD_ARG(double, eps) = 1e-8;
  /// λ, the decoupled weight decay (≥ 0); PyTorch's default 1e-2.
  TAPEGRAD_ARG(double, weight_decay) = 1e-2;
  TAPEGRAD_ARG(bool, amsgrad) = false;
};

/// Adam (Kingma & Ba), as PyTorch defines it (torch.optim.Adam). For each parameter θ with
/// gradient g, at step t, with m_0 = 0, v_0 = 0, vmax_0 = 0:
///
///   if λ ≠ 0:  g ← g + λ θ                       (Adam: L2 in the gradient)
///   m_t ← β₁ m_{t-1} + (1 − β₁) g
///   v_t ← β₂ v_{t-1} + (1 − β₂) g²
///   m̂_t ← m_t / (1 − β₁ᵗ)
///   if amsgrad:  vmax_t ← max(vmax_{t-1}, v_t);   v̂_t ← vmax_t / (1 − β₂ᵗ)
///   else:        v̂_t ← v_t / (1 − β₂ᵗ)
///   θ ← θ − γ m̂_t / (√v̂_t + ε)
///
/// (With amsgrad, the maximum is taken over the uncorrected v_t, as PyTorch's implementation
/// does.) Each parameter group has its own γ, β, ε, λ and amsgrad. State: "exp_avg.<i>" (m),
/// "exp_avg_sq.<i>" (v), "max_exp_avg_sq.<i>" (vmax, when some group has amsgrad), and the step
/// count; hyperparameters: lr, betas.0, betas.1, eps, weight_decay, amsgrad.
///
///     tapegrad::optim::Adam<float> opt(model.parameters(), tapegrad::optim::AdamOptions(1e-3));
template <class T>
class Adam : public Optimizer<T> {
 public:
  using Group = ParamGroup<T, AdamOptions>;
  /// Throws ValueError, naming the option, for lr ≤ 0, β outside [0, 1), ε ≤ 0 or λ < 0.
  Adam(std::vector<Parameter<T>> params, const AdamOptions& options = AdamOptions())
      : Adam("Adam", std::vector<Group>{Group(std::move(params))}, options, false) {}
  /// Parameter groups; a group without options takes `defaults`. Errors as above, naming the group.
  Adam(std::vector<Group> groups, const AdamOptions& defaults) : Adam("Adam", std::move(groups), defaults, false) {}
  void step() override;
  /// The options given to the constructor (the groups' defaults).
  const AdamOptions& options() const noexcept { return options_; }
  /// Group `group`'s options, with its current learning rate.
  AdamOptions group_options(std::size_t group) const;
  Hyperparameters hyperparameters(std::size_t group) const override;

 protected:
  Adam(const char* name, std::vector<Group> groups, const AdamOptions& defaults, bool decoupled);
  std::vector<std::string> set_hyperparameters(std::size_t group, const Hyperparameters& values, bool apply) override;

 private:
  AdamOptions options_;
  std::vector<AdamOptions> groups_;
  bool decoupled_;
  bool has_amsgrad_ = false;
  std::size_t exp_avg_slot_ = 0, exp_avg_sq_slot_ = 0, max_slot_ = 0;
};

/// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, as torch.optim.AdamW. The
/// first line of Adam's update becomes
///
///   θ ← θ − γ λ θ                                 (AdamW: decay the weights, not the gradient)
///
/// and g itself is left as it is; the rest, and the state, are Adam's.
template <class T>
class AdamW : public Adam<T> {
 public:
  using Group = ParamGroup<T, AdamWOptions>;
  /// Throws ValueError, naming the option, as Adam does.
  AdamW(std::vector<Parameter<T>> params, const AdamWOptions& options = AdamWOptions())
      : AdamW(std::vector<Group>{Group(std::move(params))}, options) {}
  /// Parameter groups; a group without options takes `defaults`.
  AdamW(std::vector<Group> groups, const AdamWOptions& defaults)
      : Adam<T>("AdamW", as_adam(groups, defaults), as_adam(defaults), true), defaults_(defaults) {}
  /// The options given to the constructor (the groups' defaults).
  const AdamWOptions& options() const noexcept { return defaults_; }

 private:
  static AdamOptions as_adam(const AdamWOptions& o) {
    return AdamOptions(o.lr()).betas(o.betas()).eps(o.eps()).weight_decay(o.weight_decay()).amsgrad(o.amsgrad());
  }
  static std::vector<typename Adam<T>::Group> as_adam(const std::vector<Group>& groups, const AdamWOptions& defaults) {
    std::vector<typename Adam<T>::Group> out;
    for (const auto& g : groups) out.emplace_back(g.params, as_adam(g.options ? *g.options : defaults));
    return out;
  }
  AdamWOptions defaults_;
};

}  // namespace tapegrad::optim
