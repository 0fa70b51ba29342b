// Debugging tools in one program: a tape printed as text and exported as Graphviz DOT, and
// anomaly mode naming the op that produced a NaN.
//   debugging [tape.dot]     then: dot -Tsvg tape.dot -o tape.svg
#include <fstream>
#include <iostream>

#include "tapegrad/tapegrad.hpp"

namespace tg = tapegrad;

int main(int argc, char** argv) {
  tg::Rng rng(42);
  tg::nn::MLP<float> model({2, 4, 1}, rng);  // the tutorial's XOR network
  tg::Tape<float> tape;
  const tg::Array<float> x = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
  tg::Array<float> y = tg::Array<float>::from_shape({4, 1});
  y(0, 0) = 0, y(1, 0) = 1, y(2, 0) = 1, y(3, 0) = 0;

  // 1. The tape of one training step, labelled, as text and as DOT.
  tg::Var<float> loss;
  {
    tg::Label label("mlp");
    auto logits = model.forward(tape.constant(x));
    tg::Label loss_label("loss");
    loss = tg::bce(tg::sigmoid(logits), tape.constant(y));
  }
  std::cout << tg::tape_to_string(tape, model.named_parameters()) << '\n';
  const char* dot_path = argc > 1 ? argv[1] : "tape.dot";
  std::ofstream(dot_path) << tg::tape_to_dot(tape, model.named_parameters());
  std::cout << "wrote " << dot_path << " (render: dot -Tsvg " << dot_path << " -o tape.svg)\n\n";
  tape.backward(loss);

  // 2. Anomaly mode: log(p) of a probability that underflowed to 0 is -inf.
  tg::AnomalyGuard anomaly;
  try {
    tg::Label label("hand-written loss");
    auto p = tg::sigmoid(tape.constant(tg::Array<float>{-200.f, 3.f}));  // σ(-200) = 0 in float
    auto bad = tg::mean(tg::log(p));
    std::cout << "loss " << bad.item() << '\n';
  } catch (const tg::AnomalyError& e) {
    std::cout << "AnomalyError: " << e.what() << '\n';
  }
  return 0;
}
