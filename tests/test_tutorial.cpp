// The tutorial port against the tutorial's own NumPy class: tests/reference/tutorial_numpy.py
// (run by ctest as the fixture "tutorial_reference") writes what the NumPy original does; the
// port, from the same initial weights, must do the same to 1e-12 in float64.
#include "tapegrad/tutorial/neural_network.hpp"
#include "tapegrad/io/npy.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <unistd.h>

#include "tapegrad/error.hpp"

namespace tt = tapegrad::tutorial;
using tapegrad::Array;

namespace {

const std::string kReference = TAPEGRAD_TUTORIAL_REFERENCE_DIR;

std::string case_dir(const std::string& name) {
  const std::string dir = kReference + "/" + name;
  if (!std::filesystem::exists(dir + "/losses.npy")) {
    ADD_FAILURE() << "no NumPy reference in " << dir
                  << ": run `ctest -R tutorial_numpy_reference` (the fixture of these tests) first";
  }
  return dir;
}

double max_abs_diff(const Array<double>& a, const Array<double>& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return INFINITY;
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
  return m;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs the port from the reference's initial weights exactly as the script runs the original.
void check_against_numpy(const std::string& name) {
  const std::string dir = case_dir(name);
  const Array<double> config = tapegrad::io::read_npy<double>(dir + "/config.npy");
  const double lr = config(0);
  const auto epochs = std::size_t(config(1));
  const Array<double> X = tapegrad::io::read_npy<double>(dir + "/X.npy");
  const Array<double> y = tapegrad::io::read_npy<double>(dir + "/y.npy");

  auto nn = tt::NeuralNetwork<double>::from_npy(dir, "initial.");
  std::ostringstream log;
  const std::vector<double> losses = nn.train(X, y, epochs, lr, log);

  const Array<double> expected_losses = tapegrad::io::read_npy<double>(dir + "/losses.npy");
  ASSERT_EQ(losses.size(), expected_losses.size());
  double worst_loss = 0;
  for (std::size_t e = 0; e < losses.size(); ++e) {
    worst_loss = std::max(worst_loss, std::abs(losses[e] - expected_losses(e)));
  }
  EXPECT_LE(worst_loss, 1e-12) << name << ": per-epoch losses differ from NumPy";

  const auto expected = tt::NeuralNetwork<double>::from_npy(dir, "final.");
  ASSERT_EQ(nn.num_layers(), expected.num_layers());
  double worst_param = 0;
  for (std::size_t i = 0; i < nn.num_layers(); ++i) {
    const double dw = max_abs_diff(nn.weights[i], expected.weights[i]);
    const double db = max_abs_diff(nn.biases[i], expected.biases[i]);
    EXPECT_LE(dw, 1e-12) << name << ": final weights[" << i << "]";
    EXPECT_LE(db, 1e-12) << name << ": final biases[" << i << "]";
    worst_param = std::max({worst_param, dw, db});
  }
  // The measured distance, for the record (docs/tutorial-comparison.md quotes it).
  std::cout << name << ": " << epochs << " epochs, max |loss - numpy| " << worst_loss
            << ", max |final parameter - numpy| " << worst_param << '\n';
  EXPECT_LE(max_abs_diff(nn.predict(X), tapegrad::io::read_npy<double>(dir + "/predictions.npy")), 1e-12);
  // Every printed loss is rounded to 4 decimals, so the logs agree character for character.
  EXPECT_EQ(log.str(), read_text(dir + "/train_log.txt"));
}

// np.random.seed(seed); NeuralNetwork(sizes); then the data, as the script draws them.
void check_draws(const std::string& name, std::uint32_t seed, const std::vector<std::size_t>& sizes, bool random_data) {
  const std::string dir = case_dir(name);
  tt::NumpyRandomState rng(seed);
  tt::NeuralNetwork<double> nn(sizes, rng);
  const auto expected = tt::NeuralNetwork<double>::from_npy(dir, "initial.");
  ASSERT_EQ(nn.num_layers(), expected.num_layers());
  for (std::size_t i = 0; i < nn.num_layers(); ++i) {
    // The same generator, the same libm: bit for bit.
    EXPECT_EQ(nn.weights[i], expected.weights[i]) << name << ": weights[" << i << "]";
    EXPECT_EQ(nn.biases[i], expected.biases[i]) << name << ": biases[" << i << "]";
  }
  if (random_data) {
    const Array<double> X = tapegrad::io::read_npy<double>(dir + "/X.npy");
    const Array<double> y = tapegrad::io::read_npy<double>(dir + "/y.npy");
    EXPECT_EQ(rng.randn(X.shape()[0], X.shape()[1]), X);
    EXPECT_EQ(xt::eval(xt::cast<double>(rng.rand(y.shape()[0], y.shape()[1]) < 0.5)), y);
  }
}

// A (rows, cols) array from row-major values ({{x}} literals are ambiguous in xtensor).
Array<double> mat(std::size_t rows, std::size_t cols, std::vector<double> values) {
  Array<double> a = Array<double>::from_shape({rows, cols});
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}

Array<double> xor_X() { return mat(4, 2, {0, 0, 0, 1, 1, 0, 1, 1}); }
Array<double> xor_y() { return mat(4, 1, {0, 1, 1, 0}); }

std::string temp_dir(const std::string& name) {
  // The process id keeps concurrent runs (other build trees on the machine) apart.
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tapegrad_test_tutorial_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace

TEST(TutorialPort, DrawsTheTutorialsWeightsFromNumpySeed) {
  check_draws("xor", 1, {2, 4, 1}, false);
  check_draws("random", 2, {8, 16, 16, 3}, true);
}

TEST(TutorialPort, MatchesNumpyOnXor) { check_against_numpy("xor"); }

TEST(TutorialPort, MatchesNumpyOnLargerRandomCase) { check_against_numpy("random"); }

TEST(TutorialPort, ForwardKeepsLayerInputsAndActivations) {
  tt::NeuralNetwork<double> nn({mat(2, 2, {1, -1, 2, 0.5}), mat(2, 1, {1, -2})},
                               {mat(1, 2, {0.5, 0}), mat(1, 1, {0.25})});
  const Array<double> X = mat(1, 2, {1, 1});
  const Array<double>& out = nn.forward(X);
  ASSERT_EQ(nn.layer_inputs.size(), 3u);
  ASSERT_EQ(nn.activations.size(), 3u);
  // z1 = [1+2+0.5, -1+0.5+0] = [3.5, -0.5]; a1 = [3.5, 0]; z2 = 3.5 + 0.25 = 3.75
  EXPECT_EQ(nn.layer_inputs[1], mat(1, 2, {3.5, -0.5}));
  EXPECT_EQ(nn.activations[1], mat(1, 2, {3.5, 0}));
  EXPECT_EQ(nn.layer_inputs[2], mat(1, 1, {3.75}));
  EXPECT_DOUBLE_EQ(out(0, 0), 1 / (1 + std::exp(-3.75)));
}

TEST(TutorialPort, SigmoidClipsAndReluDerivativeIsAStep) {
  tt::NeuralNetwork<double> nn({mat(1, 1, {1})}, {mat(1, 1, {0})});
  const Array<double> s = nn.sigmoid(Array<double>{-1000.0, 0.0, 1000.0});
  EXPECT_EQ(s(0), 1 / (1 + std::exp(500.0)));  // clipped at -500, not exp(1000) = inf
  EXPECT_EQ(s(1), 0.5);
  EXPECT_EQ(s(2), 1.0);
  EXPECT_EQ(nn.relu_derivative(Array<double>{-1.0, 0.0, 2.0}), (Array<double>{0, 0, 1}));
  EXPECT_EQ(nn.relu(Array<double>{-1.0, 0.0, 2.0}), (Array<double>{0, 0, 2}));
  EXPECT_DOUBLE_EQ(nn.sigmoid_derivative(Array<double>{0.0})(0), 0.25);
}

TEST(TutorialPort, GradientsChangeNoWeightAndMatchBackwardAtTheOutputLayer) {
  tt::NumpyRandomState rng(1);
  tt::NeuralNetwork<double> nn({2, 4, 1}, rng);
  const auto before = nn.weights;
  const auto g = nn.gradients(xor_X(), xor_y());
  EXPECT_EQ(nn.weights, before);
  ASSERT_EQ(g.dW.size(), 2u);
  EXPECT_EQ(g.dW[0].shape(), before[0].shape());
  EXPECT_EQ(g.db[1].shape(), nn.biases[1].shape());

  const double lr = 0.5;
  nn.forward(xor_X());
  nn.backward(xor_X(), xor_y(), lr);
  // The output layer's gradient is formed before any update: backward applies exactly it.
  const Array<double> applied_out = (before[1] - nn.weights[1]) / lr;
  EXPECT_LE(max_abs_diff(applied_out, g.dW[1]), 1e-15);
  // The first layer's delta went through the updated output weights: a visible difference.
  const Array<double> applied_first = (before[0] - nn.weights[0]) / lr;
  EXPECT_GT(max_abs_diff(applied_first, g.dW[0]), 1e-3);
}

TEST(TutorialPort, GradientsAsAppliedExplainBackwardCompletely) {
  tt::NumpyRandomState rng(2);
  tt::NeuralNetwork<double> nn({8, 16, 16, 3}, rng);
  const Array<double> X = rng.randn(32, 8);
  const Array<double> y = xt::cast<double>(rng.rand(32, 3) < 0.5);
  const double lr = 0.1;
  const auto as_applied = nn.gradients_as_applied(X, y, lr);
  const auto w = nn.weights;
  const auto b = nn.biases;
  nn.forward(X);
  nn.backward(X, y, lr);
  for (std::size_t i = 0; i < w.size(); ++i) {
    EXPECT_LE(max_abs_diff((w[i] - nn.weights[i]) / lr, as_applied.dW[i]), 1e-13) << "layer " << i;
    EXPECT_LE(max_abs_diff((b[i] - nn.biases[i]) / lr, as_applied.db[i]), 1e-13) << "layer " << i;
  }
}

TEST(TutorialPort, TrainPrintsOnlyWhenAskedAndFloatFollowsDouble) {
  tt::NumpyRandomState rng(1);
  tt::NeuralNetwork<double> nd({2, 4, 1}, rng);
  tt::NeuralNetwork<float> nf(std::vector<Array<float>>{xt::cast<float>(nd.weights[0]), xt::cast<float>(nd.weights[1])},
                              {xt::cast<float>(nd.biases[0]), xt::cast<float>(nd.biases[1])});
  std::ostringstream quiet;
  const auto ld = nd.train(xor_X(), xor_y(), 300, 0.5, quiet, false);
  EXPECT_TRUE(quiet.str().empty());
  const auto lf = nf.train(xt::cast<float>(xor_X()), xt::cast<float>(xor_y()), 300, 0.5f);
  ASSERT_EQ(lf.size(), 300u);
  EXPECT_NEAR(lf.back(), ld.back(), 1e-4);
  EXPECT_LT(ld.back(), ld.front());
}

TEST(TutorialPort, BadInputsThrowClearErrors) {
  tt::NumpyRandomState rng(0);
  EXPECT_THROW(tt::NeuralNetwork<double>({3}, rng), tapegrad::ValueError);
  EXPECT_THROW(tt::NeuralNetwork<double>({3, 0, 1}, rng), tapegrad::ValueError);
  // Sizes whose product wraps around size_t (issue 14, item 2): checked before any draw.
  const std::size_t huge = (std::size_t(1) << 63) + 1;
  try {
    tt::NeuralNetwork<double>({2, 4, huge}, rng);
    ADD_FAILURE() << "no error";
  } catch (const tapegrad::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("NeuralNetwork: weights[1]: shape (4, 9223372036854775809) is too large"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(rng.randn(std::size_t(1) << 32, std::size_t(1) << 32), tapegrad::ValueError);
  EXPECT_THROW(rng.rand(huge, 2), tapegrad::ValueError);
  tt::NeuralNetwork<double> nn({2, 4, 1}, rng);
  EXPECT_THROW(nn.forward(mat(1, 3, {1, 2, 3})), tapegrad::ShapeError);
  EXPECT_THROW(nn.gradients(xor_X(), mat(2, 1, {1, 0})), tapegrad::ShapeError);
  EXPECT_THROW(nn.backward(xor_X(), xor_y(), 0.1), tapegrad::StateError);  // no forward yet
  try {
    nn.set_parameters({mat(1, 2, {1, 2}), mat(3, 1, {1, 2, 3})}, {mat(1, 2, {0, 0}), mat(1, 1, {0})});
    FAIL() << "layers that do not chain were accepted";
  } catch (const tapegrad::ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("weights[1]"), std::string::npos) << e.what();
  }
  EXPECT_EQ(nn.layer_sizes(), (std::vector<std::size_t>{2, 4, 1}));  // unchanged by the failed call
  // The members are public, as in the tutorial; a broken chain is reported, not multiplied.
  nn.weights[1] = mat(3, 1, {1, 2, 3});
  EXPECT_THROW(nn.forward(xor_X()), tapegrad::ShapeError);
  EXPECT_THROW(nn.gradients(xor_X(), xor_y()), tapegrad::ShapeError);
}

TEST(TutorialNpy, RoundTripAndBadFiles) {
  const std::string dir = temp_dir("npy");
  tt::NumpyRandomState rng(3);
  tt::NeuralNetwork<double> nn({3, 5, 2}, rng);
  nn.save_npy(dir, "p.");
  const auto back = tt::NeuralNetwork<double>::from_npy(dir, "p.");
  EXPECT_EQ(back.weights, nn.weights);
  EXPECT_EQ(back.biases, nn.biases);
  const auto as_float = tt::NeuralNetwork<float>::from_npy(dir, "p.");
  EXPECT_FLOAT_EQ(as_float.weights[1](2, 1), float(nn.weights[1](2, 1)));

  EXPECT_THROW(tt::NeuralNetwork<double>::from_npy(dir, "missing."), tapegrad::IoError);
  EXPECT_THROW(tapegrad::io::read_npy<double>(dir + "/nope.npy"), tapegrad::IoError);
  {
    std::ofstream(dir + "/text.npy") << "not a numpy file at all";
  }
  EXPECT_THROW(tapegrad::io::read_npy<double>(dir + "/text.npy"), tapegrad::IoError);
  // Truncate a real file: the header promises more data than there is.
  const std::string w0 = dir + "/p.layers.0.weight.npy";
  const auto size = std::filesystem::file_size(w0);
  std::filesystem::resize_file(w0, size - 8);
  try {
    tapegrad::io::read_npy<double>(w0);
    FAIL() << "a truncated file was read";
  } catch (const tapegrad::IoError& e) {
    EXPECT_NE(std::string(e.what()).find(w0), std::string::npos) << e.what();
  }
  EXPECT_THROW(tapegrad::io::write_npy(dir + "/no/such/dir/x.npy", nn.weights[0]), tapegrad::IoError);

  // A Fortran-ordered file (np.save of np.asfortranarray): the values land where NumPy has them.
  {
    std::string header = "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }";
    header += std::string(128 - 10 - header.size() - 1, ' ') + "\n";
    std::ofstream f(dir + "/fortran.npy", std::ios::binary);
    f.write("\x93NUMPY\x01\x00", 8);
    const char len[2] = {char(header.size()), 0};
    f.write(len, 2);
    f << header;
    const double column_major[] = {1, 4, 2, 5, 3, 6};  // [[1, 2, 3], [4, 5, 6]]
    f.write(reinterpret_cast<const char*>(column_major), sizeof(column_major));
  }
  EXPECT_EQ(tapegrad::io::read_npy<double>(dir + "/fortran.npy"), mat(2, 3, {1, 2, 3, 4, 5, 6}));
  std::filesystem::remove_all(dir);
}
