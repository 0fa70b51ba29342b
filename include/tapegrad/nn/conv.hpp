#pragma once
/// Convolution layers with PyTorch's parameters, shapes, defaults and initialisation:
/// `weight` (out, in / groups, kH, kW) for Conv2d, (in, out / groups, kH, kW) for ConvTranspose2d,
/// and `bias` (out,), so that a checkpoint maps to a PyTorch state_dict by name.
///
///     tapegrad::nn::Conv2d<float> conv(tapegrad::nn::Conv2dOptions(1, 32, 3).padding(1), rng);
///     auto images = tape.constant(Array<float>(xt::zeros<float>({128, 1, 28, 28})));
///     auto maps = conv.forward(images);   // (128, 32, 28, 28)
///
/// Initialisation, as PyTorch's reset_parameters(): weight ~ U(−1/√fan_in, 1/√fan_in)
/// (kaiming_uniform_ with a = √5), bias ~ U(−1/√fan_in, 1/√fan_in), with fan_in = weight.size(1)·kH·kW
/// (for ConvTranspose2d that is out / groups · kH · kW, as in PyTorch). Only zero padding
/// (PyTorch's padding_mode "zeros").
#include <cstddef>
#include <cstdint>

#include "tapegrad/arg.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/random.hpp"
#include "tapegrad/size2.hpp"

namespace tapegrad::nn {

/// libtorch's Conv2dOptions(in_channels, out_channels, kernel_size).stride(...).padding(...)...
struct Conv2dOptions {
  Conv2dOptions(std::size_t in_channels, std::size_t out_channels, Size2 kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TAPEGRAD_ARG(std::size_t, in_channels);
  TAPEGRAD_ARG(std::size_t, out_channels);
  TAPEGRAD_ARG(Size2, kernel_size);
  TAPEGRAD_ARG(Size2, stride) = 1;
  TAPEGRAD_ARG(Size2, padding) = 0;
  TAPEGRAD_ARG(Size2, dilation) = 1;
  TAPEGRAD_ARG(std::int64_t, groups) = 1;
  /// Whether the layer has a bias.
  TAPEGRAD_ARG(bool, bias) = true;
};

/// conv2d(x, weight, bias, stride, padding, dilation, groups) as a layer. The constructor throws
/// ValueError, naming Conv2d and the options, for 0 channels, a kernel, stride or dilation below 1,
/// a negative padding, groups below 1, or channels not divisible by groups.
template <class T>
class Conv2d : public Module<T> {
 public:
  Conv2d(const Conv2dOptions& options, Rng& rng);
  Var<T> forward(const Var<T>& x);

  Parameter<T>& weight() { return this->param_at(weight_); }
  /// Throws ValueError for a layer without bias.
  Parameter<T>& bias() { return options_.bias() ? this->param_at(bias_) : this->param("bias"); }
  const Conv2dOptions& options() const noexcept { return options_; }

 private:
  Conv2dOptions options_;
  std::size_t weight_ = 0, bias_ = 0;
};

/// libtorch's ConvTranspose2dOptions(in_channels, out_channels, kernel_size).stride(...)...
struct ConvTranspose2dOptions {
  ConvTranspose2dOptions(std::size_t in_channels, std::size_t out_channels, Size2 kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TAPEGRAD_ARG(std::size_t, in_channels);
  TAPEGRAD_ARG(std::size_t, out_channels);
  TAPEGRAD_ARG(Size2, kernel_size);
  TAPEGRAD_ARG(Size2, stride) = 1;
  TAPEGRAD_ARG(Size2, padding) = 0;
  TAPEGRAD_ARG(Size2, output_padding) = 0;
  TAPEGRAD_ARG(std::int64_t, groups) = 1;
  TAPEGRAD_ARG(bool, bias) = true;
  TAPEGRAD_ARG(Size2, dilation) = 1;
};

/// conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation) as a
/// layer. The constructor throws ValueError as Conv2d's, and when an output padding is not smaller
/// than either the stride or the dilation. (PyTorch's forward(input, output_size) is not offered:
/// set output_padding.)
template <class T>
class ConvTranspose2d : public Module<T> {
 public:
  ConvTranspose2d(const ConvTranspose2dOptions& options, Rng& rng);
  Var<T> forward(const Var<T>& x);

  Parameter<T>& weight() { return this->param_at(weight_); }
  Parameter<T>& bias() { return options_.bias() ? this->param_at(bias_) : this->param("bias"); }
  const ConvTranspose2dOptions& options() const noexcept { return options_; }

 private:
  ConvTranspose2dOptions options_;
  std::size_t weight_ = 0, bias_ = 0;
};

}  // namespace tapegrad::nn
