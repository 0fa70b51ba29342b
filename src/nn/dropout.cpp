#include "tapegrad/nn/dropout.hpp"

#include "tapegrad/regularization.hpp"

namespace tapegrad::nn {

template <class T>
Dropout<T>::Dropout(double p, Rng& rng) : p_(p), rng_(rng.engine()()) {
  TG_CHECK(ValueError, p >= 0 && p <= 1, "Dropout: the drop probability p must be in [0, 1], got ", p);
}

template <class T>
Var<T> Dropout<T>::forward(const Var<T>& x) {
  if (!this->is_training()) return x;
  return dropout(x, p_, rng_);
}

template <class T>
Dropout2d<T>::Dropout2d(double p, Rng& rng) : p_(p), rng_(rng.engine()()) {
  TG_CHECK(ValueError, p >= 0 && p <= 1, "Dropout2d: the drop probability p must be in [0, 1], got ", p);
}

template <class T>
Var<T> Dropout2d<T>::forward(const Var<T>& x) {
  if (!this->is_training()) return x;
  return dropout2d(x, p_, rng_);
}

template class Dropout<float>;
template class Dropout<double>;
template class Dropout2d<float>;
template class Dropout2d<double>;

}  // namespace tapegrad::nn
