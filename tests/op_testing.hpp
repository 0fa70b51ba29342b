#pragma once
// Shared by the op tests: random inputs, a forward check run in float and in double, and
// gradcheck in one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tapegrad/gradcheck.hpp"
#include "tapegrad/random.hpp"
#include "tapegrad/tape.hpp"

namespace op_testing {

namespace tg = tapegrad;
using tg::Array;
using Vars = std::vector<tg::Var<double>>;

inline Array<double> randn(tg::Rng& rng, const tg::Shape& shape) { return rng.normal<double>(shape); }
inline Array<double> uniform(tg::Rng& rng, const tg::Shape& shape, double lo, double hi) {
  return rng.uniform<double>(shape, lo, hi);
}
/// Normal values at least 0.1 away from 0, where kinks of relu-like ops sit.
inline Array<double> away_from_zero(tg::Rng& rng, const tg::Shape& shape) {
  Array<double> a = randn(rng, shape);
  for (auto& v : a) v = v >= 0 ? v + 0.1 : v - 0.1;
  return a;
}
/// 0, 1, 2, ... in `shape`.
inline Array<double> arange(const tg::Shape& shape) {
  Array<double> a = Array<double>::from_shape(shape);
  for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = double(i);
  return a;
}

inline void expect_gradcheck(const tg::GradcheckFn& f, const std::vector<Array<double>>& inputs,
                             tg::GradcheckOptions options = {}) {
  const auto r = tg::gradcheck(f, inputs, options);
  EXPECT_TRUE(r.ok) << r.report();
}

/// f's value for the inputs as constants on a tape of T, in double.
template <class T, class F>
Array<double> forward_in(const F& f, const std::vector<Array<double>>& inputs) {
  tg::Tape<T> tape;
  std::vector<tg::Var<T>> vars;
  for (const auto& a : inputs) vars.push_back(tape.constant(Array<T>(xt::cast<T>(a))));
  return xt::cast<double>(f(vars).value());
}

/// Max |a − b| / (1 + |b|); infinite for different shapes or NaN where the other is not.
inline double difference(const Array<double>& a, const Array<double>& b) {
  if (a.shape() != b.shape()) return INFINITY;
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double u = a.data()[i], v = b.data()[i];
    if (std::isnan(u) || std::isnan(v) || std::isinf(u) || std::isinf(v)) {
      if (!(u == v || (std::isnan(u) && std::isnan(v)))) return INFINITY;
      continue;
    }
    worst = std::max(worst, std::abs(u - v) / (1 + std::abs(v)));
  }
  return worst;
}

/// f (a generic lambda over a vector of Var<T>) gives `expected` in double (to 1e-12) and in float
/// (to `float_tolerance`).
template <class F>
void expect_forward(const F& f, const std::vector<Array<double>>& inputs, const Array<double>& expected,
                    double float_tolerance = 1e-5) {
  const Array<double> d = forward_in<double>(f, inputs);
  EXPECT_EQ(d.shape(), expected.shape());
  EXPECT_LE(difference(d, expected), 1e-12) << "double";
  const Array<double> s = forward_in<float>(f, inputs);
  EXPECT_EQ(s.shape(), expected.shape());
  EXPECT_LE(difference(s, expected), float_tolerance) << "float";
}

/// The gradient of sum(f(x) · seed) with respect to x (a parameter), computed by the tape.
template <class F>
Array<double> gradient(const F& f, const Array<double>& x, const Array<double>* seed = nullptr) {
  tg::Parameter<double> p(x);
  tg::Tape<double> tape;
  const tg::Var<double> y = f(tape.bind(p));
  if (seed) {
    tape.backward(y, *seed);
  } else {
    tape.backward(y, Array<double>(xt::ones<double>(y.shape())));
  }
  return p.grad();
}

}  // namespace op_testing
