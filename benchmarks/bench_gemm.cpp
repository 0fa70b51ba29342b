// Single-precision matrix products on one core, every candidate kernel side by side on the
// shapes tapegrad trains with: the numbers that chose the float kernel (benchmarks/README.md,
// "Choosing the float kernel").
//
//   BM_Sgemm/<kernel>/<shape>   GFLOPS (2mnk per call), allocs_per_call, one thread
//   BM_Peak                     the core's clock (a chain of dependent integer adds, one per
//                               cycle), its FMA throughput (independent FMAs on 12 registers),
//                               and peak_GFLOPS = FLOP per cycle x clock
//
// Kernels: tapegrad (kernels::gemm<float> at one thread: the path training takes, plain loops
// and BLAS for tiny and narrow products included), tapegrad_avx512 / tapegrad_avx2 (the
// micro-kernels alone, where the CPU has them), openblas (cblas_sgemm, single-threaded, with
// whatever kernels OpenBLAS picked for this CPU: set OPENBLAS_CORETYPE in the command that runs
// this benchmark to measure others), dnnl (oneDNN's dnnl_sgemm on one OpenMP thread; built when
// libdnnl-dev is installed) and blis (BLIS's cblas_sgemm, loaded at run time when libblis4 is
// installed; its own symbols, so OpenBLAS's are not replaced).
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <dlfcn.h>

#include <ctime>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#ifdef TAPEGRAD_BENCH_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include "alloc_counter.hpp"
#include "detail/sgemm.hpp"
#include "tapegrad/kernels.hpp"

namespace tb = tapegrad_bench;
using tapegrad::Array;

namespace {

struct Shape {
  const char* name;
  std::size_t m, n, k;
  bool ta, tb;
};

// A layer x·W (x: batch x in, W: in x out) is m = batch, n = out, k = in; its backward is
// dX = δ·Wᵀ (batch x in from batch x out, tb) and dW = xᵀ·δ (in x out, ta). The CNN's convolutions
// as im2col products: conv(1→32, 3x3, pad 1) on 28x28 at batch 128 is (128·28·28) x 32 x 9,
// conv(32→64) after 2x2 pooling is (128·14·14) x 64 x 288; their backward as above.
const std::vector<Shape>& shapes() {
  static const std::vector<Shape> s = {
      // XOR [2, 4, 1], batch 4: tapegrad runs these as plain loops (kernels::gemm's small path);
      // the libraries' columns are their call overhead
      {"xor_fwd1", 4, 4, 2, false, false},
      {"xor_dw1", 2, 4, 4, true, false},
      {"xor_dx2", 4, 4, 1, false, true},
      // large MLP [784, 1024, 1024, 1], batch 256
      {"large_fwd1", 256, 1024, 784, false, false},
      {"large_fwd2", 256, 1024, 1024, false, false},
      {"large_fwd3", 256, 1, 1024, false, false},
      {"large_dw1", 784, 1024, 256, true, false},
      {"large_dw2", 1024, 1024, 256, true, false},
      {"large_dw3", 1024, 1, 256, true, false},
      {"large_dx2", 256, 1024, 1024, false, true},
      {"large_dx3", 256, 1024, 1, false, true},
      // Fashion-MNIST MLP [784, 256, 128, 10], batch 128
      {"fashion_fwd1", 128, 256, 784, false, false},
      {"fashion_fwd2", 128, 128, 256, false, false},
      {"fashion_fwd3", 128, 10, 128, false, false},
      {"fashion_dw1", 784, 256, 128, true, false},
      {"fashion_dw2", 256, 128, 128, true, false},
      {"fashion_dw3", 128, 10, 128, true, false},
      {"fashion_dx2", 128, 256, 128, false, true},
      {"fashion_dx3", 128, 128, 10, false, true},
      // small MLP [64, 128, 128, 1], batch 64
      {"small_fwd1", 64, 128, 64, false, false},
      {"small_fwd2", 64, 128, 128, false, false},
      {"small_dw2", 128, 128, 64, true, false},
      {"small_dx2", 64, 128, 128, false, true},
      // batch 4 of the large MLP's first layer: a narrow product
      {"batch4_fwd1", 4, 1024, 784, false, false},
      // the CNN's im2col products
      {"conv1_fwd", 100352, 32, 9, false, false},
      {"conv1_dw", 9, 32, 100352, true, false},
      {"conv2_fwd", 25088, 64, 288, false, false},
      {"conv2_dw", 288, 64, 25088, true, false},
      {"conv2_dcol", 25088, 288, 64, false, true},
  };
  return s;
}

// C = op(A) op(B) with beta = 0, row-major, leading dimensions of whole arrays.
using Sgemm = std::function<void(const Shape&, const Array<float>&, const Array<float>&, Array<float>&)>;
using RawSgemm = void (*)(const Shape&, const float*, const float*, float*);
Sgemm raw(RawSgemm f) {
  return [f](const Shape& s, const Array<float>& a, const Array<float>& b, Array<float>& c) {
    f(s, a.data(), b.data(), c.data());
  };
}

void openblas_sgemm(const Shape& s, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, int(s.m), int(s.n),
              int(s.k), 1.f, a, int(s.ta ? s.m : s.k), b, int(s.tb ? s.k : s.n), 0.f, c, int(s.n));
}

