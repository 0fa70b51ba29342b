#include <cmath>

#include "tapegrad/optim/optimizer.hpp"
#include "tapegrad/optim/sgd.hpp"

namespace tapegrad::optim {

template <class T>
Optimizer<T>::Optimizer(std::vector<Parameter<T>> params, double lr) : params_(std::move(params)), lr_(0) {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    TG_CHECK(ValueError, params_[i].defined(), "optimizer: parameter ", i, " is undefined");
  }
  set_learning_rate(lr);
}

template <class T>
void Optimizer<T>::set_learning_rate(double lr) {
  TG_CHECK(ValueError, std::isfinite(lr) && lr > 0, "optimizer: learning rate must be positive and finite, got ",
           lr);
  lr_ = lr;
}

template <class T>
void Optimizer<T>::zero_grad() {
  for (auto& p : params_) p.zero_grad();
}

template <class T>
SGD<T>::SGD(std::vector<Parameter<T>> params, const SGDOptions& options)
    : Optimizer<T>(std::move(params), options.lr) {}

template <class T>
void SGD<T>::step() {
  const T lr = T(this->learning_rate());
  for (auto& p : this->params_) {
    if (!p.requires_grad()) continue;
    Array<T>& w = p.value();
    const Array<T>& g = p.grad();
    for (std::size_t i = 0; i < w.size(); ++i) w.data()[i] -= lr * g.data()[i];
  }
}

template class Optimizer<float>;
template class Optimizer<double>;
template class SGD<float>;
template class SGD<double>;

}  // namespace tapegrad::optim
