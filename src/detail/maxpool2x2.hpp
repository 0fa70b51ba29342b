#pragma once
// max_pool2d's common case, 2×2 windows at stride 2 without padding or dilation, on AVX-512 for
// float (src/pooling.cpp takes it where it applies). Rows are loaded 32 values at a time and split
// into their even and odd columns in registers, so each output vector is three vector maxima and
// the backward writes each input row once. Private to the library.
#include <cstddef>

namespace tapegrad::detail {

/// True on CPUs with AVX-512 (checked once).
bool maxpool2x2_avx512();

/// One plane: out (oh × ow) = the max of each 2×2 block of in (h × w), with h ≥ 2·oh and
/// w ≥ 2·ow; a NaN in a block is its max (as PyTorch's scan).
void maxpool2x2_forward(const float* in, std::size_t h, std::size_t w, float* out, std::size_t oh, std::size_t ow);

/// One plane: din (h × w) (+)= gout routed to each block's arg-max (PyTorch's: its first maximum in
/// row-major order, or its last NaN), found from in and out; with `add` false every value of din
/// is written (0 off the arg-maxes, and in the rows and columns no block covers).
void maxpool2x2_backward(const float* in, const float* out, const float* gout, std::size_t h, std::size_t w,
                         std::size_t oh, std::size_t ow, float* din, bool add);

}  // namespace tapegrad::detail
