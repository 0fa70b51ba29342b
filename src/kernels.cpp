#include "tapegrad/kernels.hpp"

#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "detail/gemm_serial.hpp"
#include "detail/sgemm.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/version.hpp"

extern "C" {
// OpenBLAS's own extensions (the library links OpenBLAS; see CMakeLists.txt), declared here so
// that no other BLAS's cblas.h is needed to compile this file.
char* openblas_get_config(void);
char* openblas_get_corename(void);
}

namespace tapegrad::kernels {

namespace {
// A product with one row or one column of C is a matrix-vector product: gemv. OpenBLAS 0.3.21's
// sgemm mallocs a buffer on every call for 1-3 columns with its SkylakeX/Cooperlake kernels
// (measured; gemv does not), and a register tile would be mostly padding there.
void gemv(int m, int n, int k, float alpha, const float* a, int lda, bool ta, const float* b, int ldb, bool tb,
          float beta, float* c, int ldc) {
  if (n == 1) {  // c[:, 0] = op(A) · op(B)[:, 0]
    cblas_sgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, ta ? k : m, ta ? m : k, alpha, a, lda, b, tb ? 1 : ldb,
                beta, c, ldc);
  } else {  // m == 1: c[0, :] = op(B)ᵀ · op(A)[0, :]
    cblas_sgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? n : k, tb ? k : n, alpha, b, ldb, a, ta ? lda : 1,
                beta, c, 1);
  }
}
void gemv(int m, int n, int k, double alpha, const double* a, int lda, bool ta, const double* b, int ldb, bool tb,
          double beta, double* c, int ldc) {
  if (n == 1) {
    cblas_dgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, ta ? k : m, ta ? m : k, alpha, a, lda, b, tb ? 1 : ldb,
                beta, c, ldc);
  } else {
    cblas_dgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? n : k, tb ? k : n, alpha, b, ldb, a, ta ? lda : 1,
                beta, c, 1);
  }
}

