#pragma once
// tapegrad's own single-precision GEMM for x86-64 CPUs with AVX2+FMA or AVX-512 (src/detail/
// sgemm.cpp), the kernel kernels::gemm<float> runs on such CPUs. Private to the library; the
// tests call the entry points below to check each instruction set on a CPU that has several.
//
// Why its own: measured on the 2-core AVX-512 VM (benchmarks/README.md, "Choosing the float
// kernel"), OpenBLAS 0.3.21 picks its kernels by CPU model (SSE3 Prescott kernels on a CPU it
// does not know), oneDNN's dnnl_sgemm mallocs its packing buffer on every call and runs an
// OpenMP pool of its own, and BLIS 0.9 ran at a third of the machine's peak. This one packs
// into per-thread buffers that are sized once, runs on the calling thread only, and picks its
// micro-kernel by instruction set (CPUID), not by CPU model.
#include <cstddef>

namespace tapegrad::detail {

/// The micro-kernels this file has, best last.
enum class SgemmIsa { none, avx2, avx512 };

/// The best instruction set this CPU (and OS) supports among those above.
SgemmIsa sgemm_cpu_isa();

/// The one kernels::gemm<float> uses: sgemm_cpu_isa() unless set_sgemm_isa chose another.
SgemmIsa sgemm_isa();

/// For tests: route kernels::gemm<float> through `isa` (none = BLAS). Throws ValueError when the
/// CPU lacks it. Not thread-safe against products running at the same time.
void set_sgemm_isa(SgemmIsa isa);

/// "AVX-512", "AVX2+FMA" or "none".
const char* sgemm_isa_name(SgemmIsa isa);

/// C = alpha op(A) op(B) + beta C for row-major matrices on the calling thread, with the
/// micro-kernel of `isa` (not none, and supported by the CPU). m, n, k > 0. beta == 0 overwrites
/// C without reading it, so NaNs in the old C do not propagate. Allocates only the first time a
/// thread calls it (its packing buffers, a fixed size per thread).
void sgemm(SgemmIsa isa, bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
           std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc);

}  // namespace tapegrad::detail
