#pragma once
/// Weight initialisers.
#include <cmath>
#include <cstddef>

#include "tapegrad/random.hpp"

namespace tapegrad::nn::init {

/// He (Kaiming) normal initialisation, as the tutorial writes it:
/// `np.random.randn(fan_in, fan_out) * np.sqrt(2.0 / fan_in)`. Throws ValueError when
/// fan_in · fan_out exceeds kMaxNumel (checked_numel).
template <class T>
Array<T> he_normal(std::size_t fan_in, std::size_t fan_out, Rng& rng) {
  const Shape shape{fan_in, fan_out};
  checked_numel("init::he_normal", shape);
  Array<T> w = rng.normal<T>(shape);
  const T scale = T(std::sqrt(2.0 / double(fan_in)));
  for (auto& v : w) v *= scale;
  return w;
}

}  // namespace tapegrad::nn::init
