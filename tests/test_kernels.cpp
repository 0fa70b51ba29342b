// kernels::gemm on every path it has, against a reference product in long double: the plain
// loops for tiny products, BLAS (double, and float where tapegrad's kernel does not apply), and
// tapegrad's float micro-kernels for each instruction set this CPU has (AVX2+FMA, AVX-512 with
// its wide and narrow tiles), at one and two threads (where the products are cut into slices),
// for every transpose flag and beta in {0, 1, 0.5}, beta = 0 over a C full of NaN, and shapes
// that exercise the edges of each blocking (partial tiles, several k, row and column blocks).
// Also runtime_info().
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "detail/sgemm.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/kernels.hpp"
#include "tapegrad/random.hpp"

namespace tg = tapegrad;
using tg::Array;
using tg::detail::SgemmIsa;

namespace {

// Restores the thread count and the float kernel when a test ends.
class Restore {
 public:
  Restore() : threads_(tg::num_threads()), isa_(tg::detail::sgemm_isa()) {}
  ~Restore() {
    tg::set_num_threads(threads_);
    tg::detail::set_sgemm_isa(isa_);
  }
  Restore(const Restore&) = delete;
  Restore& operator=(const Restore&) = delete;

 private:
  int threads_;
  SgemmIsa isa_;
};

struct Dims {
  std::size_t m, n, k;
  const char* what;
};

// kSmallGemm = 4096 multiply-adds (src/kernels.cpp) separates the loops from the kernels; one
// row or column of C is a gemv;
// kParallelGemm = 2^21 is where two threads cut a product. The blocking of src/detail/sgemm.cpp:
// tiles of 8 x 32 (AVX-512; 16 x 16 when n <= 16) and 6 x 16 (AVX2), k blocks of at most 384
// (AVX-512) or 256 (AVX2), column blocks of 480 or 160, row blocks of 1536.
const Dims kShapes[] = {
    {3, 5, 7, "tiny: loops"},
    {16, 16, 16, "tiny: loops, at the threshold"},
    {17, 16, 16, "small: just above the threshold"},
    {37, 53, 71, "small: partial tiles in both directions"},
    {64, 128, 128, "small: whole tiles"},
    {50, 10, 70, "small: n <= 16, the narrow tile"},
    {40, 3, 90, "small: three columns, the narrow tile"},
    {5, 60, 90, "small: five rows, a partial tile"},
    {70, 1, 90, "small: one column, gemv"},
    {1, 60, 90, "small: one row, gemv"},
    {1, 1, 500, "small: a dot product"},
    {40, 500, 400, "large: two column blocks, two k blocks, rows cut at two threads"},
    {1600, 48, 40, "large: two row blocks, rows cut"},
    {20, 600, 200, "large: columns cut at two threads"},
    {30, 40, 2000, "large: inner dimension cut at two threads, six k blocks"},
    {3000, 1, 800, "large: one column, rows cut, gemv per slice"},
    {1, 3000, 800, "large: one row, columns cut, gemv per slice"},
};

// The product in long double, and sum |a||b| per element (the scale of its rounding error).
struct Reference {
  std::vector<long double> product, magnitude;
};

template <class T>
Reference reference(bool ta, bool tb, const Array<T>& a, const Array<T>& b, std::size_t m, std::size_t n,
                    std::size_t k) {
  Reference r{std::vector<long double>(m * n), std::vector<long double>(m * n)};
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      long double acc = 0, mag = 0;
      for (std::size_t p = 0; p < k; ++p) {
        const long double x = ta ? a(p, i) : a(i, p), y = tb ? b(j, p) : b(p, j);
        acc += x * y;
        mag += std::fabs(x * y);
      }
      r.product[i * n + j] = acc;
      r.magnitude[i * n + j] = mag;
    }
  }
  return r;
}

// Every element within k·eps·(|alpha| Σ|a||b| + |beta| |c0|) of alpha·AB + beta·c0 (the standard
// bound for a dot product of k terms, plus the final scaling): a wrong element, a skipped
// block, a tile written in the wrong place or a NaN fails it.
template <class T>
void check(const Array<T>& got, const Reference& ref, T alpha, T beta, const Array<T>& c0, std::size_t k,
           const std::string& what) {
  const std::size_t m = got.shape()[0], n = got.shape()[1];
  const long double eps = std::numeric_limits<T>::epsilon();
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const long double want = alpha * ref.product[i * n + j] + (beta == T(0) ? 0.L : beta * c0(i, j));
      const long double scale = std::fabs(alpha) * ref.magnitude[i * n + j] + std::fabs(beta * c0(i, j));
      const long double bound = (k + 2) * eps * scale;
      const long double error = std::fabs(static_cast<long double>(got(i, j)) - want);
      ASSERT_TRUE(error <= bound) << what << " at (" << i << ", " << j << "): got " << double(got(i, j)) << ", want "
                                  << double(want) << ", bound " << double(bound);
    }
  }
}

