#pragma once
/// Layer 5: optimizers. Each reads `param.grad()` and updates `param.value()` in place.
///
///     tapegrad::optim::SGD<float> opt(model.parameters(), tapegrad::optim::SGDOptions(0.5));
///     for (...) { opt.zero_grad(); tape.backward(loss); opt.step(); }
///
/// A new optimizer derives from Optimizer, keeps any per-parameter state itself (velocities,
/// moments: one array per parameter, in the order of `parameters()`), and implements `step()`.
/// The learning rate lives in the base so that schedules work with every optimizer.
#include <vector>

#include "tapegrad/tape.hpp"

namespace tapegrad::optim {

template <class T>
class Optimizer {
 public:
  /// Throws ValueError if `lr` <= 0 or a parameter is undefined.
  Optimizer(std::vector<Parameter<T>> params, double lr);
  virtual ~Optimizer() = default;

  /// Applies one update to every parameter from its current gradient.
  virtual void step() = 0;
  /// Resets every parameter's gradient.
  void zero_grad();

  double learning_rate() const noexcept { return lr_; }
  /// Throws ValueError if `lr` <= 0 (or not finite).
  void set_learning_rate(double lr);
  const std::vector<Parameter<T>>& parameters() const noexcept { return params_; }

 protected:
  std::vector<Parameter<T>> params_;

 private:
  double lr_;
};

}  // namespace tapegrad::optim
