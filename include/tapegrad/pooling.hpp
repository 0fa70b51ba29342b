#pragma once
/// Layer 3: 2-D pooling with PyTorch's names, arguments, defaults and semantics
/// (torch.nn.functional.max_pool2d, avg_pool2d, adaptive_avg_pool2d) on NCHW values: 4-D
/// (N, C, H, W) or 3-D (C, H, W). Each is one op with one backward rule (src/pooling.cpp),
/// gradchecked in tests/test_pooling.cpp. Defined for float and double.
///
///     auto maps = tape.constant(Array<float>(xt::zeros<float>({8, 32, 28, 28})));
///     auto pooled = tapegrad::max_pool2d(tapegrad::relu(maps), 2);   // (8, 32, 14, 14)
///
/// Output size along each dimension, as PyTorch: ⌊(H + 2·padding − dilation·(k − 1) − 1) / stride⌋
/// + 1, or rounded up with `ceil_mode` (then a last window that would start in the right padding is
/// dropped). Planes are cut over tapegrad's pool of threads when large.
///
/// Every op throws ShapeError naming it and the input's shape for an input that is not 3-D or 4-D
/// or whose output would be empty, and ValueError for a kernel size, stride or dilation below 1,
/// a negative padding, or a padding larger than half the kernel (PyTorch's limits).
#include <cstdint>

#include "tapegrad/size2.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad {

/// The maximum over each window; `stride` defaults (Size2()) to the kernel size; the padding is
/// −∞. The gradient flows to the window's arg-max: its first maximum in row-major order, or,
/// where the window holds a NaN, to its last NaN, whose NaN is also the output (as PyTorch's CPU
/// kernel). PyTorch's `return_indices` is not offered: the backward finds the arg-max again from
/// the input and output instead of keeping an index per output.
template <class T>
Var<T> max_pool2d(const Var<T>& input, Size2 kernel_size, Size2 stride = Size2(), Size2 padding = 0,
                  Size2 dilation = 1, bool ceil_mode = false);

/// The mean over each window; `stride` defaults (Size2()) to the kernel size. With
/// `count_include_pad` (PyTorch's default) the zeros of the padding count in the divisor; a window
/// that ceil_mode lets hang past the padding does not count that part. `divisor_override` > 0
/// replaces the divisor.
template <class T>
Var<T> avg_pool2d(const Var<T>& input, Size2 kernel_size, Size2 stride = Size2(), Size2 padding = 0,
                  bool ceil_mode = false, bool count_include_pad = true, std::int64_t divisor_override = 0);

/// The mean over output_size windows that tile the input: window o along a dimension of extent H
/// spans [⌊o·H/out⌋, ⌈(o + 1)·H/out⌉). Throws ValueError for a negative size.
template <class T>
Var<T> adaptive_avg_pool2d(const Var<T>& input, Size2 output_size);

}  // namespace tapegrad
