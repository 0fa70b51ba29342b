#include <cmath>
#include <limits>
#include <vector>

#include "tapegrad/data/standardizer.hpp"
#include "tapegrad/error.hpp"

namespace tapegrad::data {

namespace {
Shape row_shape(const Shape& s) {
  Shape r(s.begin(), s.end());
  r[0] = 1;
  return r;
}
}  // namespace

template <class T>
Standardizer<T>& Standardizer<T>::fit(const Array<T>& x) {
  TG_CHECK(ShapeError, x.dimension() >= 1, "Standardizer::fit: data of shape ", to_string(x.shape()),
           " has no rows");
  const std::size_t n = x.shape()[0];
  TG_CHECK(ValueError, n > 0, "Standardizer::fit: no rows to fit on (shape ", to_string(x.shape()), ")");
  const std::size_t f = x.size() / n;
  std::vector<double> mean(f, 0.0), var(f, 0.0);
  const T* p = x.data();
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < f; ++j) {
      const double v = double(p[i * f + j]);
      TG_CHECK(ValueError, std::isfinite(v), "Standardizer::fit: row ", i, ", feature ", j, " is ", v);
      mean[j] += v;
    }
  }
  for (auto& m : mean) m /= double(n);
  // Two passes: the variance of centred values does not cancel catastrophically.
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < f; ++j) {
      const double d = double(p[i * f + j]) - mean[j];
      var[j] += d * d;
    }
  }
  Array<T> m(row_shape(x.shape())), s(row_shape(x.shape()));
  for (std::size_t j = 0; j < f; ++j) {
    const double sd = std::sqrt(var[j] / double(n));
    m.data()[j] = T(mean[j]);
    // Constant features (and ones so nearly constant that float noise dominates) keep scale 1,
    // as scikit-learn does: they map to 0 instead of to NaN or to amplified noise.
    s.data()[j] = T(sd > 10 * std::numeric_limits<T>::epsilon() * std::abs(mean[j]) && sd > 0 ? sd : 1.0);
  }
  mean_ = std::move(m);
  scale_ = std::move(s);
  return *this;
}

template <class T>
void Standardizer<T>::check(const Array<T>& x, const char* op) const {
  TG_CHECK(StateError, fitted(), "Standardizer::", op, ": call fit() first");
  bool ok = x.dimension() == mean_.dimension();
  for (std::size_t k = 1; ok && k < x.dimension(); ++k) ok = x.shape()[k] == mean_.shape()[k];
  TG_CHECK(ShapeError, ok, "Standardizer::", op, ": data of shape ", to_string(x.shape()),
           " does not match the fitted rows of shape ", to_string(mean_.shape()));
}

template <class T>
void Standardizer<T>::transform_inplace(Array<T>& x) const {
  check(x, "transform");
  const std::size_t f = mean_.size(), n = x.size() / f;
  const T* m = mean_.data();
  const T* s = scale_.data();
  T* p = x.data();
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < f; ++j) p[i * f + j] = (p[i * f + j] - m[j]) / s[j];
  }
}

template <class T>
Array<T> Standardizer<T>::inverse_transform(const Array<T>& x) const {
  check(x, "inverse_transform");
  Array<T> out = x;
  const std::size_t f = mean_.size(), n = x.size() / f;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < f; ++j) out.data()[i * f + j] = out.data()[i * f + j] * scale_.data()[j] + mean_.data()[j];
  }
  return out;
}

template <class T>
StateDict<T> Standardizer<T>::state_dict() const {
  TG_CHECK(StateError, fitted(), "Standardizer::state_dict: call fit() first");
  return {{"mean", mean_}, {"scale", scale_}};
}

template <class T>
void Standardizer<T>::load_state_dict(const StateDict<T>& state) {
  const Array<T>* m = nullptr;
  const Array<T>* s = nullptr;
  for (const auto& [name, a] : state) {
    if (name == "mean") m = &a;
    else if (name == "scale") s = &a;
    else throw ValueError(detail::concat("Standardizer::load_state_dict: unexpected entry '", name, "'"));
  }
  TG_CHECK(ValueError, m && s, "Standardizer::load_state_dict: needs 'mean' and 'scale'");
  TG_CHECK(ValueError, m->shape() == s->shape() && m->dimension() >= 1 && m->shape()[0] == 1 && m->size() > 0,
           "Standardizer::load_state_dict: mean ", to_string(m->shape()), " and scale ", to_string(s->shape()),
           " must be equal non-empty row shapes (1, ...)");
  for (auto v : *s) {
    TG_CHECK(ValueError, std::isfinite(double(v)) && v > 0, "Standardizer::load_state_dict: scale ", v,
             " is not positive");
  }
  mean_ = *m;
  scale_ = *s;
}

template class Standardizer<float>;
template class Standardizer<double>;

}  // namespace tapegrad::data
