// Learning-rate schedules, each a closed form of the epoch.
#include <cmath>

#include "tapegrad/optim/schedule.hpp"

namespace tapegrad::optim {

namespace {
void check_gamma(const char* name, double gamma) {
  TG_CHECK(ValueError, gamma > 0 && gamma <= 1, name, ": gamma must be in (0, 1], got ", gamma);
}
}  // namespace

template <class T>
LRScheduler<T>::LRScheduler(Optimizer<T>& optimizer) : optimizer_(optimizer) {
  for (std::size_t g = 0; g < optimizer.num_param_groups(); ++g) base_lrs_.push_back(optimizer.learning_rate(g));
}

template <class T>
void LRScheduler<T>::set_epoch(std::int64_t epoch) {
  TG_CHECK(ValueError, epoch >= 0, "LRScheduler::set_epoch: epoch must be >= 0, got ", epoch);
  // Every rate first, so that a bad one changes nothing.
  std::vector<double> rates;
  for (const double base : base_lrs_) {
    const double lr = lr_at(epoch, base);
    TG_CHECK(ValueError, std::isfinite(lr) && lr >= 0, optimizer_.name(),
             ": lr (the learning rate) must be >= 0 and finite, got ", lr, " from the schedule at epoch ", epoch);
    rates.push_back(lr);
  }
  for (std::size_t g = 0; g < rates.size(); ++g) optimizer_.set_learning_rate(g, rates[g]);
  epoch_ = epoch;
}

template <class T>
StepLR<T>::StepLR(Optimizer<T>& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler<T>(optimizer), step_size_(step_size), gamma_(gamma) {
  TG_CHECK(ValueError, step_size >= 1, "StepLR: step_size must be >= 1, got ", step_size);
  check_gamma("StepLR", gamma);
}

template <class T>
double StepLR<T>::lr_at(std::int64_t epoch, double base_lr) const {
  return base_lr * std::pow(gamma_, double(epoch / step_size_));
}

template <class T>
MultiStepLR<T>::MultiStepLR(Optimizer<T>& optimizer, std::vector<std::int64_t> milestones, double gamma)
    : LRScheduler<T>(optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
  for (std::size_t i = 0; i < milestones_.size(); ++i) {
    TG_CHECK(ValueError, milestones_[i] > 0 && (i == 0 || milestones_[i] > milestones_[i - 1]),
             "MultiStepLR: milestones must be positive and increasing; milestone ", i, " is ", milestones_[i]);
  }
  check_gamma("MultiStepLR", gamma);
}

template <class T>
double MultiStepLR<T>::lr_at(std::int64_t epoch, double base_lr) const {
  int passed = 0;
  for (std::int64_t m : milestones_) passed += epoch >= m;
  return base_lr * std::pow(gamma_, passed);
}

template <class T>
ExponentialLR<T>::ExponentialLR(Optimizer<T>& optimizer, double gamma) : LRScheduler<T>(optimizer), gamma_(gamma) {
  check_gamma("ExponentialLR", gamma);
}

template <class T>
double ExponentialLR<T>::lr_at(std::int64_t epoch, double base_lr) const {
  return base_lr * std::pow(gamma_, double(epoch));
}

template <class T>
CosineAnnealingLR<T>::CosineAnnealingLR(Optimizer<T>& optimizer, std::int64_t t_max, double eta_min)
    : LRScheduler<T>(optimizer), t_max_(t_max), eta_min_(eta_min) {
  TG_CHECK(ValueError, t_max >= 1, "CosineAnnealingLR: t_max must be >= 1, got ", t_max);
  for (const double base : this->base_lrs_) {
    TG_CHECK(ValueError, eta_min >= 0 && eta_min <= base, "CosineAnnealingLR: eta_min must be in [0, ", base,
             "] (the base learning rate), got ", eta_min);
  }
}

template <class T>
double CosineAnnealingLR<T>::lr_at(std::int64_t epoch, double base_lr) const {
  const double pi = 3.14159265358979323846;
  const double lr =
      eta_min_ + (base_lr - eta_min_) * (1 + std::cos(pi * double(epoch) / double(t_max_))) / 2;
  return std::max(lr, 0.0);  // cos(π) = −1 can leave −1e-17 where 0 is meant
}

template <class T>
LambdaLR<T>::LambdaLR(Optimizer<T>& optimizer, std::function<double(std::int64_t)> factor)
    : LRScheduler<T>(optimizer), factor_(std::move(factor)) {
  TG_CHECK(ValueError, factor_ != nullptr, "LambdaLR: the factor function is empty");
  this->set_epoch(0);
}

template <class T>
double LambdaLR<T>::lr_at(std::int64_t epoch, double base_lr) const {
  return base_lr * factor_(epoch);
}

#define TAPEGRAD_INSTANTIATE(T)          \
  template class LRScheduler<T>;         \
  template class StepLR<T>;              \
  template class MultiStepLR<T>;         \
  template class ExponentialLR<T>;       \
  template class CosineAnnealingLR<T>;   \
  template class LambdaLR<T>;
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::optim