// BLIS's CBLAS, from its own library: dlopen with RTLD_DEEPBIND so that BLIS calls itself, not
// OpenBLAS's symbols of the same names.
using CblasSgemm = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, int, int, int, float, const float*, int,
                            const float*, int, float, float*, int);
CblasSgemm blis_sgemm() {
  static CblasSgemm f = [] {
    void* lib = dlopen("libblis.so.4", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    return lib ? reinterpret_cast<CblasSgemm>(dlsym(lib, "cblas_sgemm")) : nullptr;
  }();
  return f;
}

// OpenMP's thread count for the calling thread, through libgomp as oneDNN loaded it.
void set_omp_threads(int n) {
  using Fn = void (*)(int);
  if (auto f = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"))) f(n);
}

void BM_Sgemm(benchmark::State& state, Shape s, Sgemm f) {
  Array<float> a = xt::zeros<float>(s.ta ? tapegrad::Shape{s.k, s.m} : tapegrad::Shape{s.m, s.k});
  Array<float> b = xt::zeros<float>(s.tb ? tapegrad::Shape{s.n, s.k} : tapegrad::Shape{s.k, s.n});
  Array<float> c = xt::zeros<float>({s.m, s.n});
  a.fill(0.5f);
  b.fill(0.25f);
  for (int i = 0; i < 3; ++i) f(s, a, b, c);  // packing buffers, JIT code
  const tb::AllocStats before = tb::alloc_stats();
  for (auto _ : state) {
    f(s, a, b, c);
    benchmark::ClobberMemory();
  }
  const tb::AllocStats after = tb::alloc_stats();
  const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
  state.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["allocs_per_call"] = double(after.count - before.count) / double(state.iterations());
  state.SetLabel(std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k) + (s.ta ? " Aᵀ" : "") +
                 (s.tb ? " Bᵀ" : ""));
}

#if defined(__x86_64__)
__attribute__((noinline)) std::uint64_t dependent_adds(std::uint64_t n) {
  std::uint64_t x = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    asm volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                 "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
                 : "+r"(x));
  }
  return x;
}

// 12 independent accumulators: more than FMA latency x FMA units on any x86 core, so this runs
// at the FMA units' throughput.
#define TG_FMA12(set1, fmadd, vec)                                                                    \
  vec acc[12];                                                                                       \
  const vec x = set1(0.999f), y = set1(0.001f);                                                      \
  _Pragma("GCC unroll 12") for (int j = 0; j < 12; ++j) acc[j] = set1(float(j));                     \
  for (long i = 0; i < n; ++i) {                                                                     \
    _Pragma("GCC unroll 12") for (int j = 0; j < 12; ++j) acc[j] = fmadd(acc[j], x, y);              \
    asm volatile("" ::"v"(acc[0]), "v"(acc[1]), "v"(acc[2]), "v"(acc[3]), "v"(acc[4]), "v"(acc[5]),   \
                 "v"(acc[6]), "v"(acc[7]), "v"(acc[8]), "v"(acc[9]), "v"(acc[10]), "v"(acc[11]));    \
  }                                                                                                  \
  float out[sizeof(vec) / sizeof(float)];                                                            \
  std::memcpy(out, &acc[0], sizeof(out));                                                            \
  return out[0];

__attribute__((target("avx512f"), noinline)) float fma_avx512(long n) { TG_FMA12(_mm512_set1_ps, _mm512_fmadd_ps, __m512) }
__attribute__((target("avx2,fma"), noinline)) float fma_avx2(long n) { TG_FMA12(_mm256_set1_ps, _mm256_fmadd_ps, __m256) }
#undef TG_FMA12

// CPU time of the calling thread: on a machine shared with other work, time spent descheduled
// would read as a slower clock.
double thread_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}
double seconds(const std::function<void()>& f) {
  const double t0 = thread_seconds();
  f();
  return thread_seconds() - t0;
}

