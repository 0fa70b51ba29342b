// A user's program: trains the tutorial's 2-4-1 MLP on XOR with SGD through the umbrella
// header only, and exits non-zero unless the loss falls and the version matches the headers.
#include <tapegrad/tapegrad.hpp>

#include <cstdio>
#include <cstring>

int main() {
  using namespace tapegrad;
  if (std::strcmp(version(), TAPEGRAD_VERSION_STRING) != 0) {
    std::fprintf(stderr, "library version %s != header version %s\n", version(), TAPEGRAD_VERSION_STRING);
    return 1;
  }

  Rng rng(42);
  nn::MLP<float> model({2, 4, 1}, rng);
  optim::SGD<float> opt(model.parameters(), optim::SGDOptions(0.5));
  const Array<float> x = {{0.f, 0.f}, {0.f, 1.f}, {1.f, 0.f}, {1.f, 1.f}};
  Array<float> y = {0.f, 1.f, 1.f, 0.f};  // {{0.f}, ...} is ambiguous for xtensor
  y.reshape({4, 1});

  Tape<float> tape;
  float first = 0.f, last = 0.f;
  for (int step = 0; step < 500; ++step) {
    auto loss = bce_with_logits(model.forward(tape.constant(x)), tape.constant(y));
    last = loss.item();
    if (step == 0) first = last;
    opt.zero_grad();
    tape.backward(loss);
    opt.step();
  }
  std::printf("tapegrad %s: XOR loss %.4f -> %.4f\n", version(), first, last);
  // Falling by half is far from a trained network's ~0.01, and far beyond what noise gives.
  return last < 0.5f * first ? 0 : 1;
}
