// im2col and col2im (see im2col.hpp). On CPUs with AVX-512 (checked once, as the float GEMM
// kernel is: by instruction set, not CPU model), float rows at stride 1 are copied with masked
// loads and stores, 16 values at a time: a masked load reads zeros where the row runs into the
// padding (and cannot fault there), so a row of the CNN's second layer (14 values, 1 of padding
// on each side) is one load and one store. Measured on the CNN's conv(32→64) at batch 128: the
// portable loops (SSE2, the library's baseline) took ~1.2 cycles per value, the masked rows ...
// Other cases run the portable loops of im2col.hpp.
#include "detail/im2col.hpp"

#include "detail/sgemm.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TAPEGRAD_IM2COL_X86 1
#include <immintrin.h>
#endif

namespace tapegrad::detail {

namespace {

#ifdef TAPEGRAD_IM2COL_X86
// Lanes [lo, hi) of a 16-lane vector, for 0 <= lo <= hi <= 16.
__attribute__((target("avx512f"))) inline __mmask16 lanes(std::size_t lo, std::size_t hi) {
  return __mmask16(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// 16 values at d, those before `end` only.
__attribute__((target("avx512f"))) inline void store_before(float* d, const float* end, __m512 v) {
  if (d + 16 <= end) {
    _mm512_storeu_ps(d, v);
  } else {
    _mm512_mask_storeu_ps(d, lanes(0, std::size_t(end - d)), v);
  }
}

// Zen 4 runs AVX-512 stores under a mask far slower than whole ones, so rows are written with
// whole 16-value stores in increasing order: the part of a store past a row's end is overwritten
// by the next row, and only a store that would run past the buffer's end is masked. The masks of
// a kernel column (which lanes of an output row read inside the image) are the same for every
// row: computed once per column.
__attribute__((target("avx512f"))) void im2col_avx512(const float* image, const ConvGeometry& g, float* col) {
  const std::size_t ohw = g.oh * g.ow, plane = g.ih * g.iw, chunks = (g.ow + 15) / 16;
  float* const end = col + g.rows() * ohw;
  // Images of at most 16 x 32: a channel's rows are read once into registers, before the
  // kernel's taps store them; reading them tap by tap (kh·kw loads of each row, between the
  // stores) was 3x slower.
  __m512 row_regs[32];
  const bool in_regs = chunks == 1 && g.iw <= 16 && g.ih <= 32;
  const __m512* rows = in_regs ? row_regs : nullptr;
  for (std::size_t c = 0; c < g.channels; ++c) {
    const float* src = image + c * plane;
    if (in_regs) {
      for (std::size_t r = 0; r < g.ih; ++r) row_regs[r] = _mm512_maskz_loadu_ps(lanes(0, g.iw), src + r * g.iw);
    }
    for (std::size_t i = 0; i < g.kh; ++i) {
      const std::ptrdiff_t off_h = std::ptrdiff_t(i * g.dh) - std::ptrdiff_t(g.ph);
      std::size_t y_lo, y_hi;
      inside(off_h, g.sh, g.ih, g.oh, y_lo, y_hi);
      for (std::size_t j = 0; j < g.kw; ++j) {
        float* dst = col + ((c * g.kh + i) * g.kw + j) * ohw;
        const std::ptrdiff_t off_w = std::ptrdiff_t(j * g.dw) - std::ptrdiff_t(g.pw);
        std::size_t x_lo, x_hi;
        inside(off_w, 1, g.iw, g.ow, x_lo, x_hi);
        for (std::size_t x0 = 0; x0 < g.ow * y_lo; x0 += 16) store_before(dst + x0, end, _mm512_setzero_ps());
        if (chunks == 1 && rows != nullptr) {  // the image's rows in registers: a permute and a store per row
          const __mmask16 m = lanes(x_lo, x_hi);
          const __m512i idx = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                               _mm512_set1_epi32(int(off_w)));
          float* d = dst + y_lo * g.ow;
          for (std::size_t y = y_lo; y < y_hi; ++y, d += g.ow) {
            store_before(d, end, _mm512_maskz_permutexvar_ps(m, idx, rows[std::ptrdiff_t(y * g.sh) + off_h]));
          }
        } else if (chunks == 1) {  // a row in one vector: one load and one store per row
          const __mmask16 m = lanes(x_lo, x_hi);
          const float* s = src + std::ptrdiff_t(y_lo * g.sh) * std::ptrdiff_t(g.iw) + off_h * std::ptrdiff_t(g.iw) + off_w;
          float* d = dst + y_lo * g.ow;
          for (std::size_t y = y_lo; y < y_hi; ++y, s += g.sh * g.iw, d += g.ow) {
            store_before(d, end, _mm512_maskz_loadu_ps(m, s));
          }
        } else {
          for (std::size_t y = y_lo; y < y_hi; ++y) {
            float* d = dst + y * g.ow;
            const float* s = src + std::size_t(std::ptrdiff_t(y * g.sh) + off_h) * g.iw + off_w;  // s[x]: column x
            for (std::size_t x0 = 0; x0 < g.ow; x0 += 16) {
              const std::size_t n = std::min<std::size_t>(16, g.ow - x0);
              const std::size_t lo = std::min(std::max(x_lo, x0), x0 + n) - x0;
              const std::size_t hi = std::max(std::min(x_hi, x0 + n), x0 + lo) - x0;
              store_before(d + x0, end, _mm512_maskz_loadu_ps(lanes(lo, hi), s + x0));
            }
          }
        }
        for (std::size_t x0 = y_hi * g.ow; x0 < ohw; x0 += 16) store_before(dst + x0, end, _mm512_setzero_ps());
      }
    }
  }
}

// Row by row of the image: each 16 values of a row gather their kh·kw contributions from col in
// registers (masked loads, shifted by the kernel column's offset) and are written once. Adding
// into memory tap by tap instead (load, add, store, at offsets −1, 0, +1 of the same row) made
// every load wait on the store before it (a store-to-load forwarding stall): 5× slower.
// `add`: add to the image, else overwrite it.
__attribute__((target("avx512f"))) void col2im_avx512(const float* col, const ConvGeometry& g, float* image,
                                                      bool add) {
  const std::size_t ohw = g.oh * g.ow, plane = g.ih * g.iw;
  if (g.iw <= 16 && g.kw <= 16) {  // one vector per image row: the taps' masks computed once
    __mmask16 mask[16];
    std::ptrdiff_t shift[16];
    for (std::size_t j = 0; j < g.kw; ++j) {
      const std::ptrdiff_t off_w = std::ptrdiff_t(j * g.dw) - std::ptrdiff_t(g.pw);  // x = t − off_w
      const std::ptrdiff_t lo = std::max<std::ptrdiff_t>(0, off_w);
      const std::ptrdiff_t hi = std::min<std::ptrdiff_t>(std::ptrdiff_t(g.iw), std::ptrdiff_t(g.ow) + off_w);
      mask[j] = lo < hi ? lanes(std::size_t(lo), std::size_t(hi)) : __mmask16(0);
      shift[j] = -off_w;
    }
    const __mmask16 m = lanes(0, g.iw);
    for (std::size_t c = 0; c < g.channels; ++c) {
      float* d = image + c * plane;
      const float* cc = col + c * g.kh * g.kw * ohw;
      for (std::size_t r = 0; r < g.ih; ++r, d += g.iw) {
        __m512 acc = _mm512_setzero_ps();
        for (std::size_t i = 0; i < g.kh; ++i) {
          const std::ptrdiff_t ys = std::ptrdiff_t(r) + std::ptrdiff_t(g.ph) - std::ptrdiff_t(i * g.dh);
          if (ys < 0) continue;
          std::size_t y = std::size_t(ys);
          if (g.sh != 1) {
            if (y % g.sh != 0) continue;
            y /= g.sh;
          }
          if (y >= g.oh) continue;
          const float* s = cc + i * g.kw * ohw + y * g.ow;
          for (std::size_t j = 0; j < g.kw; ++j, s += ohw) {
            acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mask[j], s + shift[j]));
          }
        }
        if (add) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, d));
        _mm512_mask_storeu_ps(d, m, acc);
      }
    }
    return;
  }
  for (std::size_t c = 0; c < g.channels; ++c) {
    float* dst = image + c * plane;
    for (std::size_t r = 0; r < g.ih; ++r) {
      for (std::size_t t0 = 0; t0 < g.iw; t0 += 16) {
        const std::size_t n = std::min<std::size_t>(16, g.iw - t0);
        __m512 acc = _mm512_setzero_ps();
        for (std::size_t i = 0; i < g.kh; ++i) {
          // The output row y whose kernel row i reads image row r: y·sh + i·dh − ph = r.
          const std::ptrdiff_t ys = std::ptrdiff_t(r) + std::ptrdiff_t(g.ph) - std::ptrdiff_t(i * g.dh);
          if (ys < 0) continue;
          std::size_t y = std::size_t(ys);
          if (g.sh != 1) {  // (a division: only for strided rows)
            if (y % g.sh != 0) continue;
            y /= g.sh;
          }
          if (y >= g.oh) continue;
          for (std::size_t j = 0; j < g.kw; ++j) {
            // Image column t = x + j·dw − pw: x = t − off_w, inside [0, ow).
            const std::ptrdiff_t off_w = std::ptrdiff_t(j * g.dw) - std::ptrdiff_t(g.pw);
            const std::ptrdiff_t x0 = std::ptrdiff_t(t0) - off_w;  // x of lane 0
            const std::ptrdiff_t lo = std::max<std::ptrdiff_t>(0, -x0);
            const std::ptrdiff_t hi = std::min<std::ptrdiff_t>(std::ptrdiff_t(n), std::ptrdiff_t(g.ow) - x0);
            if (lo >= hi) continue;
            const float* s = col + ((c * g.kh + i) * g.kw + j) * ohw + y * g.ow;
            acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(lanes(std::size_t(lo), std::size_t(hi)), s + x0));
          }
        }
        float* d = dst + r * g.iw + t0;
        const __mmask16 m = lanes(0, n);
        if (add) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, d));
        _mm512_mask_storeu_ps(d, m, acc);
      }
    }
  }
}
#endif

