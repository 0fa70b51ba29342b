#pragma once
// The order in which an epoch visits a dataset: shared by DataLoader and DistributedSampler, so
// that a data-parallel job and one process with the same seed walk the same order.
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "tapegrad/random.hpp"

namespace tapegrad::data::detail {

// Fisher–Yates over 0..n-1 with tapegrad's Rng: the same on every platform.
inline void shuffled_identity(std::vector<std::size_t>& order, std::size_t n, Rng& rng) {
  order.resize(n);
  std::iota(order.begin(), order.end(), std::size_t(0));
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
}

// Epoch `epoch` (from 0) of n examples: shuffled by a generator seeded by (seed, epoch), so its
// order does not depend on how many batches earlier epochs consumed; else 0..n-1.
inline void epoch_order(std::vector<std::size_t>& order, std::size_t n, bool shuffle, std::uint64_t seed,
                        std::uint64_t epoch) {
  if (shuffle) {
    Rng rng(seed ^ (0x9E3779B97F4A7C15ull * (epoch + 1)));
    shuffled_identity(order, n, rng);
  } else {
    order.resize(n);
    std::iota(order.begin(), order.end(), std::size_t(0));
  }
}

}  // namespace tapegrad::data::detail
