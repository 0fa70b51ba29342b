#pragma once
// The network of examples/fashion_mnist_cnn, shared with benchmarks/bench_conv's BM_CnnStep so
// the benchmark times exactly what the example trains:
//
//   conv(1→32, 3×3, padding 1) → ReLU → max_pool 2 → conv(32→64, 3×3, padding 1) → ReLU → max_pool 2
//   → flatten → Linear(3136→128) → ReLU → Linear(128→10)
//
// numbered as a PyTorch nn.Sequential numbers its layers (0.weight, 0.bias, 3.weight, ..., 9.bias).
#include <memory>

#include "tapegrad/tapegrad.hpp"

namespace examples {

inline void build_cnn(tapegrad::nn::Sequential<float>& net, tapegrad::Rng& rng) {
  namespace nn = tapegrad::nn;
  net.push_back(std::make_shared<nn::Conv2d<float>>(nn::Conv2dOptions(1, 32, 3).padding(1), rng));   // 0
  net.push_back(std::make_shared<nn::ReLU<float>>());                                               // 1
  net.push_back(std::make_shared<nn::MaxPool2d<float>>(2));                                         // 2
  net.push_back(std::make_shared<nn::Conv2d<float>>(nn::Conv2dOptions(32, 64, 3).padding(1), rng));  // 3
  net.push_back(std::make_shared<nn::ReLU<float>>());                                               // 4
  net.push_back(std::make_shared<nn::MaxPool2d<float>>(2));                                         // 5
  net.push_back(std::make_shared<nn::Flatten<float>>());                                          // 6
  net.push_back(std::make_shared<nn::Linear<float>>(nn::LinearOptions(3136, 128), rng));            // 7
  net.push_back(std::make_shared<nn::ReLU<float>>());                                               // 8
  net.push_back(std::make_shared<nn::Linear<float>>(nn::LinearOptions(128, 10), rng));              // 9
}

}  // namespace examples