// Float products: tapegrad's own kernel wherever the CPU has AVX2+FMA (src/detail/sgemm.cpp says
// why), BLAS elsewhere.
void gemm_call(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha, const float* a, int lda,
               const float* b, int ldb, float beta, float* c, int ldc) {
  if (m == 1 || n == 1) {
    gemv(m, n, k, alpha, a, lda, ta == CblasTrans, b, ldb, tb == CblasTrans, beta, c, ldc);
    return;
  }
  const detail::SgemmIsa isa = detail::sgemm_isa();
  if (isa != detail::SgemmIsa::none) {
    detail::sgemm(isa, ta == CblasTrans, tb == CblasTrans, std::size_t(m), std::size_t(n), std::size_t(k), alpha, a,
                  std::size_t(lda), b, std::size_t(ldb), beta, c, std::size_t(ldc));
    return;
  }
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void gemm_call(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha, const double* a, int lda,
               const double* b, int ldb, double beta, double* c, int ldc) {
  if (m == 1 || n == 1) {
    gemv(m, n, k, alpha, a, lda, ta == CblasTrans, b, ldb, tb == CblasTrans, beta, c, ldc);
    return;
  }
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
// Below this many multiply-adds a BLAS call costs more than the arithmetic (argument checks,
// packing, its buffer lock): XOR's products are 8 to 32 multiply-adds.
constexpr std::size_t kSmallGemm = 4096;

// C = alpha op(A) op(B) + beta C with plain loops, for tiny products. The inner loop runs along
// a row of C so that it vectorises when B is not transposed. beta == 0 overwrites C (NaNs in
// the old C do not propagate), as BLAS does.
template <class T>
void small_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
                const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  for (std::size_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    if (beta == T(0)) {
      std::fill(ci, ci + n, T(0));
    } else if (beta != T(1)) {
      for (std::size_t j = 0; j < n; ++j) ci[j] *= beta;
    }
    for (std::size_t p = 0; p < k; ++p) {
      const T aip = alpha * (ta ? a[p * lda + i] : a[i * lda + p]);
      if (tb) {
        for (std::size_t j = 0; j < n; ++j) ci[j] += aip * b[j * ldb + p];
      } else {
        const T* bp = b + p * ldb;
        for (std::size_t j = 0; j < n; ++j) ci[j] += aip * bp[j];
      }
    }
  }
}

// Products with fewer multiply-adds than this run on one thread: below it, waking a second
// thread and packing the shared operand twice cost more than the second core saves.
constexpr std::size_t kParallelGemm = std::size_t(1) << 21;
// A slice of C spans at least this many rows (or columns), and starts at a multiple of it, so
// that it is made of whole register tiles (8 x 32 in tapegrad's float kernel; OpenBLAS's are
// 16 wide at most).
constexpr std::size_t kSliceAlign = 16;

// How a product is cut among threads. Rows and columns cut C, so slices are independent. The
// inner cut splits k: each thread multiplies its own columns of op(A) by its own rows of op(B),
// into C (slice 0) or a partial product (the others), and the partials are then added to C.
enum class Cut { rows, columns, inner };

// The partial products of an inner cut: one buffer per calling thread (concurrent callers each
// compute their own product), grown to the largest product and then kept, so that a training
// step allocates nothing.
template <class T>
T* partials(std::size_t size) {
  static thread_local std::vector<T> buffer;
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data();
}

// One product, cut into one slice per thread; each slice is an independent single-threaded kernel
// call on sub-matrices of A, B and C. A kernel blocks k by each call's sizes (tapegrad's into
// equal blocks of at most 384, OpenBLAS's its own way), and an inner cut adds partial sums in
// another order, so a float C may differ in its last bits from the
// one-call product (fixed for a given thread count; tests/test_parallel.cpp bounds the difference).
template <class T>
struct GemmJob {
  bool ta, tb;
  std::size_t m, n, k;
  T alpha;
  const T* a;
  std::size_t lda;
  const T* b;
  std::size_t ldb;
  T beta;
  T* c;
  std::size_t ldc;
  int slices = 1;
  Cut cut = Cut::rows;
  T* partial = nullptr;  // inner cut: slices - 1 products of m x n, contiguous

  // The inner cut when each thread's share of k is at least as long as C's longer side, as in a
  // layer's forward product x·W with a batch and an output narrower than the input: thread p
  // then reads only its rows of W, the rows its slice of dW = xᵀ·δ (a row cut) writes and its
  // range of the optimizer's update (Optimizer::update_slices cuts whole rows at the same
  // multiples of 16) updates, so those rows stay in one core's cache. With row slices every
  // thread read all of W just after the other core had updated half of it: on Fashion-MNIST at
  // two threads Adam's step took 280 us instead of 130, and an epoch 0.59 s instead of 0.50.
  // The bound keeps the partial products (m·n per extra thread) small against the product and
  // against the operands. Otherwise C's rows whenever there are enough of them: measured on
  // Fashion-MNIST's products, row slices ran at 1.9x one thread and column slices at 1.4-1.7x.
  void plan(int threads) {
    slices = 1;
    if (threads <= 1 || m * n * k < kParallelGemm) return;
    if (k >= std::size_t(threads) * std::max(m, n)) {
      cut = Cut::inner;
    } else {
      cut = m >= 2 * kSliceAlign || m >= n ? Cut::rows : Cut::columns;
    }
    const std::size_t most = cut_length() / kSliceAlign;
    slices = int(std::max<std::size_t>(1, std::min<std::size_t>(std::size_t(threads), most)));
  }
  std::size_t cut_length() const {
    switch (cut) {
      case Cut::rows: return m;
      case Cut::columns: return n;
      case Cut::inner: return k;
    }
    return m;
  }

  // Where slice p starts, along the side that is cut.
  std::size_t boundary(int p) const {
    return detail::slice_begin(cut_length(), std::size_t(p), std::size_t(slices), kSliceAlign);
  }

  // out[i0:i1, j0:j1] = alpha op(A)[i0:i1, p0:p1] op(B)[p0:p1, j0:j1] + out_beta out[i0:i1, j0:j1],
  // where out has C's shape and leading dimension.
  void run(std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1, std::size_t p0, std::size_t p1, T* out,
           std::size_t ldo, T out_beta) const {
    const T* a0 = ta ? a + p0 * lda + i0 : a + i0 * lda + p0;
    const T* b0 = tb ? b + j0 * ldb + p0 : b + p0 * ldb + j0;
    gemm_call(ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(i1 - i0), int(j1 - j0),
              int(p1 - p0), alpha, a0, int(lda), b0, int(ldb), out_beta, out + i0 * ldo + j0, int(ldo));
  }

  // C += the partial products, split over the pool like an elementwise loop. C is a whole
  // array (ldc == n), so it and the partials are laid out alike.
  void add_partials() const {
    const std::size_t size = m * n, count = std::size_t(slices - 1);
    if (ldc == n) {
      kernels::parallel_for(size, kParallelGrain, [&](std::size_t begin, std::size_t end) {
        for (std::size_t s = 0; s < count; ++s) {
          const T* part = partial + s * size;
          for (std::size_t i = begin; i < end; ++i) c[i] += part[i];
        }
      });
      return;
    }
    // A sub-matrix of a larger C (kernels::gemm on pointers): row by row.
    kernels::parallel_for_rows(m, n, [&](std::size_t begin, std::size_t end) {
      for (std::size_t s = 0; s < count; ++s) {
        for (std::size_t i = begin; i < end; ++i) {
          const T* part = partial + s * size + i * n;
          T* ci = c + i * ldc;
          for (std::size_t j = 0; j < n; ++j) ci[j] += part[j];
        }
      }
    });
  }
};

template <class T>
void gemm_slice(const void* context, int part) noexcept {
  const auto& job = *static_cast<const GemmJob<T>*>(context);
  const std::size_t begin = job.boundary(part), end = job.boundary(part + 1);
  switch (job.cut) {
    case Cut::rows:
      if (begin < end) job.run(begin, end, 0, job.n, 0, job.k, job.c, job.ldc, job.beta);
      break;
    case Cut::columns:
      if (begin < end) job.run(0, job.m, begin, end, 0, job.k, job.c, job.ldc, job.beta);
      break;
    case Cut::inner:
      // Never empty: plan() makes at most k / 16 slices, so each spans at least one item of k
      // (an empty one would leave its partial product unwritten).
      if (part == 0) {
        job.run(0, job.m, 0, job.n, begin, end, job.c, job.ldc, job.beta);
      } else {
        job.run(0, job.m, 0, job.n, begin, end, job.partial + std::size_t(part - 1) * job.m * job.n, job.n, T(0));
      }
      break;
  }
}
}  // namespace

