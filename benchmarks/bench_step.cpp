// One training step (forward, loss, backward, SGD update; full batch, float32) three ways:
//   tapegrad     the library: MLP module, tape, bce_with_logits, optim::SGD
//   handwritten  the same network and kernels (kernels::gemm, column_sums) with no tape:
//                preallocated buffers and plain loops, the tutorial's backprop by hand
//   gemm_floor   only the GEMM calls of that step, on preallocated buffers, through kernels::gemm
//   gemm_best    the same GEMM calls, each through the fastest kernel the machine has for it at
//                the run's thread count (tapegrad's, OpenBLAS on its own threads, oneDNN on its
//                own OpenMP threads when built with it), chosen by timing each before the run
// and BM_Epoch/<gemm_floor|gemm_best>/fashion: the GEMM calls of one Fashion-MNIST epoch (MLP
// [784, 256, 128, 10], 468 batches of 128 and one of 96), the floor of examples/fashion_mnist.
// The loss is bce_with_logits (sigmoid and BCE fused) in every implementation, libtorch included.
//
// Counters: allocs_per_step / bytes_per_step (heap allocations during the timed loop, counted by
// alloc_counter.cpp), GFLOPS (nominal step FLOPs, see workloads.hpp). BM_Rss/tapegrad/<w> runs
// 10,000 steps after warm-up and reports the resident set size before and after.
//
// Threads: TAPEGRAD_BENCH_THREADS=n sets tapegrad::set_num_threads(n) (OpenBLAS) for the run.
#include <benchmark/benchmark.h>

#include <cblas.h>
#include <dlfcn.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#ifdef TAPEGRAD_BENCH_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include "alloc_counter.hpp"
#include "tapegrad/kernels.hpp"
#include "tapegrad/losses.hpp"
#include "tapegrad/nn/mlp.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/pointwise.hpp"
#include "tapegrad/optim/sgd.hpp"
#include "workloads.hpp"

namespace tb = tapegrad_bench;
using tapegrad::Array;

