#pragma once
/// Layer 3: 2-D convolutions with PyTorch's names, arguments, defaults and layouts
/// (torch.nn.functional.conv2d, conv_transpose2d): NCHW values, weights (out, in / groups, kH, kW)
/// for conv2d and (in, out / groups, kH, kW) for conv_transpose2d. Each is one op with one
/// backward rule (src/conv.cpp), gradchecked in tests/test_conv.cpp. Defined for float and double.
///
///     tapegrad::Tape<float> tape;
///     auto images = tape.constant(Array<float>(xt::zeros<float>({128, 1, 28, 28})));
///     tapegrad::Parameter<float> w(Array<float>(xt::ones<float>({32, 1, 3, 3})) * 0.1f);
///     tapegrad::Parameter<float> b(Array<float>(xt::zeros<float>({32})));
///     auto h = tapegrad::conv2d<float>(images, w, b, /*stride=*/1, /*padding=*/1);   // (128, 32, 28, 28)
///
/// A 3-D input (C, H, W) is one unbatched image, as in PyTorch; the output is then 3-D too. A bias
/// left out (`Var<T>()`) is PyTorch's None. `padding` is a number of zeros on each side (PyTorch's
/// "same"/"valid" strings are not taken: "valid" is 0, "same" at stride 1 is dilation·(k − 1)/2
/// for odd k).
///
/// How it runs: each image of the batch is lowered onto matrix products (im2col: W · col, its
/// gradients Gᵀ-products and col2im), the images cut into one slice per thread of tapegrad's pool;
/// the column buffers are kept with the tape entry and the tape's scratch space, so a training loop
/// allocates nothing after its first step. A 1×1 kernel at stride 1 without padding multiplies the
/// image itself. benchmarks/README.md says what was measured against what.
#include <cstdint>

#include "tapegrad/size2.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad {

/// A 2-D convolution (cross-correlation, as PyTorch's): input (N, C_in, H, W), weight
/// (C_out, C_in / groups, kH, kW), optional bias (C_out,) → (N, C_out, H_out, W_out) with
/// H_out = ⌊(H + 2·padding − dilation·(kH − 1) − 1) / stride⌋ + 1 (W_out likewise).
/// `groups` splits the channels into groups convolved separately (groups = C_in = C_out:
/// depthwise).
///
/// Throws ShapeError, naming conv2d and the shapes, for an input that is not 3-D or 4-D, a weight
/// that is not 4-D, channels that do not match the weight and groups (or are not divisible by
/// groups), a bias that is not (C_out,), and a kernel (dilated) larger than the padded input;
/// ValueError for a stride or dilation below 1, a negative padding, or groups below 1.
template <class T>
Var<T> conv2d(const Var<T>& input, const Var<T>& weight, const Var<T>& bias = Var<T>(), Size2 stride = 1,
              Size2 padding = 0, Size2 dilation = 1, std::int64_t groups = 1);

/// The transposed convolution ("deconvolution"), the gradient of conv2d with respect to its input
/// run forwards: input (N, C_in, H, W), weight (C_in, C_out / groups, kH, kW), optional bias
/// (C_out,) → (N, C_out, H_out, W_out) with
/// H_out = (H − 1)·stride − 2·padding + dilation·(kH − 1) + output_padding + 1 (W_out likewise).
/// PyTorch's argument order: `output_padding` before `groups`, `dilation` last.
///
/// Throws as conv2d (naming conv_transpose2d), and ValueError when an output padding is not
/// smaller than either the stride or the dilation (PyTorch's rule) or the output would be empty.
template <class T>
Var<T> conv_transpose2d(const Var<T>& input, const Var<T>& weight, const Var<T>& bias = Var<T>(), Size2 stride = 1,
                        Size2 padding = 0, Size2 output_padding = 0, std::int64_t groups = 1, Size2 dilation = 1);

}  // namespace tapegrad
