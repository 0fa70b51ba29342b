// tapegrad-compare: tapegrad's autograd gradients against the tutorial's hand-derived backprop,
// from identical weights, with every difference explained (docs/tutorial-comparison.md).
//
//   tapegrad-compare                              # XOR, [2, 4, 1], weights of np.random.seed(1)
//   tapegrad-compare --sizes 8,16,16,3 --batch 64 --seed 2
//   tapegrad-compare --data X.npy Y.npy --sizes 5,8,2 --dump out/
//
// Exit status: 0 when max abs diff autograd vs hand-derived <= tolerance, 1 when above it (or
// NaN), 2 for bad arguments or inputs.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tapegrad/error.hpp"
#include "tapegrad/io/npy.hpp"
#include "tapegrad/tutorial/compare.hpp"
#include "tapegrad/tutorial/neural_network.hpp"

namespace tt = tapegrad::tutorial;
using tapegrad::Array;

namespace {

struct Args {
  std::vector<std::size_t> sizes;
  std::optional<std::size_t> batch;
  std::uint32_t seed = 1;
  std::vector<std::string> data;
  std::string weights;
  std::string dtype = "double";
  std::optional<double> tolerance;
  std::string dump;
  double learning_rate = 0.5;
  bool as_written = false;
};

std::string list(const std::vector<std::size_t>& v) {
  std::ostringstream s;
  for (std::size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  return s.str();
}

template <class T>
int run(const Args& args) {
  std::vector<std::string> about;
  tt::NumpyRandomState rng(args.seed);

  // The weights: from .npy files, or drawn as the tutorial draws them after np.random.seed.
  std::optional<tt::NeuralNetwork<T>> net;
  std::vector<std::size_t> sizes = args.sizes;
  if (!args.weights.empty()) {
    const auto slash = args.weights.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : args.weights.substr(0, slash);
    const std::string prefix = slash == std::string::npos ? args.weights : args.weights.substr(slash + 1);
    net = tt::NeuralNetwork<T>::from_npy(dir, prefix);
    TG_CHECK(tapegrad::ValueError, sizes.empty() || sizes == net->layer_sizes(), "--sizes ", list(sizes),
             " differ from the sizes of the --weights files (", list(net->layer_sizes()), ")");
    sizes = net->layer_sizes();
    about.push_back("weights: " + args.weights + "layers.<i>.{weight,bias}.npy");
  } else {
    if (sizes.empty()) sizes = {2, 4, 1};
    net.emplace(sizes, rng);
    about.push_back("weights: np.random.seed(" + std::to_string(args.seed) + "); NeuralNetwork([" + list(sizes) +
                    "]) (the tutorial's He initialisation)");
  }

  Array<T> X, y;
  const std::size_t n_in = sizes.front(), k = sizes.back();
  if (!args.data.empty()) {
    X = tapegrad::io::read_npy<T>(args.data[0]);
    y = tapegrad::io::read_npy<T>(args.data[1]);
    about.push_back("data: " + args.data[0] + ", " + args.data[1]);
  } else if (!args.batch && n_in == 2 && k == 1) {
    X = Array<T>::from_shape({4, 2});
    y = Array<T>::from_shape({4, 1});
    const T xs[] = {0, 0, 0, 1, 1, 0, 1, 1}, ys[] = {0, 1, 1, 0};
    std::copy(xs, xs + 8, X.begin());
    std::copy(ys, ys + 4, y.begin());
    about.push_back("data: XOR, the tutorial's 4 examples");
  } else {
    const std::size_t m = args.batch.value_or(32);
    TG_CHECK(tapegrad::ValueError, m > 0, "--batch must be positive");
    X = xt::cast<T>(rng.randn(m, n_in));
    y = xt::cast<T>(rng.rand(m, k) < 0.5);
    about.push_back("data: X = np.random.randn(" + std::to_string(m) + ", " + std::to_string(n_in) +
                    "); y = (np.random.rand(" + std::to_string(m) + ", " + std::to_string(k) +
                    ") < 0.5), drawn after the weights");
  }

  tt::CompareOptions options;
  options.learning_rate(args.learning_rate);
  options.as_written(args.as_written);
  const auto c = tt::compare_gradients(*net, X, y, options);
  const double tolerance = args.tolerance.value_or(sizeof(T) == 8 ? 1e-10 : 1e-5);
  if (!args.dump.empty()) {
    tt::dump_comparison(c, args.dump);
    about.push_back("dumped to " + args.dump + "/ (<set>.<parameter>.npy, X.npy, y.npy, manifest.txt)");
  }
  std::cout << tt::format_comparison(c, tolerance, about) << std::flush;
  return c.headline <= tolerance ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Compares tapegrad's autograd gradients with the tutorial's hand-derived backprop from identical weights, "
      "and explains every difference. Exit status 0 when the max abs diff autograd vs hand-derived is within "
      "--tolerance, 1 when not, 2 for bad arguments.",
      "tapegrad-compare"};
  Args args;
  app.add_option("--sizes", args.sizes, "layer sizes, e.g. 2,4,1 (default; with XOR data)")->delimiter(',');
  app.add_option("--batch", args.batch, "random data of N examples (np.random.randn inputs, 0/1 targets)");
  app.add_option("--seed", args.seed, "np.random.seed for the weights and random data")->capture_default_str();
  app.add_option("--data", args.data, "inputs and targets as .npy files: X (m, n_in) and Y (m, n_out)")
      ->expected(2)
      ->check(CLI::ExistingFile);
  app.add_option("--weights", args.weights,
                 "read initial weights from <PREFIX>layers.<i>.weight.npy / .bias.npy (e.g. a dump's 'dir/initial.')");
  app.add_option("--dtype", args.dtype, "float or double")
      ->check(CLI::IsMember({"float", "double"}))
      ->capture_default_str();
  app.add_option("--tolerance", args.tolerance, "max abs diff allowed (default 1e-10 for double, 1e-5 for float)");
  app.add_option("--dump", args.dump, "write X, y, the initial weights and every gradient set as .npy into DIR");
  app.add_option("--lr", args.learning_rate, "learning rate of the tutorial's backward (for the applied gradients)")
      ->capture_default_str();
  app.add_flag("--as-written", args.as_written,
               "headline against the tutorial as written (its loss with 1e-8, unscaled, vs what backward applies) "
               "instead of as corrected");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    return args.dtype == "float" ? run<float>(args) : run<double>(args);
  } catch (const tapegrad::Error& e) {
    std::cerr << "tapegrad-compare: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "tapegrad-compare: " << e.what() << '\n';
    return 2;
  }
}
