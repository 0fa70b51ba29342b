#include "tapegrad/nn/conv.hpp"

#include <cmath>

#include "tapegrad/conv.hpp"

namespace tapegrad::nn {

namespace {

void check_common(const char* layer, std::size_t in, std::size_t out, Size2 kernel, Size2 stride, Size2 padding,
                  Size2 dilation, std::int64_t groups) {
  TG_CHECK(ValueError, in > 0 && out > 0, layer, ": channels must be positive, got (", in, ", ", out, ")");
  TG_CHECK(ValueError, kernel.h >= 1 && kernel.w >= 1, layer, ": kernel_size must be positive, got ", to_string(kernel));
  TG_CHECK(ValueError, stride.h >= 1 && stride.w >= 1, layer, ": stride must be positive, got ", to_string(stride));
  TG_CHECK(ValueError, padding.h >= 0 && padding.w >= 0, layer, ": padding must be non-negative, got ",
           to_string(padding));
  TG_CHECK(ValueError, dilation.h >= 1 && dilation.w >= 1, layer, ": dilation must be positive, got ",
           to_string(dilation));
  TG_CHECK(ValueError, groups >= 1, layer, ": groups must be positive, got ", groups);
  TG_CHECK(ValueError, in % std::size_t(groups) == 0, layer, ": in_channels ", in, " is not divisible by groups ",
           groups);
  TG_CHECK(ValueError, out % std::size_t(groups) == 0, layer, ": out_channels ", out, " is not divisible by groups ",
           groups);
}

// PyTorch's _ConvNd.reset_parameters(): kaiming_uniform_(a = √5) gives the bound
// gain·√(3 / fan_in) with gain = √(2 / (1 + 5)), that is 1/√fan_in; the bias takes the same bound.
template <class T>
Array<T> uniform_init(const char* layer, const Shape& shape, std::size_t fan_in, Rng& rng) {
  checked_numel(layer, shape);
  const T bound = T(1.0 / std::sqrt(double(fan_in)));
  return rng.uniform<T>(shape, -bound, bound);
}

}  // namespace

template <class T>
Conv2d<T>::Conv2d(const Conv2dOptions& options, Rng& rng) : options_(options) {
  const std::size_t in = options.in_channels(), out = options.out_channels();
  check_common("Conv2d", in, out, options.kernel_size(), options.stride(), options.padding(), options.dilation(),
               options.groups());
  const auto kh = std::size_t(options.kernel_size().h), kw = std::size_t(options.kernel_size().w);
  const std::size_t in_g = in / std::size_t(options.groups()), fan_in = in_g * kh * kw;
  weight_ = this->num_own_parameters();
  this->register_parameter("weight", uniform_init<T>("Conv2d", {out, in_g, kh, kw}, fan_in, rng));
  if (options.bias()) {
    bias_ = this->num_own_parameters();
    this->register_parameter("bias", uniform_init<T>("Conv2d", {out}, fan_in, rng));
  }
}

template <class T>
Var<T> Conv2d<T>::forward(const Var<T>& x) {
  const Conv2dOptions& o = options_;
  return conv2d(x, weight(), o.bias() ? Var<T>(bias()) : Var<T>(), o.stride(), o.padding(), o.dilation(), o.groups());
}

template <class T>
ConvTranspose2d<T>::ConvTranspose2d(const ConvTranspose2dOptions& options, Rng& rng) : options_(options) {
  const std::size_t in = options.in_channels(), out = options.out_channels();
  check_common("ConvTranspose2d", in, out, options.kernel_size(), options.stride(), options.padding(),
               options.dilation(), options.groups());
  const Size2 op = options.output_padding(), s = options.stride(), d = options.dilation();
  TG_CHECK(ValueError, op.h >= 0 && op.w >= 0 && (op.h < s.h || op.h < d.h) && (op.w < s.w || op.w < d.w),
           "ConvTranspose2d: output_padding ", to_string(op), " must be non-negative and smaller than either the stride ",
           to_string(s), " or the dilation ", to_string(d));
  const auto kh = std::size_t(options.kernel_size().h), kw = std::size_t(options.kernel_size().w);
  const std::size_t out_g = out / std::size_t(options.groups()), fan_in = out_g * kh * kw;
  weight_ = this->num_own_parameters();
  this->register_parameter("weight", uniform_init<T>("ConvTranspose2d", {in, out_g, kh, kw}, fan_in, rng));
  if (options.bias()) {
    bias_ = this->num_own_parameters();
    this->register_parameter("bias", uniform_init<T>("ConvTranspose2d", {out}, fan_in, rng));
  }
}

template <class T>
Var<T> ConvTranspose2d<T>::forward(const Var<T>& x) {
  const ConvTranspose2dOptions& o = options_;
  return conv_transpose2d(x, weight(), o.bias() ? Var<T>(bias()) : Var<T>(), o.stride(), o.padding(),
                          o.output_padding(), o.groups(), o.dilation());
}

template class Conv2d<float>;
template class Conv2d<double>;
template class ConvTranspose2d<float>;
template class ConvTranspose2d<double>;

}  // namespace tapegrad::nn