template <class T>
void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
          const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // BLAS leaves C untouched here; the product of empty matrices is zero
    if (beta == T(0)) {
      for (std::size_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    } else if (beta != T(1)) {
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) c[i * ldc + j] *= beta;
      }
    }
    return;
  }
  if (m * n * k <= kSmallGemm) {
    small_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  GemmJob<T> job{ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
  job.plan(num_threads());
  if (job.slices == 1) {
    job.run(0, m, 0, n, 0, k, job.c, job.ldc, beta);
    return;
  }
  const bool inner = job.cut == Cut::inner;
  if (inner) job.partial = partials<T>(std::size_t(job.slices - 1) * m * n);
  detail::run_parallel(job.slices, gemm_slice<T>, &job);
  if (inner) job.add_partials();
}

template <class T>
void gemm(bool ta, bool tb, T alpha, const Array<T>& a, const Array<T>& b, T beta, Array<T>& c) {
  TG_CHECK(ShapeError, a.dimension() == 2 && b.dimension() == 2 && c.dimension() == 2, "gemm: needs 2-D arrays, got ",
           to_string(a.shape()), ", ", to_string(b.shape()), " and C ", to_string(c.shape()));
  const std::size_t m = ta ? a.shape()[1] : a.shape()[0];
  const std::size_t k = ta ? a.shape()[0] : a.shape()[1];
  const std::size_t n = tb ? b.shape()[0] : b.shape()[1];
  TG_CHECK(ShapeError, (tb ? b.shape()[1] : b.shape()[0]) == k && c.shape()[0] == m && c.shape()[1] == n, "gemm: ",
           ta ? "A^T " : "A ", to_string(a.shape()), " @ ", tb ? "B^T " : "B ", to_string(b.shape()), " into C ",
           to_string(c.shape()), ": the shapes do not fit");
  gemm(ta, tb, m, n, k, alpha, a.data(), a.shape()[1], b.data(), b.shape()[1], beta, c.data(), c.shape()[1]);
}

template <class T>
void column_sums(const T* g, std::size_t rows, std::size_t cols, T* out, bool add) {
  if (!add) std::fill(out, out + cols, T(0));
  for (std::size_t i = 0; i < rows; ++i, g += cols) {
    for (std::size_t j = 0; j < cols; ++j) out[j] += g[j];
  }
}

template <class T>
void sum_to(const Array<T>& g, Array<T>& out, bool add) {
  const Shape& gs = g.shape();
  const Shape& os = out.shape();
  if (gs == os) {
    if (add) {
      xt::noalias(out) += g;
    } else {
      std::copy(g.data(), g.data() + g.size(), out.data());
    }
    return;
  }
  if (!add) out.fill(T(0));
  if (out.size() == 1) {  // a scalar broadcast: the total
    T total = 0;
    for (std::size_t i = 0; i < g.size(); ++i) total += g.data()[i];
    out.data()[0] += total;
    return;
  }
  // out's shape, right-aligned to g's rank; 1 where out was broadcast.
  const std::size_t rank = gs.size();
  Shape padded(rank, 1);
  std::copy(os.begin(), os.end(), padded.begin() + (rank - os.size()));
  // A row broadcast (1, ..., 1, n) onto (..., n): column sums, one pass over memory.
  bool rows_only = padded[rank - 1] == gs[rank - 1];
  for (std::size_t d = 0; d + 1 < rank; ++d) rows_only = rows_only && padded[d] == 1;
  if (rows_only) {
    const std::size_t cols = gs[rank - 1];
    column_sums(g.data(), g.size() / std::max<std::size_t>(cols, 1), cols, out.data(), true);
    return;
  }
  // General case: walk g in order with an odometer, tracking the offset into out.
  Shape ostride(rank, 0);
  std::size_t s = 1;
  for (std::size_t d = rank; d-- > 0;) {
    ostride[d] = padded[d] == 1 ? 0 : s;
    s *= padded[d];
  }
  Shape idx(rank, 0);
  std::size_t off = 0;
  T* o = out.data();
  for (std::size_t i = 0; i < g.size(); ++i) {
    o[off] += g.data()[i];
    for (std::size_t d = rank; d-- > 0;) {
      off += ostride[d];
      if (++idx[d] < gs[d]) break;
      off -= ostride[d] * gs[d];
      idx[d] = 0;
    }
  }
}

namespace {
// The float path, for runtime_info().
std::string float_kernel() {
  const detail::SgemmIsa isa = detail::sgemm_isa();
  if (isa == detail::SgemmIsa::none) {
    return std::string("BLAS (this CPU has no AVX2+FMA for tapegrad's kernel)");
  }
  std::string s = std::string("tapegrad sgemm, ") + detail::sgemm_isa_name(isa) + " micro-kernels";
  if (isa != detail::sgemm_cpu_isa()) s += std::string(" (chosen; the CPU has ") + detail::sgemm_isa_name(detail::sgemm_cpu_isa()) + ")";
  return s + " (one row or column: BLAS gemv)";
}
}  // namespace

}  // namespace tapegrad::kernels

