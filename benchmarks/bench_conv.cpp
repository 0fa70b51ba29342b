// The convolutions of examples/fashion_mnist_cnn at batch 128, forward and backward, each layer
// alone (benchmarks/README.md, "Convolutions"):
//
//   BM_Conv/tapegrad/<layer>    conv2d with bias on a tape: forward, then backward from a seed
//                               gradient of the output's shape (weight, bias and, for conv2, the
//                               input's gradient; conv1's input is the data and needs none)
//   BM_Conv/gemm_floor/<layer>  only the matrix products conv2d's lowering makes, on buffers made
//                               beforehand, through the kernel conv2d calls (the batch cut over
//                               tapegrad's pool, one single-threaded product per image and slice)
//   BM_Conv/gemm_best/<layer>   the same products, each kind (forward W·col, dW += dy·colᵀ,
//                               dcol = Wᵀ·dy) through the fastest way this machine has to run it
//                               at the run's thread count, chosen by timing each before the run:
//                               tapegrad's kernel, OpenBLAS, or oneDNN's dnnl_sgemm (with
//                               libdnnl-dev), each either with its own threads per product or one
//                               thread per slice of the batch; the label lists the choices
//   BM_Conv/seed_copy/<layer>   the copy of the seed gradient into the tape that the tapegrad
//                               benchmark includes (Tape::backward(y, seed) copies the seed): what
//                               a layer inside a network does not pay
//   BM_CnnStep/tapegrad         one training step of examples/fashion_mnist_cnn's network
//                               (examples/cnn_network.hpp) at batch 128: forward,
//                               softmax_cross_entropy, backward, Adam (lr 1e-3); bench_conv_libtorch's
//                               BM_CnnStep/libtorch is the same step in libtorch
//
// Layers: conv1 = conv(1→32, 3×3, padding 1) on (128, 1, 28, 28); conv2 = conv(32→64, 3×3,
// padding 1) on (128, 32, 14, 14). Counters: GFLOPS (2·MACs of the step's products: forward, dW
// and, for conv2, dcol), allocs_per_step (heap allocations in the timed loop, after warm-up),
// threads. Times are wall-clock. TAPEGRAD_BENCH_THREADS=n sets tapegrad::set_num_threads(n) and
// the threads OpenBLAS and oneDNN may use.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <dlfcn.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#ifdef TAPEGRAD_BENCH_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include "alloc_counter.hpp"
#include "cnn_network.hpp"
#include "detail/gemm_serial.hpp"
#include "tapegrad/conv.hpp"
#include "tapegrad/parallel.hpp"
#include "tapegrad/random.hpp"
#include "workloads.hpp"

namespace tb = tapegrad_bench;
namespace tg = tapegrad;
using tg::Array;

