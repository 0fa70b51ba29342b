// max_pool2d 2×2 / stride 2 on AVX-512 (see maxpool2x2.hpp).
#include "detail/maxpool2x2.hpp"

#include <algorithm>

#include "detail/sgemm.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TAPEGRAD_MAXPOOL_X86 1
#include <immintrin.h>
#endif

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC bug 105593, as in sgemm.cpp
#endif

namespace tapegrad::detail {

#ifdef TAPEGRAD_MAXPOOL_X86
namespace {

__attribute__((target("avx512f"))) inline __mmask16 first(std::size_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u);
}

// The even and odd columns of 32 values of a row (lanes past `n` values read as zero).
struct Split {
  __m512 even, odd;
};
__attribute__((target("avx512f"))) inline Split split(const float* row, std::size_t n) {
  const __m512 lo = _mm512_maskz_loadu_ps(first(n), row);
  const __m512 hi = _mm512_maskz_loadu_ps(first(n > 16 ? n - 16 : 0), row + 16);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  return {_mm512_permutex2var_ps(lo, even, hi), _mm512_permutex2var_ps(lo, odd, hi)};
}

// The scan's max of (x, y), x first: y when y > x or y is NaN.
__attribute__((target("avx512f"))) inline __m512 scan_max(__m512 x, __m512 y) {
  const __mmask16 take = _mm512_cmp_ps_mask(y, x, _CMP_GT_OQ) | _mm512_cmp_ps_mask(y, y, _CMP_UNORD_Q);
  return _mm512_mask_blend_ps(take, x, y);
}

// Stores 16 values at d: whole, unless that would run past `end` (Zen 4's masked stores are slow).
__attribute__((target("avx512f"))) inline void store(float* d, const float* end, __m512 v) {
  if (d + 16 <= end) {
    _mm512_storeu_ps(d, v);
  } else {
    _mm512_mask_storeu_ps(d, first(std::size_t(end - d)), v);
  }
}

__attribute__((target("avx512f"))) void forward(const float* in, std::size_t w, float* out, std::size_t oh,
                                                std::size_t ow) {
  for (std::size_t oy = 0; oy < oh; ++oy) {
    const float* r0 = in + 2 * oy * w;
    const float* r1 = r0 + w;
    for (std::size_t ox = 0; ox < ow; ox += 16) {
      const std::size_t n = std::min<std::size_t>(32, 2 * (ow - ox));  // input columns of these windows
      const Split a = split(r0 + 2 * ox, n), c = split(r1 + 2 * ox, n);
      const __m512 y = scan_max(scan_max(a.even, a.odd), scan_max(c.even, c.odd));
      store(out + oy * ow + ox, out + oh * ow, y);  // in increasing order: see backward
    }
  }
}

__attribute__((target("avx512f"))) void backward(const float* in, const float* out, const float* gout, std::size_t h,
                                                 std::size_t w, std::size_t oh, std::size_t ow, float* din, bool add) {
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  float* const end = din + h * w;
  for (std::size_t oy = 0; oy < oh; ++oy) {
    const float* r0 = in + 2 * oy * w;
    const float* r1 = r0 + w;
    float* d0 = din + 2 * oy * w;
    float* d1 = d0 + w;
    // Whole 16-value stores where what they write past a row's end (the columns no window covers,
    // or the next row's first ones) is written again after: row 1 of the pair always (the next
    // pair comes later), row 0 when the row is one chunk (row 1 is written just after; with more
    // chunks, row 1's first chunk is already written, and row 0's stores stop at its end).
    float* const row0_end = ow <= 16 ? end : d0 + w;
    for (std::size_t ox = 0; ox < ow; ox += 16) {
      const std::size_t n = std::min<std::size_t>(32, 2 * (ow - ox));
      const __mmask16 lanes = first(ow - ox);
      const Split a = split(r0 + 2 * ox, n), c = split(r1 + 2 * ox, n);
      const __m512 y = _mm512_maskz_loadu_ps(lanes, out + oy * ow + ox);
      const __m512 g = _mm512_maskz_loadu_ps(lanes, gout + oy * ow + ox);
      // The scan's position: the first of a, b, c, d equal to y; where y is NaN, the last NaN.
      const __mmask16 nan_y = _mm512_cmp_ps_mask(y, y, _CMP_UNORD_Q);
      const __mmask16 nan_b = _mm512_cmp_ps_mask(a.odd, a.odd, _CMP_UNORD_Q);
      const __mmask16 nan_c = _mm512_cmp_ps_mask(c.even, c.even, _CMP_UNORD_Q);
      const __mmask16 nan_d = _mm512_cmp_ps_mask(c.odd, c.odd, _CMP_UNORD_Q);
      const __mmask16 eq_a = _mm512_cmp_ps_mask(a.even, y, _CMP_EQ_OQ);
      const __mmask16 eq_b = _mm512_cmp_ps_mask(a.odd, y, _CMP_EQ_OQ);
      const __mmask16 eq_c = _mm512_cmp_ps_mask(c.even, y, _CMP_EQ_OQ);
      const __mmask16 eq_d = _mm512_cmp_ps_mask(c.odd, y, _CMP_EQ_OQ);
      const __mmask16 num = __mmask16(~nan_y);
      const __mmask16 sel_d = (nan_y & nan_d) | (num & eq_d & __mmask16(~(eq_a | eq_b | eq_c)));
      const __mmask16 sel_c = (nan_y & nan_c & __mmask16(~nan_d)) | (num & eq_c & __mmask16(~(eq_a | eq_b)));
      const __mmask16 sel_b =
          (nan_y & nan_b & __mmask16(~(nan_c | nan_d))) | (num & eq_b & __mmask16(~eq_a));
      const __mmask16 sel_a = __mmask16(lanes & ~(sel_b | sel_c | sel_d));
      const __m512 ga = _mm512_maskz_mov_ps(sel_a, g), gb = _mm512_maskz_mov_ps(sel_b, g);
      const __m512 gc = _mm512_maskz_mov_ps(sel_c, g), gd = _mm512_maskz_mov_ps(sel_d, g);
      __m512 row0_lo = _mm512_permutex2var_ps(ga, lo, gb), row0_hi = _mm512_permutex2var_ps(ga, hi, gb);
      __m512 row1_lo = _mm512_permutex2var_ps(gc, lo, gd), row1_hi = _mm512_permutex2var_ps(gc, hi, gd);
      float* p0 = d0 + 2 * ox;
      float* p1 = d1 + 2 * ox;
      if (add) {  // the lanes past the windows add 0 to what is there
        const std::size_t m = std::min<std::size_t>(32, w - 2 * ox);
        row0_lo = _mm512_add_ps(row0_lo, _mm512_maskz_loadu_ps(first(m), p0));
        row0_hi = _mm512_add_ps(row0_hi, _mm512_maskz_loadu_ps(first(m > 16 ? m - 16 : 0), p0 + 16));
        row1_lo = _mm512_add_ps(row1_lo, _mm512_maskz_loadu_ps(first(m), p1));
        row1_hi = _mm512_add_ps(row1_hi, _mm512_maskz_loadu_ps(first(m > 16 ? m - 16 : 0), p1 + 16));
        // Only this row's values: a whole store past it would write stale values of the next row.
        _mm512_mask_storeu_ps(p0, first(m), row0_lo);
        _mm512_mask_storeu_ps(p0 + 16, first(m > 16 ? m - 16 : 0), row0_hi);
        _mm512_mask_storeu_ps(p1, first(m), row1_lo);
        _mm512_mask_storeu_ps(p1 + 16, first(m > 16 ? m - 16 : 0), row1_hi);
        continue;
      }
      store(p0, row0_end, row0_lo);
      if (2 * ox + 16 < w) store(p0 + 16, row0_end, row0_hi);
      store(p1, end, row1_lo);
      if (2 * ox + 16 < w) store(p1 + 16, end, row1_hi);
    }
    if (!add) {  // an odd last column: no window covers it (the whole stores above may not reach it)
      for (std::size_t x = 2 * ow; x < w; ++x) d0[x] = d1[x] = 0.f;
    }
  }
  if (!add) std::fill(din + 2 * oh * w, end, 0.f);  // rows no window covers
}

}  // namespace
#endif

bool maxpool2x2_avx512() {
#ifdef TAPEGRAD_MAXPOOL_X86
  static const bool yes = sgemm_cpu_isa() == SgemmIsa::avx512;
  return yes;
#else
  return false;
#endif
}

void maxpool2x2_forward(const float* in, std::size_t h, std::size_t w, float* out, std::size_t oh, std::size_t ow) {
  (void)h;
#ifdef TAPEGRAD_MAXPOOL_X86
  forward(in, w, out, oh, ow);
#else
  (void)in, (void)w, (void)out, (void)oh, (void)ow;
#endif
}

void maxpool2x2_backward(const float* in, const float* out, const float* gout, std::size_t h, std::size_t w,
                         std::size_t oh, std::size_t ow, float* din, bool add) {
#ifdef TAPEGRAD_MAXPOOL_X86
  backward(in, out, gout, h, w, oh, ow, din, add);
#else
  (void)in, (void)out, (void)gout, (void)h, (void)w, (void)oh, (void)ow, (void)din, (void)add;
#endif
}

}  // namespace tapegrad::detail