namespace {

Array<float> to_array(const std::vector<float>& v, std::size_t rows, std::size_t cols) {
  Array<float> a = xt::zeros<float>({rows, cols});
  std::copy(v.begin(), v.end(), a.data());
  return a;
}

// Runs the timed loop and sets the counters every implementation reports.
template <class Step>
void run(benchmark::State& state, const tb::Workload& w, Step&& step) {
  for (int i = 0; i < 3; ++i) step();  // warm-up: pools and BLAS buffers fill here
  const tb::AllocStats before = tb::alloc_stats();
  for (auto _ : state) step();
  const tb::AllocStats after = tb::alloc_stats();
  const double n = double(state.iterations());
  state.counters["allocs_per_step"] = double(after.count - before.count) / n;
  state.counters["bytes_per_step"] = double(after.bytes - before.bytes) / n;
  state.counters["GFLOPS"] =
      benchmark::Counter(tb::step_flops(w) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = tapegrad::num_threads();
}

// ---- tapegrad -------------------------------------------------------------------------------

struct TapegradNet {
  explicit TapegradNet(const tb::Workload& w)
      : rng(42), model(w.sizes, rng), opt(model.parameters(), tb::kLearningRate) {
    std::vector<float> xv, yv;
    tb::make_data(w, xv, yv);
    x = to_array(xv, w.batch, w.sizes.front());
    y = to_array(yv, w.batch, w.sizes.back());
  }
  float step() {
    auto xs = tape.constant(x);
    auto ys = tape.constant(y);
    auto loss = tapegrad::bce_with_logits(model.forward(xs), ys);
    const float l = loss.item();
    opt.zero_grad();
    tape.backward(loss);
    opt.step();
    return l;
  }
  tapegrad::Rng rng;
  tapegrad::nn::MLP<float> model;
  tapegrad::optim::SGD<float> opt;
  tapegrad::Tape<float> tape;
  Array<float> x, y;
};

void BM_Tapegrad(benchmark::State& state, const tb::Workload* w) {
  TapegradNet net(*w);
  run(state, *w, [&] { benchmark::DoNotOptimize(net.step()); });
}

// Resident set size over 10,000 steps after warm-up: flat means nothing accumulates.
void BM_Rss(benchmark::State& state, const tb::Workload* w) {
  TapegradNet net(*w);
  for (int i = 0; i < 100; ++i) net.step();
  const std::uint64_t start = tb::rss_kib();
  const tb::AllocStats before = tb::alloc_stats();
  for (auto _ : state) benchmark::DoNotOptimize(net.step());
  const tb::AllocStats after = tb::alloc_stats();
  const std::uint64_t end = tb::rss_kib();
  state.counters["rss_start_kib"] = double(start);
  state.counters["rss_end_kib"] = double(end);
  state.counters["rss_growth_kib"] = double(end) - double(start);
  state.counters["allocs_total"] = double(after.count - before.count);
}

// ---- handwritten ------------------------------------------------------------------------------

// The same network, forward and backward written out with the library's kernels and no tape.
struct Handwritten {
  explicit Handwritten(const tb::Workload& w) : batch(w.batch) {
    TapegradNet init(w);  // the same initial weights and data as the tapegrad run
    const std::size_t L = w.sizes.size() - 1;
    for (std::size_t l = 0; l < L; ++l) {
      W.push_back(init.model.layer(l).weight().value());
      b.push_back(init.model.layer(l).bias().value());
      dW.push_back(xt::zeros<float>({w.sizes[l], w.sizes[l + 1]}));
      db.push_back(xt::zeros<float>({std::size_t(1), w.sizes[l + 1]}));
      delta.push_back(xt::zeros<float>({batch, w.sizes[l + 1]}));
    }
    h.push_back(init.x);
    for (std::size_t l = 0; l < L; ++l) h.push_back(xt::zeros<float>({batch, w.sizes[l + 1]}));
    y = init.y;
  }

  float step() {
    const std::size_t L = W.size();
    // Forward: h[l+1] = act(h[l]·W + b), ReLU between layers, logits last.
    for (std::size_t l = 0; l < L; ++l) {
      Array<float>& z = h[l + 1];
      const std::size_t n = z.shape()[1];
      for (std::size_t i = 0; i < batch; ++i) std::copy(b[l].data(), b[l].data() + n, z.data() + i * n);
      tapegrad::kernels::gemm(false, false, 1.f, h[l], W[l], 1.f, z);
      if (l + 1 < L) {
        float* p = z.data();
        for (std::size_t i = 0; i < z.size(); ++i) p[i] = p[i] > 0.f ? p[i] : 0.f;
      }
    }
    // Loss and its gradient: bce_with_logits, dz = (σ(z) - y) / N.
    const Array<float>& z = h[L];
    const std::size_t N = z.size();
    double total = 0;
    float* d = delta[L - 1].data();
    for (std::size_t i = 0; i < N; ++i) {
      const float zi = z.data()[i], yi = y.data()[i];
      const float e = std::exp(-std::abs(zi));
      total += double(std::max(zi, 0.f) - zi * yi + std::log1p(e));
      const float sig = zi >= 0.f ? 1.f / (1.f + e) : e / (1.f + e);
      d[i] = (sig - yi) / float(N);
    }
    // Backward and update.
    for (std::size_t l = L; l-- > 0;) {
      tapegrad::kernels::gemm(true, false, 1.f, h[l], delta[l], 0.f, dW[l]);
      tapegrad::kernels::column_sums(delta[l].data(), batch, delta[l].shape()[1], db[l].data(), false);
      if (l > 0) {
        tapegrad::kernels::gemm(false, true, 1.f, delta[l], W[l], 0.f, delta[l - 1]);
        float* dp = delta[l - 1].data();
        const float* hp = h[l].data();
        for (std::size_t i = 0; i < delta[l - 1].size(); ++i) dp[i] = hp[i] > 0.f ? dp[i] : 0.f;
      }
    }
    for (std::size_t l = 0; l < L; ++l) {
      float* wp = W[l].data();
      const float* gp = dW[l].data();
      // Cut across threads like optim::SGD's update, so that both use the same kernels.
      tapegrad::kernels::parallel_for(W[l].size(), tapegrad::kernels::kParallelGrain, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t i = lo; i < hi; ++i) wp[i] -= tb::kLearningRate * gp[i];
      });
      float* bp = b[l].data();
      const float* gb = db[l].data();
      for (std::size_t i = 0; i < b[l].size(); ++i) bp[i] -= tb::kLearningRate * gb[i];
    }
    return float(total / double(N));
  }

