// tapegrad's autograd against the tutorial's hand-derived backprop, on the tutorial's XOR
// network with the weights the tutorial draws after np.random.seed(1). Prints a table per
// comparison and explains every difference (docs/tutorial-comparison.md).
//
//   build/examples/compare_tutorial        (tools/tapegrad-compare does the same, with options)
#include <iostream>

#include <tapegrad/tutorial/compare.hpp>
#include <tapegrad/tutorial/neural_network.hpp>

namespace tt = tapegrad::tutorial;

int main() {
  tt::NumpyRandomState rng(1);                      // np.random.seed(1)
  tt::NeuralNetwork<double> net({2, 4, 1}, rng);    // nn = NeuralNetwork([2, 4, 1])
  tapegrad::Array<double> X = {{0., 0.}, {0., 1.}, {1., 0.}, {1., 1.}};
  tapegrad::Array<double> y = xt::reshape_view(tapegrad::Array<double>{0., 1., 1., 0.}, {4, 1});

  tt::CompareOptions options;
  options.learning_rate(0.5);  // the tutorial's XOR learning rate, used by its backward
  const auto comparison = tt::compare_gradients(net, X, y, options);
  const double tolerance = 1e-10;
  std::cout << tt::format_comparison(comparison, tolerance,
                                     {"weights: np.random.seed(1); NeuralNetwork([2, 4, 1])",
                                      "data: XOR, the tutorial's 4 examples"});
  return comparison.headline <= tolerance ? 0 : 1;
}
