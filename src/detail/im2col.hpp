#pragma once
// The lowering of a 2-D convolution onto matrix products: im2col copies, for one image of C
// channels, every input value that each output position's kernel window covers into the rows of
// a matrix, col2im adds such a matrix back onto the image. Private to the library (src/conv.cpp).
//
//   col[(c·kh + i)·kw + j][oy·ow + ox] = image[c][oy·sh − ph + i·dh][ox·sw − pw + j·dw]
//
// (0 where that position is in the padding), so a convolution of one image with weights W of
// shape (out, C·kh·kw) is the product W · col, of shape (out, oh·ow): the rows of the image's
// output in NCHW order.
#include <algorithm>
#include <cstddef>

namespace tapegrad::detail {

/// One image's side of a convolution: its size, the kernel window, and the output positions.
struct ConvGeometry {
  std::size_t channels = 1;   // channels of the image that im2col reads (one group's)
  std::size_t ih = 1, iw = 1; // the image
  std::size_t kh = 1, kw = 1; // the kernel window
  std::size_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  std::size_t oh = 1, ow = 1; // output positions
  std::size_t rows() const noexcept { return channels * kh * kw; }
  std::size_t cols() const noexcept { return oh * ow; }
  /// True when col is the image itself (a 1×1 kernel, stride 1, no padding).
  bool identity() const noexcept {
    return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 && oh == ih && ow == iw;
  }
};

/// The output positions o in [0, n) whose input position o·stride + offset lies in [0, extent):
/// [lo, hi), possibly empty.
inline void inside(std::ptrdiff_t offset, std::size_t stride, std::size_t extent, std::size_t n, std::size_t& lo,
                   std::size_t& hi) {
  if (stride == 1) {  // no division
    const std::ptrdiff_t first = offset >= 0 ? 0 : -offset, end = std::ptrdiff_t(extent) - offset;
    lo = std::min(std::size_t(first), n);
    hi = std::max(lo, std::min(std::size_t(std::max<std::ptrdiff_t>(end, 0)), n));
    return;
  }
  const auto s = std::ptrdiff_t(stride);
  const std::ptrdiff_t first = offset >= 0 ? 0 : (-offset + s - 1) / s;
  const std::ptrdiff_t end = std::ptrdiff_t(extent) - offset <= 0 ? 0 : (std::ptrdiff_t(extent) - offset + s - 1) / s;
  lo = std::min(std::size_t(first), n);
  hi = std::max(lo, std::min(std::size_t(std::max<std::ptrdiff_t>(end, 0)), n));
}

/// col (g.rows() × g.cols()) from image (g.channels × ih × iw). Defined in im2col.cpp: on CPUs
/// with AVX-512, float rows at stride 1 are one masked load and store per 16 values.
template <class T>
void im2col(const T* image, const ConvGeometry& g, T* col);

/// image (g.channels × ih × iw) (+)= the columns of col (g.rows() × g.cols()) added up at the
/// positions im2col read them from: the adjoint of im2col. `add`: add to the image, else
/// overwrite it (positions no window reads become 0).
template <class T>
void col2im(const T* col, const ConvGeometry& g, T* image, bool add);

/// The portable loops behind im2col and col2im_add (any stride).
template <class T>
void im2col_loops(const T* image, const ConvGeometry& g, T* col) {
  const std::size_t ohw = g.oh * g.ow, plane = g.ih * g.iw;
  for (std::size_t c = 0; c < g.channels; ++c) {
    const T* src = image + c * plane;
    for (std::size_t i = 0; i < g.kh; ++i) {
      const std::ptrdiff_t off_h = std::ptrdiff_t(i * g.dh) - std::ptrdiff_t(g.ph);
      std::size_t y_lo, y_hi;
      inside(off_h, g.sh, g.ih, g.oh, y_lo, y_hi);
      for (std::size_t j = 0; j < g.kw; ++j) {
        T* dst = col + ((c * g.kh + i) * g.kw + j) * ohw;
        const std::ptrdiff_t off_w = std::ptrdiff_t(j * g.dw) - std::ptrdiff_t(g.pw);
        std::size_t x_lo, x_hi;
        inside(off_w, g.sw, g.iw, g.ow, x_lo, x_hi);
        std::fill(dst, dst + y_lo * g.ow, T(0));
        for (std::size_t y = y_lo; y < y_hi; ++y) {
          T* d = dst + y * g.ow;
          const T* s = src + std::size_t(std::ptrdiff_t(y * g.sh) + off_h) * g.iw;
          // Rows are short (14 values in the CNN's second layer): plain loops, not memcpy/memset
          // calls, whose call overhead took longer than the copy.
          for (std::size_t x = 0; x < x_lo; ++x) d[x] = T(0);
          if (g.sw == 1) {
            const T* sx = s + off_w;
            for (std::size_t x = x_lo; x < x_hi; ++x) d[x] = sx[x];
          } else {
            for (std::size_t x = x_lo; x < x_hi; ++x) d[x] = s[std::ptrdiff_t(x * g.sw) + off_w];
          }
          for (std::size_t x = x_hi; x < g.ow; ++x) d[x] = T(0);
        }
        std::fill(dst + y_hi * g.ow, dst + ohw, T(0));
      }
    }
  }
}

template <class T>
void col2im_add_loops(const T* col, const ConvGeometry& g, T* image) {
  const std::size_t ohw = g.oh * g.ow, plane = g.ih * g.iw;
  for (std::size_t c = 0; c < g.channels; ++c) {
    T* dst = image + c * plane;
    for (std::size_t i = 0; i < g.kh; ++i) {
      const std::ptrdiff_t off_h = std::ptrdiff_t(i * g.dh) - std::ptrdiff_t(g.ph);
      std::size_t y_lo, y_hi;
      inside(off_h, g.sh, g.ih, g.oh, y_lo, y_hi);
      for (std::size_t j = 0; j < g.kw; ++j) {
        const T* src = col + ((c * g.kh + i) * g.kw + j) * ohw;
        const std::ptrdiff_t off_w = std::ptrdiff_t(j * g.dw) - std::ptrdiff_t(g.pw);
        std::size_t x_lo, x_hi;
        inside(off_w, g.sw, g.iw, g.ow, x_lo, x_hi);
        for (std::size_t y = y_lo; y < y_hi; ++y) {
          const T* s = src + y * g.ow;
          T* d = dst + std::size_t(std::ptrdiff_t(y * g.sh) + off_h) * g.iw;
          if (g.sw == 1) {
            T* dx = d + off_w;
            for (std::size_t x = x_lo; x < x_hi; ++x) dx[x] += s[x];
          } else {
            for (std::size_t x = x_lo; x < x_hi; ++x) d[std::ptrdiff_t(x * g.sw) + off_w] += s[x];
          }
        }
      }
    }
  }
}

}  // namespace tapegrad::detail
