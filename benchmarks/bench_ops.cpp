// The ops that only move data, against memcpy of the same bytes: each benchmark reads and writes
// every byte of its result once, and reports bytes_per_second = (bytes read + bytes written) per
// second, as memcpy's does. Arrays are 16-32 MB, past the caches. Each op runs through the tape
// (NoGradGuard: a constant result, as in evaluation; the backward of each op is the same copy in
// the other direction), on inputs bound as parameters, and the tape is cleared every iteration
// so that its buffers are reused.
// Also: a few elementwise ops, to show that their loops run at memory speed too.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/indexing.hpp"
#include "tapegrad/shape_ops.hpp"

namespace tg = tapegrad;

namespace {

tg::Array<float> filled(const tg::Shape& shape) {
  tg::Rng rng(1);
  return rng.normal<float>(shape);
}

// Runs op(inputs) through a tape each iteration; bytes = 2 × the result's bytes. The inputs are
// parameters bound to the tape (no copy), so only the op is timed.
template <class F>
void run_op(benchmark::State& state, const std::vector<tg::Array<float>>& inputs, F op) {
  std::vector<tg::Parameter<float>> params;
  for (const auto& a : inputs) params.emplace_back(a);
  tg::Tape<float> tape;
  tg::NoGradGuard no_grad;
  std::vector<tg::Var<float>> vars(params.size());
  std::size_t bytes = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < params.size(); ++i) vars[i] = tape.bind(params[i]);
    tg::Var<float> y = op(vars);
    benchmark::DoNotOptimize(y.value().data());
    bytes = 2 * y.size() * sizeof(float);
    tape.clear();
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(bytes));
}

void BM_Memcpy(benchmark::State& state) {
  const std::size_t n = std::size_t(state.range(0));
  std::vector<float> a(n, 1.f), b(n);
  for (auto _ : state) {
    std::memcpy(b.data(), a.data(), n * sizeof(float));
    benchmark::DoNotOptimize(b.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(2 * n * sizeof(float)));
}

void BM_Transpose2D(benchmark::State& state) {
  run_op(state, {filled({2048, 4096})}, [](const auto& v) { return tg::transpose(v[0], 0, 1); });
}

// (N, T, H, D) -> (N, H, T, D): attention's heads, rows of D = 64 floats.
void BM_PermuteHeads(benchmark::State& state) {
  run_op(state, {filled({32, 128, 16, 128})}, [](const auto& v) { return tg::permute(v[0], {0, 2, 1, 3}); });
}

// (N, H, T, D) -> (N, H, D, T): keys transposed for Q·Kᵀ, a tiled transpose per head.
void BM_PermuteLastTwo(benchmark::State& state) {
  run_op(state, {filled({32, 16, 128, 64})}, [](const auto& v) { return tg::permute(v[0], {0, 1, 3, 2}); });
}

void BM_CatLastDim(benchmark::State& state) {
  const auto a = filled({2048, 1024});
  run_op(state, {a, a, a, a}, [](const auto& v) { return tg::cat({v[0], v[1], v[2], v[3]}, 1); });
}

void BM_CatFirstDim(benchmark::State& state) {
  const auto a = filled({1024, 2048});
  run_op(state, {a, a, a, a}, [](const auto& v) { return tg::cat({v[0], v[1], v[2], v[3]}, 0); });
}

// Rows of 512 floats (an embedding table) in a random order.
void BM_IndexSelectRows(benchmark::State& state) {
  tg::Rng rng(2);
  tg::IndexArray idx = tg::IndexArray::from_shape({8192});
  for (auto& i : idx) i = std::int64_t(rng.below(8192));
  run_op(state, {filled({8192, 512})}, [&](const auto& v) { return tg::index_select(v[0], 0, idx); });
}

// The left half of each row: rows of 2048 floats.
void BM_SliceColumns(benchmark::State& state) {
  run_op(state, {filled({4096, 4096})}, [](const auto& v) { return tg::slice(v[0], 1, 0, 2048); });
}

void BM_NarrowRows(benchmark::State& state) {
  run_op(state, {filled({8192, 2048})}, [](const auto& v) { return tg::narrow(v[0], 0, 1024, 4096); });
}

void BM_Reshape(benchmark::State& state) {
  run_op(state, {filled({4096, 2048})}, [](const auto& v) { return tg::reshape(v[0], {2048, -1}); });
}

void BM_LeakyRelu(benchmark::State& state) {
  run_op(state, {filled({4096, 2048})}, [](const auto& v) { return tg::leaky_relu(v[0]); });
}

void BM_Maximum(benchmark::State& state) {
  const auto a = filled({4096, 2048});
  run_op(state, {a, a}, [](const auto& v) { return tg::maximum(v[0], v[1]); });
}

void BM_Gelu(benchmark::State& state) {
  run_op(state, {filled({4096, 2048})}, [](const auto& v) { return tg::gelu(v[0]); });
}

}  // namespace

BENCHMARK(BM_Memcpy)->Arg(8 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Transpose2D)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PermuteHeads)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PermuteLastTwo)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CatLastDim)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CatFirstDim)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_IndexSelectRows)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SliceColumns)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_NarrowRows)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Reshape)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LeakyRelu)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Maximum)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Gelu)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
