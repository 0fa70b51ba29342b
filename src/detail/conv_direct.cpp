// Direct convolution kernels (see conv_direct.hpp). An output row is cut into chunks of 16
// positions; for each chunk the kernel's taps are 16-wide vectors of the input, loaded with a mask
// that reads zeros where the window lies in the padding (a masked load cannot fault there). Where
// each tap of each chunk reads is the same for every image: worked out once per call.
#include "detail/conv_direct.hpp"

#include <algorithm>
#include <vector>

#include "detail/sgemm.hpp"
#include "tapegrad/error.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TAPEGRAD_DIRECT_X86 1
#include <immintrin.h>
#endif

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_ps(), which -Wmaybe-uninitialized
// reports at every inlined use (GCC bug 105593, fixed in GCC 13); the values are defined.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace tapegrad::detail {

namespace {

#ifdef TAPEGRAD_DIRECT_X86
__attribute__((target("avx512f"))) inline __mmask16 lanes(std::size_t lo, std::size_t hi) {
  return __mmask16(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// Where tap t = (c, i, j) of a chunk (output row oy, columns ox0 .. ox0 + 15) reads: the offset in
// the image of lane 0's input value, and the mask of lanes inside the image (0 when the row is in
// the padding).
struct Tap {
  std::ptrdiff_t offset;
  unsigned mask;
};

// The taps of every chunk, chunk by chunk (oy, then ox0): chunks × TAPS entries. Kept per thread
// and reused, so a training step allocates nothing after the first.
std::vector<Tap>& tap_table(const ConvGeometry& g, std::size_t taps) {
  static thread_local std::vector<Tap> table;
  const std::size_t chunks = g.oh * ((g.ow + 15) / 16);
  table.resize(chunks * taps);
  Tap* t = table.data();
  for (std::size_t oy = 0; oy < g.oh; ++oy) {
    for (std::size_t ox0 = 0; ox0 < g.ow; ox0 += 16) {
      const std::size_t n = std::min<std::size_t>(16, g.ow - ox0);
      for (std::size_t c = 0; c < g.channels; ++c) {
        for (std::size_t i = 0; i < g.kh; ++i) {
          const std::ptrdiff_t r = std::ptrdiff_t(oy + i * g.dh) - std::ptrdiff_t(g.ph);
          const bool row_in = r >= 0 && r < std::ptrdiff_t(g.ih);
          for (std::size_t j = 0; j < g.kw; ++j, ++t) {
            const std::ptrdiff_t off_w = std::ptrdiff_t(j * g.dw) - std::ptrdiff_t(g.pw);
            std::size_t x_lo, x_hi;
            inside(off_w, 1, g.iw, g.ow, x_lo, x_hi);
            const std::size_t lo = std::min(std::max(x_lo, ox0), ox0 + n) - ox0;
            const std::size_t hi = std::max(std::min(x_hi, ox0 + n), ox0 + lo) - ox0;
            t->mask = row_in ? ((1u << hi) - 1u) & ~((1u << lo) - 1u) : 0u;
            t->offset = row_in ? std::ptrdiff_t(c * g.ih * g.iw) + r * std::ptrdiff_t(g.iw) + std::ptrdiff_t(ox0) + off_w : 0;
          }
        }
      }
    }
  }
  return table;
}

template <std::size_t TAPS>
__attribute__((target("avx512f"))) void forward_avx512(const float* x, std::size_t x_step, const float* w,
                                                       const float* bias, std::size_t out, const ConvGeometry& g,
                                                       float* y, std::size_t y_step, std::size_t images) {
  const std::size_t ohw = g.oh * g.ow;
  const Tap* table = tap_table(g, TAPS).data();
  for (std::size_t k = 0; k < images; ++k, x += x_step, y += y_step) {
    const Tap* tap = table;
    for (std::size_t oy = 0; oy < g.oh; ++oy) {
      for (std::size_t ox0 = 0; ox0 < g.ow; ox0 += 16, tap += TAPS) {
        __m512 v[TAPS];
#pragma GCC unroll 32
        for (std::size_t t = 0; t < TAPS; ++t) v[t] = _mm512_maskz_loadu_ps(__mmask16(tap[t].mask), x + tap[t].offset);
        float* yo = y + oy * g.ow + ox0;
        // Whole stores, in increasing order of position within each channel's plane: the part of
        // a row's last chunk that runs past the row is rewritten by the rows after it. Only a store
        // that would run past its plane (into the next, already written) is masked: Zen 4 runs
        // masked stores far slower than whole ones.
        const bool past_plane = oy * g.ow + ox0 + 16 > ohw;
        const __mmask16 m = lanes(0, std::min<std::size_t>(16, g.ow - ox0));
        for (std::size_t co = 0; co < out; ++co, yo += ohw) {
          const float* wc = w + co * TAPS;
          __m512 acc = _mm512_set1_ps(bias ? bias[co] : 0.f);
#pragma GCC unroll 32
          for (std::size_t t = 0; t < TAPS; ++t) acc = _mm512_fmadd_ps(_mm512_set1_ps(wc[t]), v[t], acc);
          if (past_plane) {
            _mm512_mask_storeu_ps(yo, m, acc);
          } else {
            _mm512_storeu_ps(yo, acc);
          }
        }
      }
    }
  }
}

// Image by image, channel by channel: the accumulators of a channel (one per tap, one for the
// bias) live in registers over the channel's plane and in `acc` between images, so each image's
// input and output gradient are read once.
template <std::size_t TAPS>
__attribute__((target("avx512f"))) void weight_grad_avx512(const float* x, std::size_t x_step, const float* dy,
                                                           std::size_t dy_step, std::size_t out, const ConvGeometry& g,
                                                           float* dw, float* db, std::size_t images) {
  const std::size_t ohw = g.oh * g.ow;
  const Tap* table = tap_table(g, TAPS).data();
  static thread_local std::vector<float> acc_store;  // out × (TAPS + 1) vectors of 16
  acc_store.assign(out * (TAPS + 1) * 16, 0.f);
  for (std::size_t k = 0; k < images; ++k, x += x_step, dy += dy_step) {
    for (std::size_t co = 0; co < out; ++co) {
      float* saved = acc_store.data() + co * (TAPS + 1) * 16;
      __m512 acc[TAPS];
#pragma GCC unroll 32
      for (std::size_t t = 0; t < TAPS; ++t) acc[t] = _mm512_loadu_ps(saved + 16 * t);
      __m512 acc_b = _mm512_loadu_ps(saved + 16 * TAPS);
      const float* dyc = dy + co * ohw;
      const Tap* tap = table;
      for (std::size_t oy = 0; oy < g.oh; ++oy) {
        for (std::size_t ox0 = 0; ox0 < g.ow; ox0 += 16, tap += TAPS) {
          const __m512 gv = _mm512_maskz_loadu_ps(lanes(0, std::min<std::size_t>(16, g.ow - ox0)), dyc + oy * g.ow + ox0);
          acc_b = _mm512_add_ps(acc_b, gv);
#pragma GCC unroll 32
          for (std::size_t t = 0; t < TAPS; ++t) {
            acc[t] = _mm512_fmadd_ps(gv, _mm512_maskz_loadu_ps(__mmask16(tap[t].mask), x + tap[t].offset), acc[t]);
          }
        }
      }
#pragma GCC unroll 32
      for (std::size_t t = 0; t < TAPS; ++t) _mm512_storeu_ps(saved + 16 * t, acc[t]);
      _mm512_storeu_ps(saved + 16 * TAPS, acc_b);
    }
  }
  for (std::size_t co = 0; co < out; ++co) {
    const float* saved = acc_store.data() + co * (TAPS + 1) * 16;
    for (std::size_t t = 0; t < TAPS; ++t) dw[co * TAPS + t] += _mm512_reduce_add_ps(_mm512_loadu_ps(saved + 16 * t));
    if (db) db[co] += _mm512_reduce_add_ps(_mm512_loadu_ps(saved + 16 * TAPS));
  }
}
#endif

}  // namespace

bool direct_conv_applies(const ConvGeometry& g) {
#ifdef TAPEGRAD_DIRECT_X86
  static const bool avx512 = sgemm_cpu_isa() == SgemmIsa::avx512;
  const std::size_t taps = g.rows();
  return avx512 && g.sh == 1 && g.sw == 1 && (taps == 9 || taps == 18 || taps == 25 || taps == 27);
#else
  (void)g;
  return false;
#endif
}

#ifdef TAPEGRAD_DIRECT_X86
#define TAPEGRAD_DIRECT_SWITCH(f, ...)    \
  switch (g.rows()) {                    \
    case 9: f<9>(__VA_ARGS__); return;   \
    case 18: f<18>(__VA_ARGS__); return; \
    case 25: f<25>(__VA_ARGS__); return; \
    case 27: f<27>(__VA_ARGS__); return; \
    default: break;                      \
  }
#else
#define TAPEGRAD_DIRECT_SWITCH(f, ...)
#endif

void direct_conv_forward(const float* x, std::size_t x_step, const float* w, const float* bias, std::size_t out,
                         const ConvGeometry& g, float* y, std::size_t y_step, std::size_t images) {
  TAPEGRAD_DIRECT_SWITCH(forward_avx512, x, x_step, w, bias, out, g, y, y_step, images)
  TG_ASSERT(false, "direct_conv_forward: not applicable (see direct_conv_applies)");
}

void direct_conv_weight_grad(const float* x, std::size_t x_step, const float* dy, std::size_t dy_step,
                             std::size_t out, const ConvGeometry& g, float* dw, float* db, std::size_t images) {
  TAPEGRAD_DIRECT_SWITCH(weight_grad_avx512, x, x_step, dy, dy_step, out, g, dw, db, images)
  TG_ASSERT(false, "direct_conv_weight_grad: not applicable (see direct_conv_applies)");
}

}  // namespace tapegrad::detail