  std::size_t batch;
  std::vector<Array<float>> W, b, dW, db, delta, h;
  Array<float> y;
};

void BM_Handwritten(benchmark::State& state, const tb::Workload* w) {
  Handwritten net(*w);
  run(state, *w, [&] { benchmark::DoNotOptimize(net.step()); });
}

// ---- gemm_floor, gemm_best ---------------------------------------------------------------------

// One GEMM call of a step: C = op(A) op(B) + beta C.
struct Product {
  bool ta, tb;
  const Array<float>* a;
  const Array<float>* b;
  float beta;
  Array<float>* c;
};

// The step's products, in order: forward h·W (onto the bias, beta 1), backward hᵀ·δ and δ·Wᵀ
// (no δ for the input).
std::vector<Product> step_products(Handwritten& net) {
  std::vector<Product> p;
  const std::size_t L = net.W.size();
  for (std::size_t l = 0; l < L; ++l) p.push_back({false, false, &net.h[l], &net.W[l], 1.f, &net.h[l + 1]});
  for (std::size_t l = L; l-- > 0;) {
    p.push_back({true, false, &net.h[l], &net.delta[l], 0.f, &net.dW[l]});
    if (l > 0) p.push_back({false, true, &net.delta[l], &net.W[l], 0.f, &net.delta[l - 1]});
  }
  return p;
}

void run_tapegrad(const Product& p, int) { tapegrad::kernels::gemm(p.ta, p.tb, 1.f, *p.a, *p.b, p.beta, *p.c); }

void cblas(const Product& p) {
  const int m = int(p.c->shape()[0]), n = int(p.c->shape()[1]), k = int(p.ta ? p.a->shape()[0] : p.a->shape()[1]);
  cblas_sgemm(CblasRowMajor, p.ta ? CblasTrans : CblasNoTrans, p.tb ? CblasTrans : CblasNoTrans, m, n, k, 1.f,
              p.a->data(), int(p.a->shape()[1]), p.b->data(), int(p.b->shape()[1]), p.beta, p.c->data(), n);
}

// OpenBLAS on its own pool of `threads` (tapegrad keeps it at one thread otherwise).
void run_openblas(const Product& p, int threads) {
  openblas_set_num_threads(threads);
  cblas(p);
  openblas_set_num_threads(1);
}

#ifdef TAPEGRAD_BENCH_DNNL
// oneDNN on its own OpenMP pool of `threads`; libgomp came with oneDNN.
void run_dnnl(const Product& p, int threads) {
  using Fn = void (*)(int);
  static const Fn set_threads = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (set_threads) set_threads(threads);
  const dnnl_dim_t m = dnnl_dim_t(p.c->shape()[0]), n = dnnl_dim_t(p.c->shape()[1]);
  const dnnl_dim_t k = dnnl_dim_t(p.ta ? p.a->shape()[0] : p.a->shape()[1]);
  dnnl_sgemm(p.ta ? 'T' : 'N', p.tb ? 'T' : 'N', m, n, k, 1.f, p.a->data(), dnnl_dim_t(p.a->shape()[1]), p.b->data(),
             dnnl_dim_t(p.b->shape()[1]), p.beta, p.c->data(), n);
}
#endif

using Kernel = void (*)(const Product&, int threads);
const std::vector<std::pair<const char*, Kernel>>& candidates() {
  static const std::vector<std::pair<const char*, Kernel>> c = {
      {"tapegrad", run_tapegrad},
      {"openblas", run_openblas},
#ifdef TAPEGRAD_BENCH_DNNL
      {"dnnl", run_dnnl},
#endif
  };
  return c;
}

// For each product, the candidate with the shortest time (best of 7 after 2 warm-up calls).
std::vector<Kernel> fastest(const std::vector<Product>& products, int threads, std::string& chosen) {
  std::vector<Kernel> best;
  for (const Product& p : products) {
    double best_time = 1e30;
    Kernel best_kernel = run_tapegrad;
    const char* best_name = "tapegrad";
    for (const auto& [name, kernel] : candidates()) {
      kernel(p, threads);
      kernel(p, threads);
      for (int r = 0; r < 7; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        kernel(p, threads);
        const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (t < best_time) {
          best_time = t;
          best_kernel = kernel;
          best_name = name;
        }
      }
    }
    best.push_back(best_kernel);
    chosen += std::string(chosen.empty() ? "" : ",") + best_name;
  }
  return best;
}