// The clock and FMA throughput measured back to back, best of each over the iterations.
void BM_Peak(benchmark::State& state) {
  using tapegrad::detail::SgemmIsa;
  const SgemmIsa isa = tapegrad::detail::sgemm_cpu_isa();
  if (isa == SgemmIsa::none) {
    state.SkipWithError("no AVX2+FMA on this CPU");
    return;
  }
  const int lanes = isa == SgemmIsa::avx512 ? 16 : 8;
  double best_clock = 0, best_fma = 0;
  for (auto _ : state) {
    const std::uint64_t adds = 50000000;
    const double t_add = seconds([&] { benchmark::DoNotOptimize(dependent_adds(adds)); });
    const long fmas = 20000000;
    const double t_fma = seconds([&] { benchmark::DoNotOptimize(isa == SgemmIsa::avx512 ? fma_avx512(fmas) : fma_avx2(fmas)); });
    best_clock = std::max(best_clock, 8.0 * double(adds) / t_add);
    best_fma = std::max(best_fma, 12.0 * double(fmas) * lanes * 2 / t_fma);
  }
  state.counters["clock_GHz"] = best_clock * 1e-9;
  state.counters["flop_per_cycle"] = best_fma / best_clock;
  state.counters["peak_GFLOPS"] = best_fma * 1e-9;
  state.SetLabel(tapegrad::detail::sgemm_isa_name(isa));
}
#endif

}  // namespace

int main(int argc, char** argv) {
  tapegrad::set_num_threads(1);  // one core: tapegrad's pool, and OpenBLAS's (the pool sets it)
  set_omp_threads(1);            // oneDNN's OpenMP pool, for this (the only calling) thread
  using tapegrad::detail::SgemmIsa;
  std::vector<std::pair<std::string, Sgemm>> kernels;
  kernels.push_back({"tapegrad", [](const Shape& s, const Array<float>& a, const Array<float>& b, Array<float>& c) {
                       tapegrad::kernels::gemm<float>(s.ta, s.tb, 1.f, a, b, 0.f, c);
                     }});
  const SgemmIsa cpu = tapegrad::detail::sgemm_cpu_isa();
  if (cpu == SgemmIsa::avx512) {
    kernels.push_back({"tapegrad_avx512", raw([](const Shape& s, const float* a, const float* b, float* c) {
                         tapegrad::detail::sgemm(SgemmIsa::avx512, s.ta, s.tb, s.m, s.n, s.k, 1.f, a, s.ta ? s.m : s.k, b,
                                                 s.tb ? s.k : s.n, 0.f, c, s.n);
                       })});
  }
  if (int(cpu) >= int(SgemmIsa::avx2)) {
    kernels.push_back({"tapegrad_avx2", raw([](const Shape& s, const float* a, const float* b, float* c) {
                         tapegrad::detail::sgemm(SgemmIsa::avx2, s.ta, s.tb, s.m, s.n, s.k, 1.f, a, s.ta ? s.m : s.k, b,
                                                 s.tb ? s.k : s.n, 0.f, c, s.n);
                       })});
  }
  kernels.push_back({"openblas", raw(openblas_sgemm)});
#ifdef TAPEGRAD_BENCH_DNNL
  kernels.push_back({"dnnl", raw([](const Shape& s, const float* a, const float* b, float* c) {
                       dnnl_sgemm(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', dnnl_dim_t(s.m), dnnl_dim_t(s.n), dnnl_dim_t(s.k), 1.f,
                                  a, dnnl_dim_t(s.ta ? s.m : s.k), b, dnnl_dim_t(s.tb ? s.k : s.n), 0.f, c,
                                  dnnl_dim_t(s.n));
                     })});
#endif
  if (blis_sgemm() != nullptr) {
    kernels.push_back({"blis", raw([](const Shape& s, const float* a, const float* b, float* c) {
                         blis_sgemm()(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans,
                                      int(s.m), int(s.n), int(s.k), 1.f, a, int(s.ta ? s.m : s.k), b,
                                      int(s.tb ? s.k : s.n), 0.f, c, int(s.n));
                       })});
  }
#if defined(__x86_64__)
  benchmark::RegisterBenchmark("BM_Peak", BM_Peak)->Iterations(5)->Unit(benchmark::kMillisecond);
#endif
  for (const Shape& s : shapes()) {
    for (const auto& [name, f] : kernels) {
      benchmark::RegisterBenchmark(("BM_Sgemm/" + name + "/" + s.name).c_str(), BM_Sgemm, s, f)
          ->Unit(benchmark::kMicrosecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("float_kernel", tapegrad::runtime_info());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
