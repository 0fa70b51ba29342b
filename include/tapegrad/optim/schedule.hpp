#pragma once
/// Learning-rate schedules. A schedule drives any optimizer through `Optimizer::set_learning_rate`;
/// call `step()` once per epoch, after the optimizer's steps of that epoch (as in PyTorch).
///
///     tapegrad::optim::Adam<float> opt(model.parameters(), tapegrad::optim::AdamOptions(1e-3));
///     tapegrad::optim::CosineAnnealingLR<float> schedule(opt, /*t_max=*/10);
///     for (int epoch = 0; epoch < 10; ++epoch) {
///       for (auto& batch : loader) {
///         opt.zero_grad();
///         tape.backward(tapegrad::softmax_cross_entropy(model.forward(tape.constant(batch.features)), batch.targets));
///         opt.step();
///       }
///       schedule.step();
///     }
///
/// Every schedule computes the rate for epoch e in closed form from the optimizer's learning
/// rate at construction (the base rate γ₀), so `set_epoch(e)` resumes a run exactly: save the
/// epoch with the checkpoint and call `set_epoch` after loading. With parameter groups, each
/// group has its own base rate (its rate at construction) and the schedule sets each group's
/// rate from its own, as PyTorch's `base_lrs`.
#include <cstdint>
#include <functional>
#include <vector>

#include "tapegrad/optim/optimizer.hpp"

namespace tapegrad::optim {

/// The base of every schedule: the optimizer, the base rates and the epoch count.
template <class T>
class LRScheduler {
 public:
  /// Takes each group's γ₀ = `optimizer.learning_rate(g)`. The optimizer must outlive the
  /// schedule.
  explicit LRScheduler(Optimizer<T>& optimizer);
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// The learning rate of epoch `epoch` (≥ 0) for a group whose base rate is `base_lr`.
  virtual double lr_at(std::int64_t epoch, double base_lr) const = 0;
  /// The learning rate of epoch `epoch` for the first group.
  double lr_at(std::int64_t epoch) const { return lr_at(epoch, base_lrs_.front()); }

  /// Ends an epoch: the optimizer's learning rate becomes `lr_at(epoch() + 1)`.
  void step() { set_epoch(epoch_ + 1); }
  /// Jumps to `epoch` (≥ 0) and sets each group's learning rate to `lr_at(epoch, its base)`.
  /// Throws ValueError for a negative epoch or a rate < 0 or not finite, changing nothing.
  void set_epoch(std::int64_t epoch);
  /// The number of `step()` calls so far (0 after construction).
  std::int64_t epoch() const noexcept { return epoch_; }
  /// γ₀ of the first group: its learning rate when the schedule was created.
  double base_lr() const noexcept { return base_lrs_.front(); }
  /// γ₀ of every group.
  const std::vector<double>& base_lrs() const noexcept { return base_lrs_; }
  /// The rate the schedule last set for the first group (γ₀ before any `step()`).
  double last_lr() const noexcept { return optimizer_.learning_rate(); }

 protected:
  Optimizer<T>& optimizer_;
  std::vector<double> base_lrs_;
  std::int64_t epoch_ = 0;
};

/// Step decay: γ_e = γ₀ · gamma^⌊e / step_size⌋ (torch.optim.lr_scheduler.StepLR).
template <class T>
class StepLR : public LRScheduler<T> {
 public:
  /// Throws ValueError for step_size < 1 or gamma not in (0, 1].
  StepLR(Optimizer<T>& optimizer, std::int64_t step_size, double gamma = 0.1);
  double lr_at(std::int64_t epoch, double base_lr) const override;
  using LRScheduler<T>::lr_at;

 private:
  std::int64_t step_size_;
  double gamma_;
};

/// Decay at given epochs: γ_e = γ₀ · gamma^(number of milestones ≤ e) (MultiStepLR).
template <class T>
class MultiStepLR : public LRScheduler<T> {
 public:
  /// Throws ValueError unless the milestones are positive and increasing and gamma in (0, 1].
  MultiStepLR(Optimizer<T>& optimizer, std::vector<std::int64_t> milestones, double gamma = 0.1);
  double lr_at(std::int64_t epoch, double base_lr) const override;
  using LRScheduler<T>::lr_at;

 private:
  std::vector<std::int64_t> milestones_;
  double gamma_;
};

/// Exponential decay: γ_e = γ₀ · gamma^e (ExponentialLR).
template <class T>
class ExponentialLR : public LRScheduler<T> {
 public:
  /// Throws ValueError for gamma not in (0, 1].
  ExponentialLR(Optimizer<T>& optimizer, double gamma);
  double lr_at(std::int64_t epoch, double base_lr) const override;
  using LRScheduler<T>::lr_at;

 private:
  double gamma_;
};

/// Cosine annealing (Loshchilov & Hutter, SGDR without restarts), PyTorch's closed form:
///
///   γ_e = η_min + (γ₀ − η_min) · (1 + cos(π e / T_max)) / 2
///
/// from γ₀ at e = 0 down to η_min at e = T_max (and, as in PyTorch, back up after T_max if
/// you keep stepping). η_min = 0 sets a rate of exactly 0 at e = T_max: that step changes
/// nothing, which is what annealing to 0 means.
template <class T>
class CosineAnnealingLR : public LRScheduler<T> {
 public:
  /// Throws ValueError for t_max < 1 or eta_min not in [0, γ₀] (for every group's γ₀).
  CosineAnnealingLR(Optimizer<T>& optimizer, std::int64_t t_max, double eta_min = 0);
  double lr_at(std::int64_t epoch, double base_lr) const override;
  using LRScheduler<T>::lr_at;

 private:
  std::int64_t t_max_;
  double eta_min_;
};

/// Any schedule as a function: γ_e = γ₀ · factor(e) (LambdaLR), e.g. a linear warm-up
/// `[](std::int64_t e) { return std::min(1.0, (e + 1) / 5.0); }`.
template <class T>
class LambdaLR : public LRScheduler<T> {
 public:
  /// Throws ValueError for an empty function; sets the rate γ₀ · factor(0).
  LambdaLR(Optimizer<T>& optimizer, std::function<double(std::int64_t)> factor);
  double lr_at(std::int64_t epoch, double base_lr) const override;
  using LRScheduler<T>::lr_at;

 private:
  std::function<double(std::int64_t)> factor_;
};

}  // namespace tapegrad::optim
