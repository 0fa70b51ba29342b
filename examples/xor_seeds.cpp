// How often does the tutorial's XOR network converge? Trains examples/xor.cpp's setup for each
// seed in [first, last] and counts the runs whose loss at epoch 4900 is below 0.05. Small XOR
// nets with 4 ReLU units sometimes get stuck (a dead or saturated hidden unit): this measures
// how often. Compare with tools/xor_seeds_numpy.py, the tutorial's own NumPy code.
//
//   build/examples/xor_seeds [first=0] [last=99]
#include <cstdio>
#include <cstdlib>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

int main(int argc, char** argv) {
  const unsigned first = argc > 1 ? unsigned(std::atoi(argv[1])) : 0;
  const unsigned last = argc > 2 ? unsigned(std::atoi(argv[2])) : 99;
  const tg::Array<float> X{{0.f, 0.f}, {0.f, 1.f}, {1.f, 0.f}, {1.f, 1.f}};
  const tg::Array<float> y = xt::reshape_view(tg::Array<float>{0.f, 1.f, 1.f, 0.f}, {4, 1});
  unsigned converged = 0;
  tg::Tape<float> tape;
  for (unsigned seed = first; seed <= last; ++seed) {
    tg::Rng rng(seed);
    tg::nn::MLP<float> model({2, 4, 1}, rng);
    tg::optim::SGD<float> optimizer(model.parameters(), 0.5);
    float loss_4900 = 0;
    for (int epoch = 0; epoch < 5000; ++epoch) {
      auto loss = tg::bce(tg::sigmoid(model.forward(tape.constant(X))), tape.constant(y));
      if (epoch == 4900) loss_4900 = loss.item();
      optimizer.zero_grad();
      tape.backward(loss);
      optimizer.step();
    }
    converged += loss_4900 < 0.05f;
    std::printf("seed %u: loss at epoch 4900 = %.4f%s\n", seed, loss_4900, loss_4900 < 0.05f ? "" : "  (stuck)");
  }
  std::printf("converged (loss < 0.05 at epoch 4900): %u of %u seeds\n", converged, last - first + 1);
}
