#pragma once
/// Pooling layers (no parameters): max_pool2d, avg_pool2d and adaptive_avg_pool2d of
/// tapegrad/pooling.hpp as modules, with libtorch's options.
///
///     tapegrad::nn::MaxPool2d<float> pool(2);                                        // 2×2, stride 2
///     tapegrad::nn::AvgPool2d<float> avg(tapegrad::nn::AvgPool2dOptions(3).stride(1).padding(1));
///     tapegrad::nn::AdaptiveAvgPool2d<float> gap(1);                                 // global average
#include <cstdint>
#include <type_traits>

#include "tapegrad/arg.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/size2.hpp"

namespace tapegrad::nn {

/// libtorch's MaxPool2dOptions(kernel_size): the stride defaults to the kernel size.
struct MaxPool2dOptions {
  MaxPool2dOptions(Size2 kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT: implicit
  TAPEGRAD_ARG(Size2, kernel_size);
  TAPEGRAD_ARG(Size2, stride);
  TAPEGRAD_ARG(Size2, padding) = 0;
  TAPEGRAD_ARG(Size2, dilation) = 1;
  TAPEGRAD_ARG(bool, ceil_mode) = false;
};

template <class T>
class MaxPool2d : public Module<T> {
 public:
  explicit MaxPool2d(const MaxPool2dOptions& options) : options_(options) {}
  template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
  explicit MaxPool2d(I kernel_size) : options_(Size2(kernel_size)) {}
  Var<T> forward(const Var<T>& x);
  const MaxPool2dOptions& options() const noexcept { return options_; }

 private:
  MaxPool2dOptions options_;
};

/// libtorch's AvgPool2dOptions(kernel_size): the stride defaults to the kernel size.
struct AvgPool2dOptions {
  AvgPool2dOptions(Size2 kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT: implicit
  TAPEGRAD_ARG(Size2, kernel_size);
  TAPEGRAD_ARG(Size2, stride);
  TAPEGRAD_ARG(Size2, padding) = 0;
  TAPEGRAD_ARG(bool, ceil_mode) = false;
  TAPEGRAD_ARG(bool, count_include_pad) = true;
  /// > 0: the divisor of every window (0: none, PyTorch's None).
  TAPEGRAD_ARG(std::int64_t, divisor_override) = 0;
};

template <class T>
class AvgPool2d : public Module<T> {
 public:
  explicit AvgPool2d(const AvgPool2dOptions& options) : options_(options) {}
  template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
  explicit AvgPool2d(I kernel_size) : options_(Size2(kernel_size)) {}
  Var<T> forward(const Var<T>& x);
  const AvgPool2dOptions& options() const noexcept { return options_; }

 private:
  AvgPool2dOptions options_;
};

struct AdaptiveAvgPool2dOptions {
  AdaptiveAvgPool2dOptions(Size2 output_size) : output_size_(output_size) {}  // NOLINT: implicit
  TAPEGRAD_ARG(Size2, output_size);
};

template <class T>
class AdaptiveAvgPool2d : public Module<T> {
 public:
  explicit AdaptiveAvgPool2d(const AdaptiveAvgPool2dOptions& options) : options_(options) {}
  template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
  explicit AdaptiveAvgPool2d(I output_size) : options_(Size2(output_size)) {}
  Var<T> forward(const Var<T>& x);
  const AdaptiveAvgPool2dOptions& options() const noexcept { return options_; }

 private:
  AdaptiveAvgPool2dOptions options_;
};

}  // namespace tapegrad::nn
