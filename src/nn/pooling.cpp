#include "tapegrad/nn/pooling.hpp"

#include "tapegrad/pooling.hpp"

namespace tapegrad::nn {

template <class T>
Var<T> MaxPool2d<T>::forward(const Var<T>& x) {
  const MaxPool2dOptions& o = options_;
  return max_pool2d(x, o.kernel_size(), o.stride(), o.padding(), o.dilation(), o.ceil_mode());
}

template <class T>
Var<T> AvgPool2d<T>::forward(const Var<T>& x) {
  const AvgPool2dOptions& o = options_;
  return avg_pool2d(x, o.kernel_size(), o.stride(), o.padding(), o.ceil_mode(), o.count_include_pad(),
                    o.divisor_override());
}

template <class T>
Var<T> AdaptiveAvgPool2d<T>::forward(const Var<T>& x) {
  return adaptive_avg_pool2d(x, options_.output_size());
}

template class MaxPool2d<float>;
template class MaxPool2d<double>;
template class AvgPool2d<float>;
template class AvgPool2d<double>;
template class AdaptiveAvgPool2d<float>;
template class AdaptiveAvgPool2d<double>;

}  // namespace tapegrad::nn
