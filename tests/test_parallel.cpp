// tapegrad's own GEMM threads: a product cut into slices over the worker pool must give the
// one-thread BLAS call's C to rounding, for every transpose, beta, and cut (rows or columns,
// sides that are not multiples of the slice alignment), the same bits every time at a given
// thread count, and callers on several threads at once must each get their own answer.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "tapegrad/data/dataset.hpp"
#include "tapegrad/kernels.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/optim/adam.hpp"
#include "tapegrad/optim/rmsprop.hpp"
#include "tapegrad/optim/sgd.hpp"
#include "tapegrad/random.hpp"

namespace tg = tapegrad;
using tg::Array;

namespace {

// Restores the thread count when a test ends.
class Threads {
 public:
  Threads() : saved_(tg::num_threads()) {}
  ~Threads() { tg::set_num_threads(saved_); }
  Threads(const Threads&) = delete;
  Threads& operator=(const Threads&) = delete;

 private:
  int saved_;
};

template <class T>
bool bit_identical(const Array<T>& a, const Array<T>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Large enough to be split (over 2^21 multiply-adds: kParallelGemm in src/kernels.cpp): cut by
// rows, by columns (m < 32), or along k with partial products (k >= threads * max(m, n)), with sides that
// are and are not multiples of 16, and one side too short to cut in two.
const std::size_t kShapes[][3] = {{200, 90, 128}, {90, 300, 100}, {256, 256, 48}, {20, 2048, 64},
                                  {1000, 17, 130}, {64, 48, 1400}, {40, 60, 2000}};

// Not bit-identical across thread counts: the kernels (tapegrad's float one, OpenBLAS) block k
// by the sizes of each call, and a slice is a call of other sizes (measured: float products differ in
// their last bits, double ones did not). Rounding-level agreement is what holds: each result is
// within k·eps·(|alpha| Σ|a||b| + |beta| |c|) of the exact one (the standard bound for a dot
// product of k terms), so two results are within twice that of each other.
template <class T>
void expect_close(const Array<T>& got, const Array<T>& want, bool ta, bool tb, T alpha, const Array<T>& a,
                  const Array<T>& b, T beta, const Array<T>& c0, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const std::size_t m = got.shape()[0], n = got.shape()[1], k = ta ? a.shape()[0] : a.shape()[1];
  const double eps = std::numeric_limits<T>::epsilon();
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double magnitude = std::abs(double(beta) * double(c0(i, j)));
      for (std::size_t p = 0; p < k; ++p) {
        magnitude += std::abs(double(alpha) * double(ta ? a(p, i) : a(i, p)) * double(tb ? b(j, p) : b(p, j)));
      }
      ASSERT_NEAR(double(got(i, j)), double(want(i, j)), 2 * double(k) * eps * magnitude)
          << what << " at (" << i << ", " << j << ")";
    }
  }
}

template <class T>
void check_split_matches_one_thread() {
  Threads restore;
  tg::Rng rng(3);
  for (const auto& d : kShapes) {
    const std::size_t m = d[0], n = d[1], k = d[2];
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) {
        for (T beta : {T(0), T(1), T(0.5)}) {
          const Array<T> a = rng.normal<T>(ta ? tg::Shape{k, m} : tg::Shape{m, k});
          const Array<T> b = rng.normal<T>(tb ? tg::Shape{n, k} : tg::Shape{k, n});
          const Array<T> c0 = rng.normal<T>({m, n});
          tg::set_num_threads(1);
          Array<T> one = c0;
          tg::kernels::gemm<T>(ta, tb, T(1.5), a, b, beta, one);
          for (int threads : {2, 3}) {
            tg::set_num_threads(threads);
            ASSERT_EQ(tg::num_threads(), threads);
            // With beta = 0, C's old contents must not matter, NaN included.
            const Array<T> nan = xt::zeros<T>({m, n}) * std::numeric_limits<T>::quiet_NaN();
            const Array<T> start = beta == T(0) ? nan : c0;
            Array<T> split = start, again = start;
            tg::kernels::gemm<T>(ta, tb, T(1.5), a, b, beta, split);
            tg::kernels::gemm<T>(ta, tb, T(1.5), a, b, beta, again);
            const std::string what = "m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" +
                                     std::to_string(k) + " ta=" + std::to_string(ta) + " tb=" + std::to_string(tb) +
                                     " beta=" + std::to_string(double(beta)) + " threads=" + std::to_string(threads);
            expect_close(split, one, bool(ta), bool(tb), T(1.5), a, b, beta, c0, what);
            EXPECT_TRUE(bit_identical(split, again)) << what;
          }
        }
      }
    }
  }
}

}  // namespace

