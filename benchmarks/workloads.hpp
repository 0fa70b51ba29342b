#pragma once
// The three training-step workloads of issue 5, shared by bench_step and bench_step_libtorch.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace tapegrad_bench {

struct Workload {
  const char* name;
  std::vector<std::size_t> sizes;  ///< layer sizes, inputs first
  std::size_t batch;
};

inline const std::vector<Workload>& workloads() {
  static const std::vector<Workload> w = {
      {"xor", {2, 4, 1}, 4},
      {"small", {64, 128, 128, 1}, 64},
      {"large", {784, 1024, 1024, 1}, 256},
  };
  return w;
}

/// Nominal floating-point operations of one step: 3 × the forward GEMMs (forward, dX, dW), as
/// the issue counts them (2.85 GFLOP for large). The step really skips dX of the first layer.
inline double step_flops(const Workload& w) {
  double macs = 0;
  for (std::size_t i = 0; i + 1 < w.sizes.size(); ++i) macs += double(w.batch) * double(w.sizes[i]) * double(w.sizes[i + 1]);
  return 3 * 2 * macs;
}

/// Inputs uniform in [-1, 1] and labels in {0, 1}, from a fixed seed (same data in every binary).
inline void make_data(const Workload& w, std::vector<float>& x, std::vector<float>& y) {
  std::mt19937 gen(1234);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  x.resize(w.batch * w.sizes.front());
  for (auto& v : x) v = u(gen);
  y.resize(w.batch * w.sizes.back());
  for (auto& v : y) v = u(gen) > 0.f ? 1.f : 0.f;
}

/// Learning rate of every implementation: small, so that nothing converges to denormals
/// during millions of benchmark steps.
inline constexpr float kLearningRate = 1e-3f;

/// The thread count a benchmark run uses, from TAPEGRAD_BENCH_THREADS (default: 0 = library default).
inline int bench_threads() {
  const char* s = std::getenv("TAPEGRAD_BENCH_THREADS");
  return s ? std::atoi(s) : 0;
}

}  // namespace tapegrad_bench