void BM_GemmFloor(benchmark::State& state, const tb::Workload* w) {
  Handwritten net(*w);
  const std::vector<Product> products = step_products(net);
  run(state, *w, [&] {
    for (const Product& p : products) run_tapegrad(p, 0);
    benchmark::ClobberMemory();
  });
}

void BM_GemmBest(benchmark::State& state, const tb::Workload* w) {
  Handwritten net(*w);
  const std::vector<Product> products = step_products(net);
  const int threads = tapegrad::num_threads();
  std::string chosen;
  const std::vector<Kernel> kernels = fastest(products, threads, chosen);
  run(state, *w, [&] {
    for (std::size_t i = 0; i < products.size(); ++i) kernels[i](products[i], threads);
    benchmark::ClobberMemory();
  });
  state.SetLabel(chosen);  // the kernel chosen for each product, in step order
}

// Fashion-MNIST's MLP as examples/fashion_mnist trains it: 60,000 images in batches of 128.
const tb::Workload kFashion{"fashion", {784, 256, 128, 10}, 128};
const tb::Workload kFashionTail{"fashion_tail", {784, 256, 128, 10}, 60000 % 128};
constexpr int kFashionBatches = 60000 / 128;

void BM_Epoch(benchmark::State& state, bool best) {
  Handwritten full(kFashion), tail(kFashionTail);
  const std::vector<Product> pf = step_products(full), pt = step_products(tail);
  const int threads = tapegrad::num_threads();
  std::string chosen_full, chosen_tail;
  std::vector<Kernel> kf(pf.size(), run_tapegrad), kt(pt.size(), run_tapegrad);
  if (best) {
    kf = fastest(pf, threads, chosen_full);
    kt = fastest(pt, threads, chosen_tail);
  }
  auto epoch = [&] {
    for (int batch = 0; batch < kFashionBatches; ++batch) {
      for (std::size_t i = 0; i < pf.size(); ++i) kf[i](pf[i], threads);
    }
    for (std::size_t i = 0; i < pt.size(); ++i) kt[i](pt[i], threads);
    benchmark::ClobberMemory();
  };
  epoch();
  const tb::AllocStats before = tb::alloc_stats();
  for (auto _ : state) epoch();
  const tb::AllocStats after = tb::alloc_stats();
  state.counters["allocs_per_epoch"] = double(after.count - before.count) / double(state.iterations());
  state.counters["threads"] = threads;
  if (best) state.SetLabel(chosen_full);
}

}  // namespace

int main(int argc, char** argv) {
  if (const int t = tb::bench_threads(); t > 0) tapegrad::set_num_threads(t);
  for (const auto& w : tb::workloads()) {
    const std::string name = w.name;
    benchmark::RegisterBenchmark(("BM_Step/tapegrad/" + name).c_str(), BM_Tapegrad, &w)->UseRealTime()->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("BM_Step/handwritten/" + name).c_str(), BM_Handwritten, &w)
        ->UseRealTime()->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("BM_Step/gemm_floor/" + name).c_str(), BM_GemmFloor, &w)->UseRealTime()->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("BM_Step/gemm_best/" + name).c_str(), BM_GemmBest, &w)->UseRealTime()->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("BM_Epoch/gemm_floor/fashion", BM_Epoch, false)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_Epoch/gemm_best/fashion", BM_Epoch, true)->UseRealTime()->Unit(benchmark::kMillisecond);
  for (const auto& w : tb::workloads()) {
    if (std::string(w.name) == "large") continue;  // 10,000 large steps take minutes
    benchmark::RegisterBenchmark(("BM_Rss/tapegrad/" + std::string(w.name)).c_str(), BM_Rss, &w)
        ->Iterations(10000)
        ->UseRealTime()->Unit(benchmark::kMicrosecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("tapegrad_threads", std::to_string(tapegrad::num_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
