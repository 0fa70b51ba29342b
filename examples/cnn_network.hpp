#pragma once
// The network of examples/fashion_mnist_cnn, shared with benchmarks/bench_conv's BM_CnnStep so
// the benchmark times exactly what the example trains:
//
//   conv(1→32, 3×3, padding 1) → ReLU → max_pool 2 → conv(32→64, 3×3, padding 1) → ReLU → max_pool 2
//   → flatten → Linear(3136→128) → ReLU → Linear(128→10)
//
// numbered as a PyTorch nn.Sequential numbers its layers (0.weight, 0.bias, 3.weight, ..., 9.bias).
#include <algorithm>
#include <memory>

#include "tapegrad/tapegrad.hpp"

namespace examples {

/// (N, C, H, W) → (N, C·H·W), written with the custom-op API until nn::Flatten (issue 16, the
/// tensor vocabulary) is in main; then the network takes nn::Flatten and this goes.
template <class T>
struct FlattenStandIn : tapegrad::nn::Module<T> {
  tapegrad::Var<T> forward(const tapegrad::Var<T>& x) {
    tapegrad::Op<T> op("flatten", {x});
    const std::size_t n = x.shape()[0], rest = n == 0 ? 0 : x.value().size() / n;
    tapegrad::Array<T>& y = op.output(tapegrad::Shape{n, rest});
    std::copy(x.value().data(), x.value().data() + x.value().size(), y.data());
    return op.finish([](tapegrad::Backward<T>& b) {
      if (!b.needs_grad(0)) return;
      auto t = b.grad_target(0);
      const T* g = b.grad_out().data();
      T* d = t.grad.data();
      const std::size_t size = t.grad.size();
      if (t.add) {
        for (std::size_t i = 0; i < size; ++i) d[i] += g[i];
      } else {
        std::copy(g, g + size, d);
      }
    });
  }
};

inline void build_cnn(tapegrad::nn::Sequential<float>& net, tapegrad::Rng& rng) {
  namespace nn = tapegrad::nn;
  net.push_back(std::make_shared<nn::Conv2d<float>>(nn::Conv2dOptions(1, 32, 3).padding(1), rng));   // 0
  net.push_back(std::make_shared<nn::ReLU<float>>());                                               // 1
  net.push_back(std::make_shared<nn::MaxPool2d<float>>(2));                                         // 2
  net.push_back(std::make_shared<nn::Conv2d<float>>(nn::Conv2dOptions(32, 64, 3).padding(1), rng));  // 3
  net.push_back(std::make_shared<nn::ReLU<float>>());                                               // 4
  net.push_back(std::make_shared<nn::MaxPool2d<float>>(2));                                         // 5
  net.push_back(std::make_shared<FlattenStandIn<float>>());                                         // 6
  net.push_back(std::make_shared<nn::Linear<float>>(nn::LinearOptions(3136, 128), rng));            // 7
  net.push_back(std::make_shared<nn::ReLU<float>>());                                               // 8
  net.push_back(std::make_shared<nn::Linear<float>>(nn::LinearOptions(128, 10), rng));              // 9
}

}  // namespace examples
