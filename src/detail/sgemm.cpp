// tapegrad's single-precision GEMM (see sgemm.hpp for why it exists). The structure is BLIS's
// (Van Zee and van de Geijn, "BLIS: A Framework for Rapidly Instantiating BLAS Functionality",
// 2015), written for row-major C:
//
//   for each block of mb rows of C (all of them, up to 1536)
//     for each block of kc of the inner dimension (beta for the first, then accumulate)
//       pack op(A)[mb x kc] into strips of MR rows    (the panel: packed once, read from L2/L3)
//       for each block of nb columns of C
//         pack op(B)[kc x nb] into strips of NR columns  (the block: stays in L2)
//         for each strip of MR rows                   (stays in L1 for the next loop)
//           for each strip of NR columns: the micro-kernel, MR x NR of C in registers
//
// so that each operand is packed once for the shapes of training (up to 1536 rows), and each
// B block is reused by every strip of A.
//
// Packing makes every operand layout (either transpose) look the same to the micro-kernel and
// pads the edges with zeros, so the micro-kernel always runs whole tiles; only its stores are
// masked to the part of the tile inside C. The micro-kernels are compiled for their instruction
// set with function attributes (not a -m flag on the file), so nothing else in the library
// depends on the CPU; sgemm_cpu_isa() checks CPUID and the OS's register state before any runs.
#include "detail/sgemm.hpp"

#include <algorithm>
#include <cstring>
#include <new>

#include "tapegrad/error.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TAPEGRAD_SGEMM_X86 1
#include <immintrin.h>
#endif

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_ps(), which -Wmaybe-uninitialized
// reports at every inlined use (GCC bug 105593, fixed in GCC 13); the values are defined.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace tapegrad::detail {

