// The training step of bench_step in libtorch's C++ frontend: nn::Linear layers with ReLU
// between, binary_cross_entropy_with_logits, backward, optim::SGD. Same workloads, data and
// counters as bench_step; built only when find_package(Torch) succeeds.
//
// Threads: TAPEGRAD_BENCH_THREADS=n calls torch::set_num_threads(n) for the run.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "workloads.hpp"

namespace tb = tapegrad_bench;

namespace {

// libtorch's matrix products run on OpenBLAS's own thread pool, which torch::set_num_threads
// does not reach: set it too, when the OpenBLAS loaded with libtorch exposes the call.
void set_blas_threads(int n) {
  using Fn = void (*)(int);
  if (auto f = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
}
int blas_threads() {
  using Fn = int (*)();
  auto f = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return f ? f() : 0;
}

struct TorchNet {
  explicit TorchNet(const tb::Workload& w) {
    torch::manual_seed(42);
    for (std::size_t i = 0; i + 1 < w.sizes.size(); ++i) {
      layers.push_back(torch::nn::Linear(std::int64_t(w.sizes[i]), std::int64_t(w.sizes[i + 1])));
    }
    std::vector<torch::Tensor> params;
    for (auto& l : layers) {
      for (auto& p : l->parameters()) params.push_back(p);
    }
    opt = std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(tb::kLearningRate));
    std::vector<float> xv, yv;
    tb::make_data(w, xv, yv);
    x = torch::from_blob(xv.data(), {std::int64_t(w.batch), std::int64_t(w.sizes.front())}).clone();
    y = torch::from_blob(yv.data(), {std::int64_t(w.batch), std::int64_t(w.sizes.back())}).clone();
  }
  float step() {
    opt->zero_grad();
    torch::Tensor h = x;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      h = layers[i]->forward(h);
      if (i + 1 < layers.size()) h = torch::relu(h);
    }
    torch::Tensor loss = torch::binary_cross_entropy_with_logits(h, y);
    loss.backward();
    opt->step();
    return loss.item<float>();
  }
  std::vector<torch::nn::Linear> layers;
  std::unique_ptr<torch::optim::SGD> opt;
  torch::Tensor x, y;
};

void BM_Torch(benchmark::State& state, const tb::Workload* w) {
  TorchNet net(*w);
  for (int i = 0; i < 3; ++i) net.step();
  const tb::AllocStats before = tb::alloc_stats();
  for (auto _ : state) benchmark::DoNotOptimize(net.step());
  const tb::AllocStats after = tb::alloc_stats();
  const double n = double(state.iterations());
  state.counters["allocs_per_step"] = double(after.count - before.count) / n;
  state.counters["bytes_per_step"] = double(after.bytes - before.bytes) / n;
  state.counters["GFLOPS"] =
      benchmark::Counter(tb::step_flops(*w) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = torch::get_num_threads();
  state.counters["blas_threads"] = blas_threads();
}

}  // namespace

int main(int argc, char** argv) {
  if (const int t = tb::bench_threads(); t > 0) {
    torch::set_num_threads(t);
    set_blas_threads(t);
  }
  for (const auto& w : tb::workloads()) {
    benchmark::RegisterBenchmark(("BM_Step/libtorch/" + std::string(w.name)).c_str(), BM_Torch, &w)
        ->UseRealTime()->Unit(benchmark::kMicrosecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("torch_threads", std::to_string(torch::get_num_threads()));
  benchmark::AddCustomContext("blas_threads", std::to_string(blas_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
