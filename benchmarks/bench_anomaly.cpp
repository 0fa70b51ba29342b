// The cost of anomaly mode: one training step with it off (the default) and on, for a tiny
// network (XOR: bookkeeping-bound, where per-op hooks would show) and a batch-256 MLP
// (GEMM-bound, where the per-element NaN/Inf scans show).
#include <benchmark/benchmark.h>

#include "tapegrad/tapegrad.hpp"

namespace tg = tapegrad;

namespace {

template <bool Anomaly>
void step(benchmark::State& state, std::vector<std::size_t> sizes, std::size_t batch) {
  tg::Rng rng(0);
  tg::nn::MLP<float> model(sizes, rng);
  const tg::Array<float> x = rng.normal<float>({batch, sizes.front()});
  tg::Array<float> y = rng.uniform<float>({batch, sizes.back()});
  for (auto& v : y) v = v < 0.5f ? 0.f : 1.f;
  tg::optim::SGD<float> opt(model.parameters(), 0.01);
  tg::Tape<float> tape;
  tg::AnomalyGuard anomaly(Anomaly);
  for (auto _ : state) {
    opt.zero_grad();
    auto loss = tg::bce_with_logits(model.forward(tape.constant(x)), tape.constant(y));
    tape.backward(loss);
    opt.step();
  }
}

void BM_StepXor_AnomalyOff(benchmark::State& s) { step<false>(s, {2, 4, 1}, 4); }
void BM_StepXor_AnomalyOn(benchmark::State& s) { step<true>(s, {2, 4, 1}, 4); }
void BM_StepMlp256_AnomalyOff(benchmark::State& s) { step<false>(s, {784, 256, 10}, 256); }
void BM_StepMlp256_AnomalyOn(benchmark::State& s) { step<true>(s, {784, 256, 10}, 256); }

}  // namespace

BENCHMARK(BM_StepXor_AnomalyOff);
BENCHMARK(BM_StepXor_AnomalyOn);
BENCHMARK(BM_StepMlp256_AnomalyOff)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StepMlp256_AnomalyOn)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