namespace {

// Register tiles and cache blocks. AVX-512: 8 rows x 2 vectors of 16 = 16 accumulators, so that
// batches of 64, 128, 256 are whole tiles (12 rows, BLIS's SkylakeX shape, wasted a ninth of a
// 64-row product and was no faster on larger ones; nor were 14 rows, or 3 vectors); kc = 384 keeps
// the A strip (8 x 384 floats, 12 KiB) in a 32 KiB L1 and the B block (384 x 480 floats, 720 KiB)
// in a 1 MiB L2. Products of at most 16 columns take one vector and 16 rows instead. AVX2: 6 x 2
// vectors of 8 = 12 of its 16 registers, a B block (256 x 160, 160 KiB) for a 256 KiB L2 (BLIS's
// Haswell shape). Block sizes within 5% of each other were not told apart on the noisy VM.
struct Avx512Tile {
  static constexpr std::size_t MR = 8, NR = 32, KC = 384, NB = 480, MB = 1536;
};
struct Avx512NarrowTile {
  static constexpr std::size_t MR = 16, NR = 16, KC = 384, NB = 16, MB = 1536;
};
struct Avx2Tile {
  static constexpr std::size_t MR = 6, NR = 16, KC = 256, NB = 160, MB = 1536;
};

// Where strip s + 1 starts after strip s: one cache line more than the strip, so that the strips
// do not start at multiples of 4 KiB from each other (kc x 32 floats often is one), where stores
// into several strips and loads from the rows being packed would alias in the store buffer.
constexpr std::size_t strip_stride(std::size_t kc, std::size_t width) { return kc * width + 16; }

template <class Tile>
constexpr std::size_t a_floats() {
  return Tile::MB / Tile::MR * strip_stride(Tile::KC, Tile::MR);
}
template <class Tile>
constexpr std::size_t b_floats() {
  return Tile::NB / Tile::NR * strip_stride(Tile::KC, Tile::NR);
}

// The packing buffers of one thread: allocated on its first product, then reused, so that a
// training step allocates nothing. Sized for the largest tile set: 3 MiB per thread that multiplies.
struct Buffers {
  static constexpr std::size_t kA = std::max({a_floats<Avx512Tile>(), a_floats<Avx512NarrowTile>(), a_floats<Avx2Tile>()});
  static constexpr std::size_t kB = std::max({b_floats<Avx512Tile>(), b_floats<Avx512NarrowTile>(), b_floats<Avx2Tile>()});
  float* a = static_cast<float*>(::operator new(kA * sizeof(float), std::align_val_t(64)));
  float* b = static_cast<float*>(::operator new(kB * sizeof(float), std::align_val_t(64)));
  Buffers() = default;
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;
  ~Buffers() {
    ::operator delete(a, std::align_val_t(64));
    ::operator delete(b, std::align_val_t(64));
  }
};

Buffers& buffers() {
  static thread_local Buffers instance;
  return instance;
}

// Packing reads each operand along its rows, where memory is contiguous: a row of a row-major
// matrix is 3-4 KiB apart from the next, a page each, and the hardware prefetchers stop at page
// boundaries. Packing B strip by strip (32 floats of one row, then the next row) left 30% of the
// time of a 256 x 1024 x 1024 product in the copy loops, waiting for memory.

// The transposing half of packing: `rows` rows of a matrix stored along p (row i at src + i*ld)
// become strips of `width` of them, strip s at dst + s * strip_stride(kc, width), with
// strip[p * width + i] = src[(s * width + i) * ld + p]; rows past `rows` in the last strip are 0.
using TransposePanel = void (*)(const float* src, std::size_t ld, std::size_t rows, std::size_t kc,
                                std::size_t width, float* dst);

// Portable: reads a strip's rows side by side, a float of each per step, prefetching ahead.
void transpose_panel_scalar(const float* src, std::size_t ld, std::size_t rows, std::size_t kc, std::size_t width,
                            float* dst) {
  for (std::size_t s = 0; s * width < rows; ++s) {
    const float* rows_src = src + s * width * ld;
    const std::size_t n = std::min(width, rows - s * width);
    float* strip = dst + s * strip_stride(kc, width);
    for (std::size_t p = 0; p < kc; ++p) {
      if (p % 16 == 0) {
        for (std::size_t i = 0; i < n; ++i) __builtin_prefetch(rows_src + i * ld + p + 64);
      }
      for (std::size_t i = 0; i < width; ++i) strip[p * width + i] = i < n ? rows_src[i * ld + p] : 0.f;
    }
  }
}

// The A panel: rows i0 .. i0 + mb of op(A), columns p0 .. p0 + kc, as strips of MR rows, strip s
// at dst + s * strip_stride(kc, MR) with strip[p * MR + i] = op(A)[i0 + s*MR + i][p0 + p]; rows
// past mb are 0.
template <std::size_t MR>
void pack_a(TransposePanel transpose, bool ta, const float* a, std::size_t lda, std::size_t i0, std::size_t mb, std::size_t p0,
            std::size_t kc, float* dst) {
  const std::size_t full = mb / MR, rest = mb % MR;
  if (ta) {  // A is k x m: row p of A holds op(A)[i0 .. i0 + mb][p] contiguously
    for (std::size_t p = 0; p < kc; ++p) {
      const float* src = a + (p0 + p) * lda + i0;
      for (std::size_t s = 0; s < full; ++s) {
        float* d = dst + s * strip_stride(kc, MR) + p * MR;
        for (std::size_t i = 0; i < MR; ++i) d[i] = src[s * MR + i];
      }
      if (rest != 0) {
        float* d = dst + full * strip_stride(kc, MR) + p * MR;
        for (std::size_t i = 0; i < MR; ++i) d[i] = i < rest ? src[full * MR + i] : 0.f;
      }
    }
    return;
  }
  // A is m x k: each row of op(A) is contiguous along p.
  transpose(a + i0 * lda + p0, lda, mb, kc, MR, dst);
}

// The B block: rows p0 .. p0 + kc of op(B), columns j0 .. j0 + nb, as strips of NR columns, strip
// s at dst + s * strip_stride(kc, NR) with strip[p * NR + j] = op(B)[p0 + p][j0 + s*NR + j];
// columns past nb are 0.
template <std::size_t NR>
void pack_b(TransposePanel transpose, bool tb, const float* b, std::size_t ldb, std::size_t p0, std::size_t kc, std::size_t j0,
            std::size_t nb, float* dst) {
  const std::size_t full = nb / NR, rest = nb % NR;
  if (!tb) {  // B is k x n: row p of B holds op(B)[p][j0 .. j0 + nb] contiguously
    for (std::size_t p = 0; p < kc; ++p) {
      const float* src = b + (p0 + p) * ldb + j0;
      if (p + 4 < kc) {  // each row is on another page, where the hardware's prefetch stops
        for (std::size_t j = 0; j < nb; j += 16) __builtin_prefetch(src + 4 * ldb + j);
      }
      for (std::size_t s = 0; s < full; ++s) {
        float* d = dst + s * strip_stride(kc, NR) + p * NR;
        for (std::size_t j = 0; j < NR; ++j) d[j] = src[s * NR + j];
      }
      if (rest != 0) {
        float* d = dst + full * strip_stride(kc, NR) + p * NR;
        for (std::size_t j = 0; j < NR; ++j) d[j] = j < rest ? src[full * NR + j] : 0.f;
      }
    }
    return;
  }
  // B is n x k: each column of op(B) is contiguous along p.
  transpose(b + j0 * ldb + p0, ldb, nb, kc, NR, dst);
}

// The micro-kernels: C[0:mr, 0:nr] = alpha * (A strip)(B strip) + beta * C[0:mr, 0:nr], the
// strips packed as above. beta == 0 never reads C.
using MicroKernel = void (*)(std::size_t kc, const float* a, const float* b, float* c, std::size_t ldc,
                             std::size_t mr, std::size_t nr, float alpha, float beta);

#ifdef TAPEGRAD_SGEMM_X86
// The accumulators are named variables, not an array: GCC kept an array of them in memory and
// stored it on every step of the k loop (the AVX2 kernel ran at a sixth of its speed). After the
// loop they go through a small tile on the stack, from which the rows inside C are updated.

template <std::size_t MR, std::size_t NV>
__attribute__((target("avx512f"))) void kernel_avx512(std::size_t kc, const float* a, const float* b, float* c,
                                                      std::size_t ldc, std::size_t mr, std::size_t nr, float alpha,
                                                      float beta) {
  constexpr std::size_t NR = 16 * NV;
  for (std::size_t i = 0; i < mr; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (std::size_t i = 0; i < MR; ++i) {
#pragma GCC unroll 2
    for (std::size_t v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  }
#pragma GCC unroll 2
  for (std::size_t p = 0; p < kc; ++p) {
    __m512 bv[NV];
#pragma GCC unroll 2
    for (std::size_t v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + 16 * v);
#pragma GCC unroll 16
    for (std::size_t i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 2
      for (std::size_t v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += NR;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (mr == MR && nr == NR) {  // a whole tile: straight from the registers
#pragma GCC unroll 16
    for (std::size_t i = 0; i < MR; ++i) {
#pragma GCC unroll 2
      for (std::size_t v = 0; v < NV; ++v) {
        float* ci = c + i * ldc + 16 * v;
        __m512 r = _mm512_mul_ps(va, acc[i][v]);
        if (beta != 0.f) r = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci), r);
        _mm512_storeu_ps(ci, r);
      }
    }
    return;
  }
  // An edge tile: through memory, then the rows and columns inside C.
  alignas(64) float tile[MR * NR];
#pragma GCC unroll 16
  for (std::size_t i = 0; i < MR; ++i) {
#pragma GCC unroll 2
    for (std::size_t v = 0; v < NV; ++v) _mm512_store_ps(tile + i * NR + 16 * v, _mm512_mul_ps(va, acc[i][v]));
  }
  for (std::size_t v = 0; v < NV; ++v) {
    const std::size_t left = nr > 16 * v ? nr - 16 * v : 0;
    const __mmask16 mask = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
    for (std::size_t i = 0; i < mr; ++i) {
      float* ci = c + i * ldc + 16 * v;
      __m512 r = _mm512_load_ps(tile + i * NR + 16 * v);
      if (beta != 0.f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, ci), r);
      _mm512_mask_storeu_ps(ci, mask, r);
    }
  }
}

// 16 rows x 16 floats at a time: 16 loads of whole cache lines, a transpose in registers (the
// usual unpack / shuffle network, 64 shuffles), 16 stores. Reading 32 rows a float at a time
// instead ran a 256 x 1024 x 1024 product with B transposed at 66 GFLOP/s against 90 without.
// Widths 8, 16 and 32: 16 rows are two strips of 8, one of 16, or half of one of 32.
__attribute__((target("avx512f"))) void transpose_panel_avx512(const float* src, std::size_t ld, std::size_t rows,
                                                               std::size_t kc, std::size_t width, float* dst) {
  const std::size_t padded = (rows + width - 1) / width * width, stride = strip_stride(kc, width);
  for (std::size_t g = 0; g < padded; g += 16) {  // 16 rows, read along p side by side
    for (std::size_t p = 0; p < kc; p += 16) {
      const std::size_t pn = std::min<std::size_t>(16, kc - p);
      const __mmask16 load_mask = __mmask16((1u << pn) - 1);
      __m512 r[16];
#pragma GCC unroll 16
      for (std::size_t i = 0; i < 16; ++i) {
        r[i] = g + i < rows ? _mm512_maskz_loadu_ps(load_mask, src + (g + i) * ld + p) : _mm512_setzero_ps();
      }
      __m512 t[16];
#pragma GCC unroll 8
      for (std::size_t i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
      }
#pragma GCC unroll 4
      for (std::size_t i = 0; i < 16; i += 4) {
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
      }
      // r[4q + c] now holds, for rows 4q .. 4q + 3, columns c, c + 4, c + 8, c + 12 (one per
      // 128-bit lane). Two rounds of 128-bit lane shuffles gather each column.
#pragma GCC unroll 4
      for (std::size_t c = 0; c < 4; ++c) {
        t[c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);       // lanes 0, 2 of rows 0-3, 4-7
        t[4 + c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xDD);   // lanes 1, 3
        t[8 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
        t[12 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xDD);
      }
#pragma GCC unroll 4
      for (std::size_t c = 0; c < 4; ++c) {
        r[c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0x88);        // column c
        r[8 + c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0xDD);    // column c + 8
        r[4 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0x88);  // column c + 4
        r[12 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0xDD);  // column c + 12
      }
      // Lanes 0-7 and 8-15 of each column go to the strip (and offset in it) of their rows.
      const std::size_t lo = std::min<std::size_t>(8, padded - g), hi = std::min<std::size_t>(8, padded - g - lo);
      float* lo_dst = dst + g / width * stride + g % width + p * width;
      float* hi_dst = dst + (g + 8) / width * stride + (g + 8) % width + p * width;
      const __mmask16 lo_mask = __mmask16((1u << lo) - 1), hi_mask = __mmask16(((1u << hi) - 1) << 8);
#pragma GCC unroll 16
      for (std::size_t q = 0; q < 16; ++q) {
        if (q < pn) {
          _mm512_mask_storeu_ps(lo_dst + q * width, lo_mask, r[q]);
          if (hi != 0) _mm512_mask_storeu_ps(hi_dst + q * width - 8, hi_mask, r[q]);
        }
      }
    }
  }
}

__attribute__((target("avx2,fma"))) void kernel_avx2(std::size_t kc, const float* a, const float* b, float* c,
                                                     std::size_t ldc, std::size_t mr, std::size_t nr, float alpha,
                                                     float beta) {
  constexpr std::size_t MR = Avx2Tile::MR, NR = Avx2Tile::NR;
  for (std::size_t i = 0; i < mr; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
#define TG_ZERO2(i) __m256 c##i##0 = _mm256_setzero_ps(), c##i##1 = _mm256_setzero_ps();
  TG_ZERO2(0) TG_ZERO2(1) TG_ZERO2(2) TG_ZERO2(3) TG_ZERO2(4) TG_ZERO2(5)
#undef TG_ZERO2
#pragma GCC unroll 4
  for (std::size_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#define TG_FMA2(i)                               \
  {                                              \
    const __m256 ai = _mm256_broadcast_ss(a + (i)); \
    c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);  \
    c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);  \
  }
    TG_FMA2(0) TG_FMA2(1) TG_FMA2(2) TG_FMA2(3) TG_FMA2(4) TG_FMA2(5)
#undef TG_FMA2
    a += MR;
    b += NR;
  }
  alignas(32) float tile[MR * NR];
  const __m256 va = _mm256_set1_ps(alpha);
#define TG_STORE2(i)                                                  \
  _mm256_store_ps(tile + (i) * NR, _mm256_mul_ps(va, c##i##0));      \
  _mm256_store_ps(tile + (i) * NR + 8, _mm256_mul_ps(va, c##i##1));
  TG_STORE2(0) TG_STORE2(1) TG_STORE2(2) TG_STORE2(3) TG_STORE2(4) TG_STORE2(5)
#undef TG_STORE2
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(nr)), lanes);
  const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(nr) - 8), lanes);
  const __m256 vb = _mm256_set1_ps(beta);
  for (std::size_t i = 0; i < mr; ++i) {
    float* ci = c + i * ldc;
    __m256 r0 = _mm256_load_ps(tile + i * NR), r1 = _mm256_load_ps(tile + i * NR + 8);
    if (beta != 0.f) {
      r0 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(ci, m0), r0);
      r1 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(ci + 8, m1), r1);
    }
    _mm256_maskstore_ps(ci, m0, r0);
    _mm256_maskstore_ps(ci + 8, m1, r1);
  }
}
#endif

// Splits len into the fewest blocks of at most `most`, of equal length rounded up to `multiple`:
// 784 with blocks of 384 is three blocks of 262, not 384 + 384 + 16.
std::size_t even_block(std::size_t len, std::size_t most, std::size_t multiple) {
  const std::size_t blocks = (len + most - 1) / most;
  const std::size_t step = (len + blocks - 1) / blocks;
  return (step + multiple - 1) / multiple * multiple;
}

template <class Tile>
void blocked(MicroKernel kernel, TransposePanel transpose, bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha,
             const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  constexpr std::size_t MR = Tile::MR, NR = Tile::NR;
  Buffers& buf = buffers();
  const std::size_t mb_step = even_block(m, Tile::MB, MR), kc_step = even_block(k, Tile::KC, 1);
  const std::size_t nb_step = even_block(n, Tile::NB, NR);
  for (std::size_t i0 = 0; i0 < m; i0 += mb_step) {
    const std::size_t mb = std::min(mb_step, m - i0);
    for (std::size_t p0 = 0; p0 < k; p0 += kc_step) {
      const std::size_t kc = std::min(kc_step, k - p0);
      const float beta_p = p0 == 0 ? beta : 1.f;  // later blocks add to what the first wrote
      pack_a<MR>(transpose, ta, a, lda, i0, mb, p0, kc, buf.a);
      for (std::size_t j0 = 0; j0 < n; j0 += nb_step) {
        const std::size_t nb = std::min(nb_step, n - j0);
        pack_b<NR>(transpose, tb, b, ldb, p0, kc, j0, nb, buf.b);
        for (std::size_t ir = 0; ir < mb; ir += MR) {
          const float* a_strip = buf.a + ir / MR * strip_stride(kc, MR);
          float* c_row = c + (i0 + ir) * ldc + j0;
          const std::size_t mr = std::min(MR, mb - ir);
          for (std::size_t jr = 0; jr < nb; jr += NR) {
            kernel(kc, a_strip, buf.b + jr / NR * strip_stride(kc, NR), c_row + jr, ldc, mr, std::min(NR, nb - jr),
                   alpha, beta_p);
          }
        }
      }
    }
  }
}

SgemmIsa detect() {
#ifdef TAPEGRAD_SGEMM_X86
  // GCC's and clang's checks include the OS's XSAVE state (XCR0), not only CPUID.
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return SgemmIsa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SgemmIsa::avx2;
#endif
  return SgemmIsa::none;
}

SgemmIsa& chosen() {
  static SgemmIsa isa = sgemm_cpu_isa();
  return isa;
}

}  // namespace

