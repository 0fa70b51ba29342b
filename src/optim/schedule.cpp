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
void LRScheduler<T>::set_epoch(std::int64_t epoch) {
  TG_CHECK(ValueError, epoch >= 0, "LRScheduler::set_epoch: epoch must be >= 0, got ", epoch);
  optimizer_.set_learning_rate(lr_at(epoch));  // throws before anything changes
  epoch_ = epoch;
}

template <class T>
StepLR<T>::StepLR(Optimizer<T>& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler<T>(optimizer), step_size_(step_size), gamma_(gamma) {
  TG_CHECK(ValueError, step_size >= 1, "StepLR: step_size must be >= 1, got ", step_size);
  check_gamma("StepLR", gamma);
}

template <class T>
double StepLR<T>::lr_at(std::int64_t epoch) const {
  return this->base_lr_ * std::pow(gamma_, double(epoch / step_size_));
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
double MultiStepLR<T>::lr_at(std::int64_t epoch) const {
  int passed = 0;
  for (std::int64_t m : milestones_) passed += epoch >= m;
  return this->base_lr_ * std::pow(gamma_, passed);
}

template <class T>
ExponentialLR<T>::ExponentialLR(Optimizer<T>& optimizer, double gamma) : LRScheduler<T>(optimizer), gamma_(gamma) {
  check_gamma("ExponentialLR", gamma);
}

template <class T>
double ExponentialLR<T>::lr_at(std::int64_t epoch) const {
  return this->base_lr_ * std::pow(gamma_, double(epoch));
}

template <class T>
CosineAnnealingLR<T>::CosineAnnealingLR(Optimizer<T>& optimizer, std::int64_t t_max, double eta_min)
    : LRScheduler<T>(optimizer), t_max_(t_max), eta_min_(eta_min) {
  TG_CHECK(ValueError, t_max >= 1, "CosineAnnealingLR: t_max must be >= 1, got ", t_max);
  TG_CHECK(ValueError, eta_min >= 0 && eta_min <= this->base_lr_, "CosineAnnealingLR: eta_min must be in [0, ",
           this->base_lr_, "] (the base learning rate), got ", eta_min);
}

template <class T>
double CosineAnnealingLR<T>::lr_at(std::int64_t epoch) const {
  const double pi = 3.14159265358979323846;
  const double lr =
      eta_min_ + (this->base_lr_ - eta_min_) * (1 + std::cos(pi * double(epoch) / double(t_max_))) / 2;
  return std::max(lr, 0.0);  // cos(π) = −1 can leave −1e-17 where 0 is meant
}

template <class T>
LambdaLR<T>::LambdaLR(Optimizer<T>& optimizer, std::function<double(std::int64_t)> factor)
    : LRScheduler<T>(optimizer), factor_(std::move(factor)) {
  TG_CHECK(ValueError, factor_ != nullptr, "LambdaLR: the factor function is empty");
  this->set_epoch(0);
}

template <class T>
double LambdaLR<T>::lr_at(std::int64_t epoch) const {
  return this->base_lr_ * factor_(epoch);
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