// Runs every shape, transpose and beta through kernels::gemm at 1 and 2 threads, with the float
// kernel set to `isa` (ignored for double, which is always BLAS).
template <class T>
void check_all(SgemmIsa isa) {
  Restore restore;
  if (std::is_same<T, float>::value) tg::detail::set_sgemm_isa(isa);
  tg::Rng rng(11);
  for (const Dims& d : kShapes) {
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) {
        const Array<T> a = rng.normal<T>(ta ? tg::Shape{d.k, d.m} : tg::Shape{d.m, d.k});
        const Array<T> b = rng.normal<T>(tb ? tg::Shape{d.n, d.k} : tg::Shape{d.k, d.n});
        const Array<T> c0 = rng.normal<T>({d.m, d.n});
        const Reference ref = reference(bool(ta), bool(tb), a, b, d.m, d.n, d.k);
        for (T beta : {T(0), T(1), T(0.5)}) {
          for (int threads : {1, 2}) {
            tg::set_num_threads(threads);
            // beta = 0 must overwrite C without reading it: start from NaN.
            Array<T> c = beta == T(0) ? Array<T>(xt::zeros<T>({d.m, d.n}) * std::numeric_limits<T>::quiet_NaN()) : c0;
            tg::kernels::gemm<T>(bool(ta), bool(tb), T(-1.5), a, b, beta, c);
            const std::string what = std::string(d.what) + " m=" + std::to_string(d.m) + " n=" + std::to_string(d.n) +
                                     " k=" + std::to_string(d.k) + " ta=" + std::to_string(ta) +
                                     " tb=" + std::to_string(tb) + " beta=" + std::to_string(double(beta)) +
                                     " threads=" + std::to_string(threads) + " kernel=" + tg::detail::sgemm_isa_name(isa);
            check(c, ref, T(-1.5), beta, c0, d.k, what);
          }
        }
      }
    }
  }
}

}  // namespace

TEST(Kernels, GemmDoubleMatchesReference) { check_all<double>(SgemmIsa::none); }

TEST(Kernels, GemmFloatBlasMatchesReference) { check_all<float>(SgemmIsa::none); }

TEST(Kernels, GemmFloatAvx2MatchesReference) {
  if (int(tg::detail::sgemm_cpu_isa()) < int(SgemmIsa::avx2)) GTEST_SKIP() << "this CPU has no AVX2+FMA";
  check_all<float>(SgemmIsa::avx2);
}

TEST(Kernels, GemmFloatAvx512MatchesReference) {
  if (int(tg::detail::sgemm_cpu_isa()) < int(SgemmIsa::avx512)) GTEST_SKIP() << "this CPU has no AVX-512";
  check_all<float>(SgemmIsa::avx512);
}

// The kernel entry point itself, on sub-matrices (leading dimensions larger than the rows), which
// kernels::gemm only passes when it cuts a product into slices.
TEST(Kernels, SgemmHonoursLeadingDimensions) {
  tg::Rng rng(13);
  for (SgemmIsa isa : {SgemmIsa::avx2, SgemmIsa::avx512}) {
    if (int(tg::detail::sgemm_cpu_isa()) < int(isa)) continue;
    const std::size_t m = 21, n = 45, k = 33, pad = 7;
    const Array<float> a = rng.normal<float>({m, k + pad}), b = rng.normal<float>({k, n + pad});
    Array<float> c = rng.normal<float>({m, n + pad});
    const Array<float> c0 = c;
    tg::detail::sgemm(isa, false, false, m, n, k, 1.f, a.data(), k + pad, b.data(), n + pad, 0.f, c.data(), n + pad);
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < n + pad; ++j) {
        if (j >= n) {  // outside the product: untouched
          ASSERT_EQ(c(i, j), c0(i, j)) << tg::detail::sgemm_isa_name(isa) << " wrote outside C at (" << i << ", " << j << ")";
          continue;
        }
        double want = 0, mag = 0;
        for (std::size_t p = 0; p < k; ++p) {
          want += double(a(i, p)) * double(b(p, j));
          mag += std::abs(double(a(i, p)) * double(b(p, j)));
        }
        ASSERT_NEAR(double(c(i, j)), want, (k + 2) * 1.2e-7 * mag) << tg::detail::sgemm_isa_name(isa);
      }
    }
  }
}

TEST(Kernels, GemmShapeErrorNamesTheOp) {
  const Array<float> a = xt::zeros<float>({3, 4}), b = xt::zeros<float>({5, 2});
  Array<float> c = xt::zeros<float>({3, 2});
  try {
    tg::kernels::gemm<float>(false, false, 1.f, a, b, 0.f, c);
    FAIL() << "no error";
  } catch (const tg::ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("gemm"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(3, 4)"), std::string::npos) << e.what();
  }
}

TEST(Kernels, RuntimeInfoSaysWhatRunsTheProducts) {
  Restore restore;
  tg::set_num_threads(2);
  std::string info = tg::runtime_info();
  EXPECT_NE(info.find("threads: 2"), std::string::npos) << info;
  EXPECT_NE(info.find("double products: OpenBLAS"), std::string::npos) << info;
  if (tg::detail::sgemm_cpu_isa() != SgemmIsa::none) {
    EXPECT_NE(info.find(std::string("float products: tapegrad sgemm, ") + tg::detail::sgemm_isa_name(tg::detail::sgemm_cpu_isa())),
              std::string::npos)
        << info;
    tg::detail::set_sgemm_isa(SgemmIsa::none);
    info = tg::runtime_info();
  }
  EXPECT_NE(info.find("float products: BLAS"), std::string::npos) << info;
  // Never set here (the project leaves OPENBLAS_CORETYPE to the machine): reported when set.
  if (const char* coretype = std::getenv("OPENBLAS_CORETYPE")) {
    EXPECT_NE(info.find(std::string("OPENBLAS_CORETYPE=") + coretype), std::string::npos) << info;
  } else {
    EXPECT_EQ(info.find("OPENBLAS_CORETYPE"), std::string::npos) << info;
  }
}

TEST(Kernels, ChoosingAKernelTheCpuLacksIsAValueError) {
  Restore restore;
  if (tg::detail::sgemm_cpu_isa() == SgemmIsa::avx512) GTEST_SKIP() << "this CPU has every kernel";
  EXPECT_THROW(tg::detail::set_sgemm_isa(SgemmIsa::avx512), tg::ValueError);
}
