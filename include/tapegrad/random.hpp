#pragma once
/// A seedable random generator: the same seed gives bit-identical draws, weights and training
/// runs. There is no global generator; pass one where randomness is needed.
///
///     tapegrad::Rng rng(42);
///     auto w = rng.normal<float>({2, 4});   // standard normal, shape (2, 4)
#include <cstdint>
#include <random>

#include "tapegrad/array.hpp"

namespace tapegrad {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) : engine_(seed) {}

  /// An array of independent standard-normal draws. Throws ValueError for a shape of more than
  /// kMaxNumel elements (checked_numel).
  template <class T>
  Array<T> normal(const Shape& shape);
  /// An array of independent uniform draws in [low, high). Throws ValueError for an empty range
  /// or a shape of more than kMaxNumel elements.
  template <class T>
  Array<T> uniform(const Shape& shape, T low = T(0), T high = T(1));
  /// A uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n);
  /// A uniform double in [0, 1).
  double uniform01();

  std::mt19937_64& engine() noexcept { return engine_; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace tapegrad
