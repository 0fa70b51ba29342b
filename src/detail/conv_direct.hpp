#pragma once
// Direct convolution kernels for the case GEMM handles poorly: few input values per output (a
// first layer on one or three channels: 9 or 27 multiply-adds per output value). Lowered onto
// GEMM, such a convolution is a product with an inner dimension of 9, which spends its time
// packing operands and storing tiles, not multiplying. Here each output row is computed in
// registers: the taps of the kernel window are loaded once per chunk of a row (masked AVX-512
// loads that read zeros in the padding) and shared by every output channel; the weight gradient
// keeps one accumulator per tap. Float on AVX-512 CPUs only (the others take the GEMM path).
// Private to the library (src/conv.cpp).
#include <cstddef>

#include "detail/im2col.hpp"

namespace tapegrad::detail {

/// True when the direct kernels take a convolution of this geometry (one group's): float,
/// AVX-512, stride 1, and channels · kh · kw in {9, 18, 25, 27}.
bool direct_conv_applies(const ConvGeometry& g);

/// `images` images, image k at x + k·x_step: y (out × oh × ow, image k at y + k·y_step) = bias +
/// the convolution of x (g.channels × ih × iw) with w (out × g.rows()). `bias` may be null.
void direct_conv_forward(const float* x, std::size_t x_step, const float* w, const float* bias, std::size_t out,
                         const ConvGeometry& g, float* y, std::size_t y_step, std::size_t images);

/// dw (out × g.rows()) += Σ over the images of dy ⊗ taps of x, and db (out) += Σ dy when db is
/// not null (images laid out as for the forward).
void direct_conv_weight_grad(const float* x, std::size_t x_step, const float* dy, std::size_t dy_step,
                             std::size_t out, const ConvGeometry& g, float* dw, float* db, std::size_t images);

}  // namespace tapegrad::detail