TEST(Parallel, SplitGemmMatchesOneThreadFloat) { check_split_matches_one_thread<float>(); }
TEST(Parallel, SplitGemmMatchesOneThreadDouble) { check_split_matches_one_thread<double>(); }

TEST(Parallel, ConcurrentCallersEachGetTheirOwnProduct) {
  Threads restore;
  tg::set_num_threads(1);
  tg::Rng rng(5);
  constexpr int kCallers = 3;
  std::vector<Array<float>> a, b, want, got;
  for (int i = 0; i < kCallers; ++i) {
    // Callers 0 and 2 cut C's rows; caller 1 cuts k, into its own partial products.
    const std::size_t m = i == 1 ? 64 : 128, n = i == 1 ? 48 : 128, k = i == 1 ? 700 : 192;
    a.push_back(rng.normal<float>({m, k}));
    b.push_back(rng.normal<float>({k, n}));
    want.push_back(xt::zeros<float>({m, n}));
    got.push_back(xt::zeros<float>({m, n}));
    tg::kernels::gemm<float>(false, false, 1.f, a[i], b[i], 0.f, want[i]);
  }
  // Each caller either gets the pool or, while another holds it, computes alone.
  tg::set_num_threads(2);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      for (int rep = 0; rep < 50; ++rep) tg::kernels::gemm<float>(false, false, 1.f, a[i], b[i], 0.f, got[i]);
    });
  }
  for (auto& t : callers) t.join();
  for (int i = 0; i < kCallers; ++i) {
    expect_close(got[i], want[i], false, false, 1.f, a[i], b[i], 0.f, want[i], "caller " + std::to_string(i));
  }
}

TEST(Parallel, ThreadCountBelowOneMeansOne) {
  Threads restore;
  tg::set_num_threads(0);
  EXPECT_EQ(tg::num_threads(), 1);
  tg::set_num_threads(-3);
  EXPECT_EQ(tg::num_threads(), 1);
}

namespace {

// Three steps of `make_optimizer` on one parameter of 100,003 floats (split into ranges at two
// and three threads) with a fixed gradient per step; returns the parameter's final value.
template <class MakeOptimizer>
Array<float> updated(int threads, const MakeOptimizer& make_optimizer) {
  tg::set_num_threads(threads);
  tg::Rng rng(9);
  tg::Parameter<float> w(rng.normal<float>({100003}));
  auto opt = make_optimizer(std::vector<tg::Parameter<float>>{w});
  tg::Tape<float> tape;
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    tape.backward(tg::sum(tg::mul(tape.constant(rng.normal<float>({100003})), w)));
    opt.step();
  }
  return w.value();
}

// Every item's update is independent of the others, so a split changes no bit.
template <class MakeOptimizer>
void expect_same_on_every_thread_count(const char* name, const MakeOptimizer& make_optimizer) {
  const Array<float> one = updated(1, make_optimizer);
  for (int threads : {2, 3}) {
    EXPECT_TRUE(bit_identical(updated(threads, make_optimizer), one)) << name << " at " << threads << " threads";
  }
}

}  // namespace

TEST(Parallel, OptimizerUpdatesAreTheSameOnEveryThreadCount) {
  Threads restore;
  namespace opt = tg::optim;
  using Params = std::vector<tg::Parameter<float>>;
  expect_same_on_every_thread_count("SGD", [](Params p) { return opt::SGD<float>(p, opt::SGDOptions(0.1)); });
  expect_same_on_every_thread_count("SGD nesterov", [](Params p) {
    return opt::SGD<float>(p, opt::SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(1e-2));
  });
  expect_same_on_every_thread_count("Adam amsgrad", [](Params p) {
    return opt::Adam<float>(p, opt::AdamOptions(1e-2).amsgrad(true).weight_decay(1e-2));
  });
  expect_same_on_every_thread_count("AdamW", [](Params p) {
    return opt::AdamW<float>(p, opt::AdamWOptions(1e-2).weight_decay(1e-2));
  });
  expect_same_on_every_thread_count("RMSprop centered momentum", [](Params p) {
    return opt::RMSprop<float>(p, opt::RMSpropOptions(1e-2).centered(true).momentum(0.9));
  });
  expect_same_on_every_thread_count("RMSprop", [](Params p) { return opt::RMSprop<float>(p); });
}

#if defined(__x86_64__)
namespace {
// Half the smallest normal float: subnormal unless the thread flushes it.
float halved_tiny() {
  volatile float tiny = std::numeric_limits<float>::min();
  volatile float half = tiny * 0.5f;
  return half;
}
}  // namespace