namespace {

struct Layer {
  const char* name;
  std::size_t n, cin, h, w, cout, k, pad;
  bool input_grad;
  std::size_t oh() const { return h + 2 * pad - k + 1; }
  std::size_t ow() const { return w + 2 * pad - k + 1; }
  std::size_t rows() const { return cin * k * k; }  // im2col rows (one group)
  double macs() const { return double(n) * double(cout) * double(rows()) * double(oh() * ow()); }
  double flops() const { return 2 * macs() * (input_grad ? 3 : 2); }
};

const std::vector<Layer>& layers() {
  static const std::vector<Layer> l = {
      {"conv1", 128, 1, 28, 28, 32, 3, 1, false},
      {"conv2", 128, 32, 14, 14, 64, 3, 1, true},
  };
  return l;
}

template <class Step>
void run(benchmark::State& state, const Layer& layer, Step&& step) {
  for (int i = 0; i < 3; ++i) step();
  const tb::AllocStats before = tb::alloc_stats();
  for (auto _ : state) step();
  const tb::AllocStats after = tb::alloc_stats();
  state.counters["allocs_per_step"] = double(after.count - before.count) / double(state.iterations());
  state.counters["GFLOPS"] = benchmark::Counter(layer.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = tg::num_threads();
}

// ---- tapegrad ---------------------------------------------------------------------------------

void BM_Tapegrad(benchmark::State& state, const Layer* l) {
  tg::Rng rng(1);
  const Array<float> x = rng.normal<float>({l->n, l->cin, l->h, l->w});
  const Array<float> seed = rng.normal<float>({l->n, l->cout, l->oh(), l->ow()});
  tg::Parameter<float> px(x);
  tg::Parameter<float> w(rng.uniform<float>({l->cout, l->cin, l->k, l->k}, -0.3f, 0.3f));
  tg::Parameter<float> b(rng.uniform<float>({l->cout}, -0.3f, 0.3f));
  tg::Tape<float> tape;
  run(state, *l, [&] {
    w.zero_grad();
    b.zero_grad();
    px.zero_grad();
    auto in = l->input_grad ? tape.bind(px) : tape.constant(x);
    auto y = tg::conv2d<float>(in, w, b, 1, tg::Size2(std::int64_t(l->pad)));
    tape.backward(y, seed);
  });
}

void BM_SeedCopy(benchmark::State& state, const Layer* l) {
  std::vector<float> a(l->n * l->cout * l->oh() * l->ow(), 1.f), c(a.size());
  for (auto _ : state) {
    std::memcpy(c.data(), a.data(), a.size() * sizeof(float));
    benchmark::ClobberMemory();
  }
  state.counters["threads"] = tg::num_threads();
}

void BM_CnnStep(benchmark::State& state) {
  tg::Rng rng(1);
  tg::nn::Sequential<float> model;
  examples::build_cnn(model, rng);
  tg::optim::Adam<float> opt(model.parameters(), tg::optim::AdamOptions(1e-3));
  const Array<float> x = rng.uniform<float>({128, 1, 28, 28}, 0.f, 1.f);
  std::vector<std::int64_t> labels(128);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = std::int64_t(i * 7 % 10);
  tg::Tape<float> tape;
  for (int i = 0; i < 3; ++i) {  // warm-up: the tape's buffers and Adam's moments
    opt.zero_grad();
    auto loss = tg::softmax_cross_entropy(model.forward(tape.constant(x)), labels);
    tape.backward(loss);
    opt.step();
  }
  const tb::AllocStats before = tb::alloc_stats();
  for (auto _ : state) {
    opt.zero_grad();
    auto loss = tg::softmax_cross_entropy(model.forward(tape.constant(x)), labels);
    benchmark::DoNotOptimize(loss.item());
    tape.backward(loss);
    opt.step();
  }
  const tb::AllocStats after = tb::alloc_stats();
  state.counters["allocs_per_step"] = double(after.count - before.count) / double(state.iterations());
  state.counters["threads"] = tg::num_threads();
}

// ---- the products of the lowering ---------------------------------------------------------------

// One kind of product, made once per image: C_n = op(A_n) op(B_n) (+ C_n), where each operand is
// either one matrix for the whole batch (the weight, a column buffer) or the image's own slice.
struct Product {
  const char* kind;
  bool ta, tb;
  std::size_t m, n, k;
  const float* a;
  std::size_t a_step;  // per image (0: the same matrix)
  std::size_t lda;
  const float* b;
  std::size_t b_step;
  std::size_t ldb;
  float* c;
  std::size_t c_step;
  std::size_t ldc;
  bool accumulate;  // beta = 1 (onto the bias, or into dW), else 0
  std::size_t images;
  // Per-slice buffers (column buffers, partial weight gradients): slice p adds p * slice_step to
  // every operand whose per-image step is 0 and which the slice writes or owns.
  std::size_t b_slice_step, c_slice_step;
};

float* buffer(std::vector<std::vector<float>>& keep, std::size_t size, tg::Rng& rng) {
  const Array<float> r = rng.uniform<float>({size}, -1.f, 1.f);
  keep.emplace_back(r.begin(), r.end());
  return keep.back().data();
}

// conv2d's products at batch n, as src/conv.cpp makes them: forward W·col (col: the slice's
// buffer), dW += dy·colᵀ (into the slice's partial gradient), dcol = Wᵀ·dy (into the slice's
// buffer). Slices: up to 8.
std::vector<Product> products(const Layer& l, std::vector<std::vector<float>>& keep) {
  tg::Rng rng(2);
  const std::size_t rows = l.rows(), ohw = l.oh() * l.ow(), slices = 8;
  float* w = buffer(keep, l.cout * rows, rng);
  float* col = buffer(keep, slices * rows * ohw, rng);
  float* y = buffer(keep, l.n * l.cout * ohw, rng);
  float* dy = buffer(keep, l.n * l.cout * ohw, rng);
  float* dw = buffer(keep, slices * l.cout * rows, rng);
  float* dcol = buffer(keep, slices * rows * ohw, rng);
  std::vector<Product> p;
  p.push_back({"fwd", false, false, l.cout, ohw, rows, w, 0, rows, col, 0, ohw, y, l.cout * ohw, ohw, true, l.n,
               rows * ohw, 0});
  p.push_back({"dw", false, true, l.cout, rows, ohw, dy, l.cout * ohw, ohw, col, 0, ohw, dw, 0, rows, true, l.n,
               rows * ohw, l.cout * rows});
  if (l.input_grad) {
    p.push_back({"dcol", true, false, rows, ohw, l.cout, w, 0, rows, dy, l.cout * ohw, ohw, dcol, 0, ohw, false, l.n,
                 0, rows * ohw});
  }
  return p;
}

using Call = void (*)(const Product& p, std::size_t image, std::size_t slice);

void call_tapegrad(const Product& p, std::size_t i, std::size_t s) {
  tg::detail::gemm_serial<float>(p.ta, p.tb, p.m, p.n, p.k, 1.f, p.a + i * p.a_step, p.lda,
                                 p.b + i * p.b_step + s * p.b_slice_step, p.ldb, p.accumulate ? 1.f : 0.f,
                                 p.c + i * p.c_step + s * p.c_slice_step, p.ldc);
}

void call_openblas(const Product& p, std::size_t i, std::size_t s) {
  cblas_sgemm(CblasRowMajor, p.ta ? CblasTrans : CblasNoTrans, p.tb ? CblasTrans : CblasNoTrans, int(p.m), int(p.n),
              int(p.k), 1.f, p.a + i * p.a_step, int(p.lda), p.b + i * p.b_step + s * p.b_slice_step, int(p.ldb),
              p.accumulate ? 1.f : 0.f, p.c + i * p.c_step + s * p.c_slice_step, int(p.ldc));
}

using SetThreads = void (*)(int);
SetThreads omp_set_threads() {
  static const auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  return f;
}

#ifdef TAPEGRAD_BENCH_DNNL
void call_dnnl(const Product& p, std::size_t i, std::size_t s) {
  dnnl_sgemm(p.ta ? 'T' : 'N', p.tb ? 'T' : 'N', dnnl_dim_t(p.m), dnnl_dim_t(p.n), dnnl_dim_t(p.k), 1.f,
             p.a + i * p.a_step, dnnl_dim_t(p.lda), p.b + i * p.b_step + s * p.b_slice_step, dnnl_dim_t(p.ldb),
             p.accumulate ? 1.f : 0.f, p.c + i * p.c_step + s * p.c_slice_step, dnnl_dim_t(p.ldc));
}
#endif

// A way to run all images of one product: a kernel, either cut over tapegrad's pool by images
// (each thread one slice, single-threaded calls) or called image after image with the library's
// own threads.
struct Way {
  std::string name;
  Call call;
  bool batch_slices;
};

std::vector<Way> ways(int threads) {
  std::vector<Way> w = {{"tapegrad", call_tapegrad, true}};
  w.push_back({"openblas", call_openblas, false});
#ifdef TAPEGRAD_BENCH_DNNL
  w.push_back({"dnnl", call_dnnl, false});
#endif
  if (threads > 1) {
    w.push_back({"openblas/slices", call_openblas, true});
#ifdef TAPEGRAD_BENCH_DNNL
    w.push_back({"dnnl/slices", call_dnnl, true});
#endif
  }
  return w;
}

struct SliceJob {
  const Product* p;
  Call call;
  int parts;
};

void run_way(const Product& p, const Way& way, int threads) {
  if (!way.batch_slices || threads <= 1) {
    // The library's own threads (one product at a time).
    openblas_set_num_threads(threads);
    if (auto f = omp_set_threads()) f(threads);
    for (std::size_t i = 0; i < p.images; ++i) way.call(p, i, 0);
    openblas_set_num_threads(1);
    return;
  }
  const SliceJob job{&p, way.call, std::min(threads, 8)};
  tg::detail::run_parallel(job.parts, [](const void* c, int part) noexcept {
    const SliceJob& j = *static_cast<const SliceJob*>(c);
    if (auto f = omp_set_threads()) f(1);  // this thread's OpenMP regions, if any, on one thread
    const std::size_t begin = tg::detail::slice_begin(j.p->images, std::size_t(part), std::size_t(j.parts), 1);
    const std::size_t end = tg::detail::slice_begin(j.p->images, std::size_t(part) + 1, std::size_t(j.parts), 1);
    for (std::size_t i = begin; i < end; ++i) j.call(*j.p, i, std::size_t(part));
  }, &job);
}

void BM_Products(benchmark::State& state, const Layer* l, bool best) {
  std::vector<std::vector<float>> keep;
  const std::vector<Product> ps = products(*l, keep);
  const int threads = tg::num_threads();
  std::vector<Way> chosen;
  std::string label;
  for (const Product& p : ps) {
    Way pick = ways(threads)[0];
    if (best) {
      double best_time = 1e30;
      for (const Way& w : ways(threads)) {
        run_way(p, w, threads);
        for (int r = 0; r < 3; ++r) {
          const auto t0 = std::chrono::steady_clock::now();
          run_way(p, w, threads);
          const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          if (t < best_time) {
            best_time = t;
            pick = w;
          }
        }
      }
    }
    chosen.push_back(pick);
    label += std::string(label.empty() ? "" : ",") + p.kind + "=" + pick.name;
  }
  run(state, *l, [&] {
    for (std::size_t i = 0; i < ps.size(); ++i) run_way(ps[i], chosen[i], threads);
    benchmark::ClobberMemory();
  });
  if (best) state.SetLabel(label);
}

}  // namespace

int main(int argc, char** argv) {
  if (const int t = tb::bench_threads(); t > 0) tg::set_num_threads(t);
  for (const Layer& l : layers()) {
    const std::string n = l.name;
    benchmark::RegisterBenchmark(("BM_Conv/tapegrad/" + n).c_str(), BM_Tapegrad, &l)
        ->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("BM_Conv/gemm_floor/" + n).c_str(), BM_Products, &l, false)
        ->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("BM_Conv/gemm_best/" + n).c_str(), BM_Products, &l, true)
        ->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("BM_Conv/seed_copy/" + n).c_str(), BM_SeedCopy, &l)
        ->UseRealTime()->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("BM_CnnStep/tapegrad", BM_CnnStep)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("tapegrad_threads", std::to_string(tg::num_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
