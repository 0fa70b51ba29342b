#pragma once
/// Stochastic gradient descent: p ← p − lr · g, the tutorial's update.
#include "tapegrad/optim/optimizer.hpp"

namespace tapegrad::optim {

struct SGDOptions {
  explicit SGDOptions(double learning_rate) : lr(learning_rate) {}
  double lr;
};

template <class T>
class SGD : public Optimizer<T> {
 public:
  SGD(std::vector<Parameter<T>> params, const SGDOptions& options);
  SGD(std::vector<Parameter<T>> params, double lr) : SGD(std::move(params), SGDOptions(lr)) {}
  void step() override;
};

}  // namespace tapegrad::optim