namespace tapegrad::detail {

template <class T>
void gemm_serial(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
                 const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // the product of empty matrices is zero; BLAS would leave C untouched
    for (std::size_t i = 0; i < m; ++i) {
      T* ci = c + i * ldc;
      for (std::size_t j = 0; j < n; ++j) ci[j] = beta == T(0) ? T(0) : beta * ci[j];
    }
    return;
  }
  if (m * n * k <= kernels::kSmallGemm) {
    kernels::small_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  kernels::gemm_call(ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k), alpha, a,
                     int(lda), b, int(ldb), beta, c, int(ldc));
}

template <class T>
void gemm_pooled(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
                 const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  if (m == 0 || n == 0 || k == 0 || m * n * k <= kernels::kSmallGemm) {
    gemm_serial(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  kernels::GemmJob<T> job{ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
  job.plan(num_threads());
  if (job.cut == kernels::Cut::inner && ldc != n) job.slices = 1;  // the partials' sum assumes ldc == n
  if (job.slices == 1) {
    job.run(0, m, 0, n, 0, k, job.c, job.ldc, beta);
    return;
  }
  const bool inner = job.cut == kernels::Cut::inner;
  if (inner) job.partial = kernels::partials<T>(std::size_t(job.slices - 1) * m * n);
  run_parallel(job.slices, kernels::gemm_slice<T>, &job);
  if (inner) job.add_partials();
}

template void gemm_pooled<float>(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*, std::size_t,
                                 const float*, std::size_t, float, float*, std::size_t);
template void gemm_pooled<double>(bool, bool, std::size_t, std::size_t, std::size_t, double, const double*,
                                  std::size_t, const double*, std::size_t, double, double*, std::size_t);

template void gemm_serial<float>(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*, std::size_t,
                                 const float*, std::size_t, float, float*, std::size_t);
template void gemm_serial<double>(bool, bool, std::size_t, std::size_t, std::size_t, double, const double*,
                                  std::size_t, const double*, std::size_t, double, double*, std::size_t);

}  // namespace tapegrad::detail

namespace tapegrad::kernels {

template void gemm<float>(bool, bool, float, const Array<float>&, const Array<float>&, float, Array<float>&);
template void gemm<double>(bool, bool, double, const Array<double>&, const Array<double>&, double, Array<double>&);
template void gemm<float>(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*, std::size_t,
                          const float*, std::size_t, float, float*, std::size_t);
template void gemm<double>(bool, bool, std::size_t, std::size_t, std::size_t, double, const double*, std::size_t,
                           const double*, std::size_t, double, double*, std::size_t);
template void sum_to<float>(const Array<float>&, Array<float>&, bool);
template void sum_to<double>(const Array<double>&, Array<double>&, bool);
template void column_sums<float>(const float*, std::size_t, std::size_t, float*, bool);
template void column_sums<double>(const double*, std::size_t, std::size_t, double*, bool);

}  // namespace tapegrad::kernels

namespace tapegrad {

std::string runtime_info() {
  std::string info = std::string("tapegrad ") + version() + "\n";
  info += "float products: " + kernels::float_kernel() + "\n";
  info += std::string("double products: ") + openblas_get_config() + " (" + openblas_get_corename() + " kernels)\n";
  info += "products of up to " + std::to_string(kernels::kSmallGemm) + " multiply-adds: plain loops\n";
  info += "threads: " + std::to_string(num_threads()) + " (tapegrad's pool; BLAS single-threaded)\n";
  if (const char* coretype = std::getenv("OPENBLAS_CORETYPE")) {
    info += std::string("OPENBLAS_CORETYPE=") + coretype + " (OpenBLAS uses these kernels whatever the CPU)\n";
  }
  return info;
}

}  // namespace tapegrad
