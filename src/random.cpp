#include "tapegrad/random.hpp"

#include <cmath>

#include "tapegrad/error.hpp"

namespace tapegrad {

namespace {
// 53 random bits scaled into [0, 1): exact, and the same with every standard library.
double canonical(std::mt19937_64& engine) { return double(engine() >> 11) * 0x1.0p-53; }

// Draws in double and rounds, so float and double weights from one seed agree to float precision.
// The Box–Muller transform is written out: std::normal_distribution's algorithm is not fixed by
// the standard, and bit-identical runs should not depend on the standard library.
double standard_normal(std::mt19937_64& engine, bool& has_spare, double& spare) {
  if (has_spare) {
    has_spare = false;
    return spare;
  }
  double u1;
  do {
    u1 = canonical(engine);
  } while (u1 <= 0.0);
  const double u2 = canonical(engine);
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 6.283185307179586 * u2;
  spare = radius * std::sin(angle);
  has_spare = true;
  return radius * std::cos(angle);
}
}  // namespace

template <class T>
Array<T> Rng::normal(const Shape& shape) {
  checked_numel("Rng::normal", shape);
  Array<T> out(shape);
  bool has_spare = false;
  double spare = 0;
  for (auto& v : out) v = T(standard_normal(engine_, has_spare, spare));
  return out;
}

template <class T>
Array<T> Rng::uniform(const Shape& shape, T low, T high) {
  TG_CHECK(ValueError, low < high, "Rng::uniform: empty range [", low, ", ", high, ")");
  checked_numel("Rng::uniform", shape);
  Array<T> out(shape);
  for (auto& v : out) v = T(low + (high - low) * uniform01());
  return out;
}

double Rng::uniform01() { return canonical(engine_); }

std::uint64_t Rng::below(std::uint64_t n) {
  TG_CHECK(ValueError, n > 0, "Rng::below: n must be positive");
  // Rejection sampling: unbiased, and fixed by this code rather than by the standard library.
  const std::uint64_t limit = ~std::uint64_t(0) - (~std::uint64_t(0) % n);
  std::uint64_t x;
  do {
    x = engine_();
  } while (x >= limit);
  return x % n;
}

template Array<float> Rng::normal<float>(const Shape&);
template Array<double> Rng::normal<double>(const Shape&);
template Array<float> Rng::uniform<float>(const Shape&, float, float);
template Array<double> Rng::uniform<double>(const Shape&, double, double);

}  // namespace tapegrad