bool masked_rows(const ConvGeometry& g) {
#ifdef TAPEGRAD_IM2COL_X86
  static const bool avx512 = sgemm_cpu_isa() == SgemmIsa::avx512;
  return avx512 && g.sw == 1;
#else
  (void)g;
  return false;
#endif
}

}  // namespace

template <>
void im2col<float>(const float* image, const ConvGeometry& g, float* col) {
#ifdef TAPEGRAD_IM2COL_X86
  if (masked_rows(g)) {
    im2col_avx512(image, g, col);
    return;
  }
#endif
  im2col_loops(image, g, col);
}

template <>
void col2im<float>(const float* col, const ConvGeometry& g, float* image, bool add) {
#ifdef TAPEGRAD_IM2COL_X86
  if (masked_rows(g)) {
    col2im_avx512(col, g, image, add);
    return;
  }
#endif
  if (!add) std::fill(image, image + g.channels * g.ih * g.iw, 0.f);
  col2im_add_loops(col, g, image);
}

template <>
void im2col<double>(const double* image, const ConvGeometry& g, double* col) {
  im2col_loops(image, g, col);
}

template <>
void col2im<double>(const double* col, const ConvGeometry& g, double* image, bool add) {
  if (!add) std::fill(image, image + g.channels * g.ih * g.iw, 0.0);
  col2im_add_loops(col, g, image);
}

}  // namespace tapegrad::detail