TEST(Parallel, FlushSubnormalsLastsAsLongAsTheGuard) {
  ASSERT_NE(halved_tiny(), 0.f) << "the test process already flushes subnormals";
  {
    const tg::kernels::FlushSubnormals flush;
    EXPECT_EQ(halved_tiny(), 0.f);
  }
  EXPECT_NE(halved_tiny(), 0.f);
}

namespace {
// One step with a zero gradient, on a parameter of ones shaped `shape`, from state `key` = a
// subnormal number (1e-39, below std::numeric_limits<float>::min()): the decayed state must come
// out as exactly zero, and the caller's thread must still compute subnormals afterwards.
template <class Opt, class MakeOptimizer>
void expect_subnormal_state_flushed(const std::string& key, const MakeOptimizer& make_optimizer,
                                    const tg::Shape& shape = {2}) {
  tg::Parameter<float> w(Array<float>(xt::ones<float>(shape)));
  Opt opt = make_optimizer(std::vector<tg::Parameter<float>>{w});
  auto state = opt.state_dict();
  state.step = 5;  // past SGD's first-step rule
  for (auto& [name, value] : state.buffers) {
    if (name == key + ".0") value.fill(1e-39f);
  }
  opt.load_state_dict(state);
  opt.zero_grad();
  w.mutable_grad().fill(0.f);
  opt.step();
  for (const auto& [name, value] : opt.state_dict().buffers) {
    if (name == key + ".0") {
      EXPECT_TRUE(xt::all(xt::equal(value, 0.f))) << key << " was not flushed everywhere";
    }
  }
  EXPECT_NE(halved_tiny(), 0.f) << "the step left the caller flushing subnormals";
}
}  // namespace

TEST(Parallel, FlushingOnAWorkerEndsWithItsSlice) {
  Threads restore;
  tg::set_num_threads(2);
  // A parameter of 200 rows of 256: two ranges of rows, the second on the worker.
  expect_subnormal_state_flushed<tg::optim::Adam<float>>(
      "exp_avg", [](std::vector<tg::Parameter<float>> p) { return tg::optim::Adam<float>(p); }, {200, 256});
  // Then a job whose second part surely runs on the worker: the caller's part waits until it
  // has started. The worker must compute subnormals again.
  std::atomic<bool> started{false};
  float on_worker = 0.f;
  tg::kernels::parallel_for(64, 32, [&](std::size_t begin, std::size_t) {
    if (begin != 0) {
      on_worker = halved_tiny();
      started = true;
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!started && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  });
  ASSERT_TRUE(started);
  EXPECT_NE(on_worker, 0.f) << "the worker kept flushing subnormals after the update";
}

TEST(Parallel, OptimizersFlushSubnormalStateToZero) {
  namespace opt = tg::optim;
  using Params = std::vector<tg::Parameter<float>>;
  expect_subnormal_state_flushed<opt::Adam<float>>("exp_avg", [](Params p) { return opt::Adam<float>(p); });
  expect_subnormal_state_flushed<opt::SGD<float>>(
      "momentum_buffer", [](Params p) { return opt::SGD<float>(p, opt::SGDOptions(0.1).momentum(0.9)); });
  expect_subnormal_state_flushed<opt::RMSprop<float>>("square_avg",
                                                      [](Params p) { return opt::RMSprop<float>(p); });
}
#endif

TEST(Parallel, GatherCutAcrossThreadsCopiesEveryRow) {
  Threads restore;
  // A batch of 400 of its 500 rows, 100 features each = 40,000 items: two ranges at two threads.
  const std::size_t rows = 500, cols = 100;
  Array<float> features = xt::zeros<float>({rows, cols});
  Array<float> targets = xt::zeros<float>({rows});
  for (std::size_t r = 0; r < rows; ++r) {
    targets(r) = float(r);
    for (std::size_t c = 0; c < cols; ++c) features(r, c) = float(r * 1000 + c);
  }
  const tg::data::TensorDataset<float> ds(features, targets);
  std::vector<std::size_t> idx(400);
  for (std::size_t k = 0; k < idx.size(); ++k) idx[k] = (k * 7919) % rows;
  tg::set_num_threads(2);
  tg::data::Batch<float> out;
  ds.gather(idx.data(), idx.size(), out);
  ASSERT_EQ(out.features.shape(), (tg::Shape{400, cols}));
  for (std::size_t k = 0; k < idx.size(); ++k) {
    ASSERT_EQ(out.targets(k), float(idx[k])) << "row " << k;
    for (std::size_t c = 0; c < cols; ++c) ASSERT_EQ(out.features(k, c), float(idx[k] * 1000 + c)) << "row " << k;
  }
}
