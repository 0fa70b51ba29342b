#pragma once
// The sequence workloads of issue 18, shared by bench_seq and bench_seq_libtorch: the sizes and
// the same random data in both binaries.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace tapegrad_bench {

// LSTM: examples/fashion_mnist_lstm's step (each image's 28 rows as 28 steps of 28 pixels).
inline constexpr std::size_t kLstmBatch = 128, kLstmSteps = 28, kLstmInput = 28, kLstmHidden = 128;
inline constexpr std::size_t kClasses = 10;

// Encoder layer: examples/fashion_mnist_vit's layer.
inline constexpr std::size_t kEncBatch = 128, kEncTokens = 16, kEncModel = 64, kEncHeads = 4, kEncFeedforward = 128;

/// n inputs uniform in [0, 1) and labels in [0, 10), from a fixed seed.
inline void make_sequence_data(std::size_t n, std::vector<float>& x, std::vector<std::int64_t>& labels) {
  std::mt19937 gen(1234);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  x.resize(n);
  for (auto& v : x) v = u(gen);
  labels.resize(n);
  for (auto& v : labels) v = std::int64_t(gen() % kClasses);
}

}  // namespace tapegrad_bench