SgemmIsa sgemm_cpu_isa() {
  static const SgemmIsa isa = detect();
  return isa;
}

SgemmIsa sgemm_isa() { return chosen(); }

void set_sgemm_isa(SgemmIsa isa) {
  TG_CHECK(ValueError, int(isa) <= int(sgemm_cpu_isa()), "set_sgemm_isa: this CPU has no ", sgemm_isa_name(isa),
           " (best: ", sgemm_isa_name(sgemm_cpu_isa()), ")");
  chosen() = isa;
}

const char* sgemm_isa_name(SgemmIsa isa) {
  switch (isa) {
    case SgemmIsa::avx512: return "AVX-512";
    case SgemmIsa::avx2: return "AVX2+FMA";
    case SgemmIsa::none: break;
  }
  return "none";
}

void sgemm(SgemmIsa isa, bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
           std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
#ifdef TAPEGRAD_SGEMM_X86
  switch (isa) {
    case SgemmIsa::avx512:
      if (n <= 16) {  // one vector per row, twice the rows
        blocked<Avx512NarrowTile>(kernel_avx512<16, 1>, transpose_panel_avx512, ta, tb, m, n, k, alpha, a, lda, b, ldb,
                                  beta, c, ldc);
        return;
      }
      blocked<Avx512Tile>(kernel_avx512<8, 2>, transpose_panel_avx512, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    case SgemmIsa::avx2:
      blocked<Avx2Tile>(kernel_avx2, transpose_panel_scalar, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    case SgemmIsa::none: break;
  }
#endif
  TG_ASSERT(false, "sgemm: no micro-kernel for ", sgemm_isa_name(isa));
}

}  // namespace tapegrad::detail
