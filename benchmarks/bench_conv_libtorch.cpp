// bench_conv's convolutions and the CNN's training step in libtorch's C++ frontend (convolutions on
// oneDNN, which Debian's libtorch is built with; the Linear layers' products on OpenBLAS): built
// only when find_package(Torch) succeeds.
//
//   BM_Conv/libtorch/<layer>  torch::conv2d with bias, then backward from a seed gradient of the
//                             output's shape (weight, bias and, for conv2, the input's gradient)
//   BM_CnnStep/libtorch       one training step of examples/fashion_mnist_cnn's network at batch
//                             128: forward, cross_entropy, backward, Adam (lr 1e-3)
//
// Threads: TAPEGRAD_BENCH_THREADS=n calls torch::set_num_threads(n) (oneDNN's and ATen's OpenMP
// pool) and sizes OpenBLAS's pool to n.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "workloads.hpp"

namespace tb = tapegrad_bench;

namespace {

void set_blas_threads(int n) {
  using Fn = void (*)(int);
  if (auto f = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
}

struct Layer {
  const char* name;
  std::int64_t n, cin, h, w, cout, k, pad;
  bool input_grad;
  double flops() const {
    const double macs = double(n * cout * cin * k * k * (h + 2 * pad - k + 1) * (w + 2 * pad - k + 1));
    return 2 * macs * (input_grad ? 3 : 2);
  }
};

const std::vector<Layer>& layers() {
  static const std::vector<Layer> l = {
      {"conv1", 128, 1, 28, 28, 32, 3, 1, false},
      {"conv2", 128, 32, 14, 14, 64, 3, 1, true},
  };
  return l;
}

template <class Step>
void run(benchmark::State& state, double flops, Step&& step) {
  for (int i = 0; i < 3; ++i) step();
  const tb::AllocStats before = tb::alloc_stats();
  for (auto _ : state) step();
  const tb::AllocStats after = tb::alloc_stats();
  state.counters["allocs_per_step"] = double(after.count - before.count) / double(state.iterations());
  if (flops > 0) state.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = torch::get_num_threads();
}

void BM_Conv(benchmark::State& state, const Layer* l) {
  torch::manual_seed(1);
  const auto x = torch::randn({l->n, l->cin, l->h, l->w}).requires_grad_(l->input_grad);
  const auto w = (torch::rand({l->cout, l->cin, l->k, l->k}) * 0.6 - 0.3).requires_grad_(true);
  const auto b = (torch::rand({l->cout}) * 0.6 - 0.3).requires_grad_(true);
  const std::int64_t o = l->h + 2 * l->pad - l->k + 1;
  const auto seed = torch::randn({l->n, l->cout, o, o});
  run(state, l->flops(), [&] {
    if (w.grad().defined()) {
      w.mutable_grad().reset();
      b.mutable_grad().reset();
      if (l->input_grad) x.mutable_grad().reset();
    }
    auto y = torch::conv2d(x, w, b, 1, l->pad);
    y.backward(seed);
  });
}

// The example's network, as benchmarks/fashion_mnist_cnn_libtorch.cpp builds it.
void BM_CnnStep(benchmark::State& state) {
  torch::manual_seed(1);
  namespace nn = torch::nn;
  nn::Sequential model(nn::Conv2d(nn::Conv2dOptions(1, 32, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Flatten(), nn::Linear(3136, 128), nn::ReLU(), nn::Linear(128, 10));
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  const auto x = torch::rand({128, 1, 28, 28});
  const auto y = torch::randint(0, 10, {128}, torch::kInt64);
  run(state, 0, [&] {
    opt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(model->forward(x), y);
    loss.backward();
    opt.step();
    benchmark::DoNotOptimize(loss.item<float>());
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (const int t = tb::bench_threads(); t > 0) {
    torch::set_num_threads(t);
    set_blas_threads(t);
  }
  at::globalContext().setFlushDenormal(true);
  for (const Layer& l : layers()) {
    benchmark::RegisterBenchmark(("BM_Conv/libtorch/" + std::string(l.name)).c_str(), BM_Conv, &l)
        ->UseRealTime()->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("BM_CnnStep/libtorch", BM_CnnStep)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("torch_threads", std::to_string(torch::get_num_threads()));
  benchmark::AddCustomContext("mkldnn", at::hasMKLDNN() ? "yes" : "no");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
