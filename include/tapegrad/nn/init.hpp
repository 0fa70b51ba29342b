#pragma once
/// Weight initialisers.
#include <cmath>
#include <cstddef>

#include "tapegrad/random.hpp"

namespace tapegrad::nn::init {

/// He (Kaiming) normal initialisation, as the tutorial writes it:
/// `np.random.randn(fan_in, fan_out) * np.sqrt(2.0 / fan_in)`.
template <class T>
Array<T> he_normal(std::size_t fan_in, std::size_t fan_out, Rng& rng) {
  Array<T> w = rng.normal<T>({fan_in, fan_out});
  const T scale = T(std::sqrt(2.0 / double(fan_in)));
  for (auto& v : w) v *= scale;
  return w;
}

}  // namespace tapegrad::nn::init
