// max_pool2d, avg_pool2d, adaptive_avg_pool2d: each computes its value and records one rule.
// They work plane by plane (one channel of one image), the planes cut over tapegrad's pool when
// there are enough of them; each plane's gradient is written by one thread only.
#include "tapegrad/pooling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "detail/maxpool2x2.hpp"
#include "instantiate.hpp"
#include "tapegrad/parallel.hpp"

namespace tapegrad {

namespace {

// One dimension of a pooling window: output o covers input positions start(o) + i·dilation,
// i in [0, kernel), those inside [0, in).
struct Dim {
  std::size_t in = 1, out = 1, kernel = 1, stride = 1, pad = 0, dilation = 1;
};

// The pooled planes of an input: `planes` planes of h × w, pooled to oh × ow.
struct Pool {
  std::size_t planes = 1;
  Dim y, x;
  bool batched = true;
  std::size_t in_plane() const noexcept { return y.in * x.in; }
  std::size_t out_plane() const noexcept { return y.out * x.out; }
  Shape out_shape(const Shape& in) const {
    Shape s = in;
    s[s.size() - 2] = y.out;
    s[s.size() - 1] = x.out;
    return s;
  }
};

template <class T>
Pool planes_of(const char* op, const Array<T>& x) {
  TG_CHECK(ShapeError, x.dimension() == 3 || x.dimension() == 4, op, ": input ", to_string(x.shape()),
           " must be 3-D (C, H, W) or 4-D (N, C, H, W)");
  Pool p;
  p.batched = x.dimension() == 4;
  p.planes = x.dimension() == 4 ? x.shape()[0] * x.shape()[1] : x.shape()[0];
  p.y.in = x.shape()[x.dimension() - 2];
  p.x.in = x.shape()[x.dimension() - 1];
  return p;
}

// PyTorch's pooling_output_shape.
std::int64_t pooled_size(std::int64_t in, std::int64_t k, std::int64_t pad, std::int64_t stride, std::int64_t dilation,
                         bool ceil_mode) {
  const std::int64_t span = in + 2 * pad - dilation * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  if (span < 0) return 0;  // the (dilated) kernel is larger than the padded input
  std::int64_t out = span / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;  // the last window starts in the padding
  return out;
}

// The checks of PyTorch's pool2d_shape_check, and the output size.
template <class T>
Pool pool_plan(const char* op, const Array<T>& x, Size2 kernel, Size2 stride, Size2 padding, Size2 dilation,
               bool ceil_mode) {
  Pool p = planes_of(op, x);
  if (stride == Size2()) stride = kernel;
  TG_CHECK(ValueError, kernel.h >= 1 && kernel.w >= 1, op, ": kernel_size must be positive, got ", to_string(kernel));
  TG_CHECK(ValueError, stride.h >= 1 && stride.w >= 1, op, ": stride must be positive, got ", to_string(stride));
  TG_CHECK(ValueError, dilation.h >= 1 && dilation.w >= 1, op, ": dilation must be positive, got ",
           to_string(dilation));
  TG_CHECK(ValueError, padding.h >= 0 && padding.w >= 0 && 2 * padding.h <= kernel.h && 2 * padding.w <= kernel.w,
           op, ": padding ", to_string(padding), " must be non-negative and at most half the kernel size ",
           to_string(kernel));
  const std::int64_t oh = pooled_size(std::int64_t(p.y.in), kernel.h, padding.h, stride.h, dilation.h, ceil_mode);
  const std::int64_t ow = pooled_size(std::int64_t(p.x.in), kernel.w, padding.w, stride.w, dilation.w, ceil_mode);
  TG_CHECK(ShapeError, oh >= 1 && ow >= 1, op, ": input ", to_string(x.shape()), " padded by ", to_string(padding),
           " is too small for the kernel ", to_string(kernel), " with dilation ", to_string(dilation),
           ": the output would be ", oh, " x ", ow);
  p.y = {p.y.in, std::size_t(oh), std::size_t(kernel.h), std::size_t(stride.h), std::size_t(padding.h),
         std::size_t(dilation.h)};
  p.x = {p.x.in, std::size_t(ow), std::size_t(kernel.w), std::size_t(stride.w), std::size_t(padding.w),
         std::size_t(dilation.w)};
  return p;
}

// Runs f(begin, end) over the planes, cut over the pool when the work is large.
template <class F>
void for_planes(const Pool& p, const F& f) {
  const std::size_t per_plane = std::max<std::size_t>(1, p.in_plane() + p.out_plane());
  kernels::parallel_for(p.planes, std::max<std::size_t>(1, kernels::kParallelGrain / per_plane), f);
}

enum Scalar { kKh, kKw, kSh, kSw, kPh, kPw, kDh, kDw, kCeil, kCountPad, kDivisor };

template <class T>
void save_window(Op<T>& op, const Pool& p, bool ceil_mode) {
  op.save_scalar(kKh, double(p.y.kernel));
  op.save_scalar(kKw, double(p.x.kernel));
  op.save_scalar(kSh, double(p.y.stride));
  op.save_scalar(kSw, double(p.x.stride));
  op.save_scalar(kPh, double(p.y.pad));
  op.save_scalar(kPw, double(p.x.pad));
  op.save_scalar(kDh, double(p.y.dilation));
  op.save_scalar(kDw, double(p.x.dilation));
  op.save_scalar(kCeil, ceil_mode ? 1 : 0);
}

template <class T>
Pool replan(const char* op, const Backward<T>& b) {
  auto at = [&](Scalar s) { return std::int64_t(b.scalar(s)); };
  return pool_plan(op, b.input(0), Size2(at(kKh), at(kKw)), Size2(at(kSh), at(kSw)), Size2(at(kPh), at(kPw)),
                   Size2(at(kDh), at(kDw)), at(kCeil) != 0);
}

// The input positions of window o along d: the first, and one past the last, stepping by
// dilation; the first is moved inside (as PyTorch's `while (ih0 < 0) ih0 += dilation`).
inline void window(const Dim& d, std::size_t o, std::ptrdiff_t& first, std::ptrdiff_t& end) {
  const std::ptrdiff_t start = std::ptrdiff_t(o * d.stride) - std::ptrdiff_t(d.pad);
  end = std::min<std::ptrdiff_t>(start + std::ptrdiff_t((d.kernel - 1) * d.dilation) + 1, std::ptrdiff_t(d.in));
  first = start;
  while (first < 0) first += std::ptrdiff_t(d.dilation);
}

// ---- max_pool2d -------------------------------------------------------------------------------

// PyTorch's scan: the first maximum wins, a NaN always wins (so the last NaN is the arg-max).
// Returns the arg-max's index in the plane (the window's first position if it is all -inf).
template <class T>
std::size_t argmax(const T* plane, const Pool& p, std::size_t oy, std::size_t ox, T& best) {
  std::ptrdiff_t y0, y1, x0, x1;
  window(p.y, oy, y0, y1);
  window(p.x, ox, x0, x1);
  std::size_t at = std::size_t(y0) * p.x.in + std::size_t(x0);
  best = -std::numeric_limits<T>::infinity();
  for (std::ptrdiff_t iy = y0; iy < y1; iy += std::ptrdiff_t(p.y.dilation)) {
    const T* row = plane + std::size_t(iy) * p.x.in;
    for (std::ptrdiff_t ix = x0; ix < x1; ix += std::ptrdiff_t(p.x.dilation)) {
      const T v = row[ix];
      if (v > best || std::isnan(v)) {
        best = v;
        at = std::size_t(iy) * p.x.in + std::size_t(ix);
      }
    }
  }
  return at;
}

// 2 × 2 windows at stride 2 without padding or dilation (the common case): straight-line code
// that the compiler vectorises. max(max(a, b), max(c, d)) with NaNs passed through equals the scan's
// value; the backward finds the scan's position.
template <class T>
void max_pool_2x2(const T* plane, const Pool& p, T* out) {
  const std::size_t w = p.x.in;
  for (std::size_t oy = 0; oy < p.y.out; ++oy) {
    const T* r0 = plane + 2 * oy * w;
    const T* r1 = r0 + w;
    T* o = out + oy * p.x.out;
    for (std::size_t ox = 0; ox < p.x.out; ++ox) {
      const T a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
      const T ab = (b > a || b != b) ? b : a;
      const T cd = (d > c || d != d) ? d : c;
      o[ox] = (cd > ab || cd != cd) ? cd : ab;
    }
  }
}

bool is_2x2(const Pool& p) {
  return p.y.kernel == 2 && p.x.kernel == 2 && p.y.stride == 2 && p.x.stride == 2 && p.y.pad == 0 && p.x.pad == 0 &&
         p.y.dilation == 1 && p.x.dilation == 1 && 2 * p.y.out <= p.y.in && 2 * p.x.out <= p.x.in;
}

// The 2×2 case in vector code (float, AVX-512: src/detail/maxpool2x2.cpp).
template <class T>
bool vector_2x2(const Pool& p) {
  if constexpr (std::is_same_v<T, float>) {
    return is_2x2(p) && detail::maxpool2x2_avx512();
  } else {
    (void)p;
    return false;
  }
}

template <class T>
void max_pool_backward(Backward<T>& b) {
  if (!b.needs_grad(0)) return;
  const Pool p = replan("max_pool2d", b);
  auto t = b.grad_target(0);
  const T* x = b.input(0).data();
  const T* y = b.output().data();
  const T* gy = b.grad_out().data();
  T* gx = t.grad.data();
  const bool add = t.add, fast = is_2x2(p), vector = vector_2x2<T>(p);
  for_planes(p, [&](std::size_t begin, std::size_t end) {
    for (std::size_t c = begin; c < end; ++c) {
      const T* xp = x + c * p.in_plane();
      const T* yp = y + c * p.out_plane();
      const T* gp = gy + c * p.out_plane();
      T* dp = gx + c * p.in_plane();
      if constexpr (std::is_same_v<T, float>) {
        if (vector) {
          detail::maxpool2x2_backward(xp, yp, gp, p.y.in, p.x.in, p.y.out, p.x.out, dp, add);
          continue;
        }
      }
      if (!add) std::fill(dp, dp + p.in_plane(), T(0));
      if (fast) {
        // The scan's position: the last NaN if the output is NaN, else the first value equal to it.
        const std::size_t w = p.x.in;
        for (std::size_t oy = 0; oy < p.y.out; ++oy) {
          for (std::size_t ox = 0; ox < p.x.out; ++ox) {
            const std::size_t i0 = 2 * oy * w + 2 * ox;
            const std::size_t pos[4] = {i0, i0 + 1, i0 + w, i0 + w + 1};
            const T v = yp[oy * p.x.out + ox];
            std::size_t at = i0;
            if (v != v) {
              for (std::size_t k = 0; k < 4; ++k) {
                if (xp[pos[k]] != xp[pos[k]]) at = pos[k];
              }
            } else {
              for (std::size_t k = 4; k-- > 0;) {
                if (xp[pos[k]] == v) at = pos[k];
              }
            }
            dp[at] += gp[oy * p.x.out + ox];
          }
        }
        continue;
      }
      for (std::size_t oy = 0; oy < p.y.out; ++oy) {
        for (std::size_t ox = 0; ox < p.x.out; ++ox) {
          T best;
          dp[argmax(xp, p, oy, ox, best)] += gp[oy * p.x.out + ox];
        }
      }
    }
  });
}

// ---- avg_pool2d ---------------------------------------------------------------------------------

// PyTorch's avg_pool2d window: [first, end) inside the input, and the divisor.
struct AvgWindow {
  std::size_t y0, y1, x0, x1;
  double divisor;
};

inline AvgWindow avg_window(const Pool& p, std::size_t oy, std::size_t ox, bool count_include_pad,
                            std::int64_t divisor_override) {
  const std::ptrdiff_t ys = std::ptrdiff_t(oy * p.y.stride) - std::ptrdiff_t(p.y.pad);
  const std::ptrdiff_t xs = std::ptrdiff_t(ox * p.x.stride) - std::ptrdiff_t(p.x.pad);
  const std::ptrdiff_t ye = std::min(ys + std::ptrdiff_t(p.y.kernel), std::ptrdiff_t(p.y.in + p.y.pad));
  const std::ptrdiff_t xe = std::min(xs + std::ptrdiff_t(p.x.kernel), std::ptrdiff_t(p.x.in + p.x.pad));
  const double pool_size = double((ye - ys) * (xe - xs));
  AvgWindow w;
  w.y0 = std::size_t(std::max<std::ptrdiff_t>(ys, 0));
  w.x0 = std::size_t(std::max<std::ptrdiff_t>(xs, 0));
  w.y1 = std::size_t(std::max<std::ptrdiff_t>(std::min(ye, std::ptrdiff_t(p.y.in)), std::ptrdiff_t(w.y0)));
  w.x1 = std::size_t(std::max<std::ptrdiff_t>(std::min(xe, std::ptrdiff_t(p.x.in)), std::ptrdiff_t(w.x0)));
  if (divisor_override > 0) {
    w.divisor = double(divisor_override);
  } else if (count_include_pad) {
    w.divisor = pool_size;
  } else {
    w.divisor = double((w.y1 - w.y0) * (w.x1 - w.x0));
  }
  return w;
}

template <class T>
void avg_pool_backward(Backward<T>& b) {
  if (!b.needs_grad(0)) return;
  const Pool p = replan("avg_pool2d", b);
  const bool count_pad = b.scalar(kCountPad) != 0;
  const auto divisor = std::int64_t(b.scalar(kDivisor));
  auto t = b.grad_target(0);
  const T* gy = b.grad_out().data();
  T* gx = t.grad.data();
  const bool add = t.add;
  for_planes(p, [&](std::size_t begin, std::size_t end) {
    for (std::size_t c = begin; c < end; ++c) {
      const T* gp = gy + c * p.out_plane();
      T* dp = gx + c * p.in_plane();
      if (!add) std::fill(dp, dp + p.in_plane(), T(0));
      for (std::size_t oy = 0; oy < p.y.out; ++oy) {
        for (std::size_t ox = 0; ox < p.x.out; ++ox) {
          const AvgWindow w = avg_window(p, oy, ox, count_pad, divisor);
          if (w.y0 >= w.y1 || w.x0 >= w.x1) continue;
          const T g = T(double(gp[oy * p.x.out + ox]) / w.divisor);
          for (std::size_t iy = w.y0; iy < w.y1; ++iy) {
            for (std::size_t ix = w.x0; ix < w.x1; ++ix) dp[iy * p.x.in + ix] += g;
          }
        }
      }
    }
  });
}

// ---- adaptive_avg_pool2d ------------------------------------------------------------------------

inline std::size_t adaptive_start(std::size_t o, std::size_t in, std::size_t out) { return o * in / out; }
inline std::size_t adaptive_end(std::size_t o, std::size_t in, std::size_t out) {
  return ((o + 1) * in + out - 1) / out;
}

template <class T>
void adaptive_backward(Backward<T>& b) {
  if (!b.needs_grad(0)) return;
  Pool p = planes_of("adaptive_avg_pool2d", b.input(0));
  p.y.out = b.output().shape()[b.output().dimension() - 2];
  p.x.out = b.output().shape()[b.output().dimension() - 1];
  auto t = b.grad_target(0);
  const T* gy = b.grad_out().data();
  T* gx = t.grad.data();
  const bool add = t.add;
  for_planes(p, [&](std::size_t begin, std::size_t end) {
    for (std::size_t c = begin; c < end; ++c) {
      const T* gp = gy + c * p.out_plane();
      T* dp = gx + c * p.in_plane();
      if (!add) std::fill(dp, dp + p.in_plane(), T(0));
      for (std::size_t oy = 0; oy < p.y.out; ++oy) {
        const std::size_t y0 = adaptive_start(oy, p.y.in, p.y.out), y1 = adaptive_end(oy, p.y.in, p.y.out);
        for (std::size_t ox = 0; ox < p.x.out; ++ox) {
          const std::size_t x0 = adaptive_start(ox, p.x.in, p.x.out), x1 = adaptive_end(ox, p.x.in, p.x.out);
          const T g = gp[oy * p.x.out + ox] / T((y1 - y0) * (x1 - x0));
          for (std::size_t iy = y0; iy < y1; ++iy) {
            for (std::size_t ix = x0; ix < x1; ++ix) dp[iy * p.x.in + ix] += g;
          }
        }
      }
    }
  });
}

}  // namespace

template <class T>
Var<T> max_pool2d(const Var<T>& input, Size2 kernel_size, Size2 stride, Size2 padding, Size2 dilation,
                  bool ceil_mode) {
  Op<T> op("max_pool2d", {input});
  const Array<T>& x = op.input(0);
  const Pool p = pool_plan("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode);
  Array<T>& y = op.output(p.out_shape(x.shape()));
  save_window(op, p, ceil_mode);
  const T* xd = x.data();
  T* yd = y.data();
  const bool fast = is_2x2(p), vector = vector_2x2<T>(p);
  for_planes(p, [&](std::size_t begin, std::size_t end) {
    for (std::size_t c = begin; c < end; ++c) {
      const T* xp = xd + c * p.in_plane();
      T* yp = yd + c * p.out_plane();
      if constexpr (std::is_same_v<T, float>) {
        if (vector) {
          detail::maxpool2x2_forward(xp, p.y.in, p.x.in, yp, p.y.out, p.x.out);
          continue;
        }
      }
      if (fast) {
        max_pool_2x2(xp, p, yp);
        continue;
      }
      for (std::size_t oy = 0; oy < p.y.out; ++oy) {
        for (std::size_t ox = 0; ox < p.x.out; ++ox) argmax(xp, p, oy, ox, yp[oy * p.x.out + ox]);
      }
    }
  });
  return op.finish(max_pool_backward<T>);
}

template <class T>
Var<T> avg_pool2d(const Var<T>& input, Size2 kernel_size, Size2 stride, Size2 padding, bool ceil_mode,
                  bool count_include_pad, std::int64_t divisor_override) {
  Op<T> op("avg_pool2d", {input});
  const Array<T>& x = op.input(0);
  TG_CHECK(ValueError, divisor_override >= 0, "avg_pool2d: divisor_override must be positive (or 0: none), got ",
           divisor_override);
  const Pool p = pool_plan("avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode);
  Array<T>& y = op.output(p.out_shape(x.shape()));
  save_window(op, p, ceil_mode);
  op.save_scalar(kCountPad, count_include_pad ? 1 : 0);
  op.save_scalar(kDivisor, double(divisor_override));
  const T* xd = x.data();
  T* yd = y.data();
  for_planes(p, [&](std::size_t begin, std::size_t end) {
    for (std::size_t c = begin; c < end; ++c) {
      const T* xp = xd + c * p.in_plane();
      T* yp = yd + c * p.out_plane();
      for (std::size_t oy = 0; oy < p.y.out; ++oy) {
        for (std::size_t ox = 0; ox < p.x.out; ++ox) {
          const AvgWindow w = avg_window(p, oy, ox, count_include_pad, divisor_override);
          T s = 0;
          for (std::size_t iy = w.y0; iy < w.y1; ++iy) {
            for (std::size_t ix = w.x0; ix < w.x1; ++ix) s += xp[iy * p.x.in + ix];
          }
          yp[oy * p.x.out + ox] = w.y0 >= w.y1 || w.x0 >= w.x1 ? T(0) : T(double(s) / w.divisor);
        }
      }
    }
  });
  return op.finish(avg_pool_backward<T>);
}

template <class T>
Var<T> adaptive_avg_pool2d(const Var<T>& input, Size2 output_size) {
  Op<T> op("adaptive_avg_pool2d", {input});
  const Array<T>& x = op.input(0);
  Pool p = planes_of("adaptive_avg_pool2d", x);
  TG_CHECK(ValueError, output_size.h >= 0 && output_size.w >= 0,
           "adaptive_avg_pool2d: output_size must be non-negative, got ", to_string(output_size));
  TG_CHECK(ShapeError, (p.y.in > 0 && p.x.in > 0) || output_size.h == 0 || output_size.w == 0,
           "adaptive_avg_pool2d: input ", to_string(x.shape()), " has an empty plane to pool to ",
           to_string(output_size));
  p.y.out = std::size_t(output_size.h);
  p.x.out = std::size_t(output_size.w);
  Array<T>& y = op.output(p.out_shape(x.shape()));
  const T* xd = x.data();
  T* yd = y.data();
  for_planes(p, [&](std::size_t begin, std::size_t end) {
    for (std::size_t c = begin; c < end; ++c) {
      const T* xp = xd + c * p.in_plane();
      T* yp = yd + c * p.out_plane();
      for (std::size_t oy = 0; oy < p.y.out; ++oy) {
        const std::size_t y0 = adaptive_start(oy, p.y.in, p.y.out), y1 = adaptive_end(oy, p.y.in, p.y.out);
        for (std::size_t ox = 0; ox < p.x.out; ++ox) {
          const std::size_t x0 = adaptive_start(ox, p.x.in, p.x.out), x1 = adaptive_end(ox, p.x.in, p.x.out);
          T s = 0;
          for (std::size_t iy = y0; iy < y1; ++iy) {
            for (std::size_t ix = x0; ix < x1; ++ix) s += xp[iy * p.x.in + ix];
          }
          yp[oy * p.x.out + ox] = s / T((y1 - y0) * (x1 - x0));
        }
      }
    }
  });
  return op.finish(adaptive_backward<T>);
}

#define TAPEGRAD_SECTION(T)                                                                            \
  template Var<T> max_pool2d(const Var<T>&, Size2, Size2, Size2, Size2, bool);                         \
  template Var<T> avg_pool2d(const Var<T>&, Size2, Size2, Size2, bool, bool, std::int64_t);            \
  template Var<T> adaptive_avg_pool2d(const Var<T>&, Size2);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad
