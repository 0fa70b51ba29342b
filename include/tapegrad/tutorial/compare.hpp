#pragma once
/// Gradient comparison: tapegrad's autograd against the tutorial's hand-derived backprop, from
/// identical weights. The library side of `tools/tapegrad-compare` and
/// `examples/compare_tutorial.cpp`; docs/tutorial-comparison.md explains every difference.
///
///     const tapegrad::Array<double> X{{0., 0.}, {0., 1.}, {1., 0.}, {1., 1.}}, y = tapegrad::column({0., 1., 1., 0.});
///     tapegrad::tutorial::NumpyRandomState rng(1);
///     tapegrad::tutorial::NeuralNetwork<double> net({2, 4, 1}, rng);
///     auto c = tapegrad::tutorial::compare_gradients(net, X, y);     // X (m, 2), y (m, 1)
///     std::cout << tapegrad::tutorial::format_comparison(c, 1e-10);
///     bool ok = c.headline <= 1e-10;    // max abs diff autograd vs hand-derived
#include <cstddef>
#include <string>
#include <vector>

#include "tapegrad/arg.hpp"
#include "tapegrad/array.hpp"
#include "tapegrad/tutorial/neural_network.hpp"

namespace tapegrad::tutorial {

/// How far apart two gradients of one parameter are.
struct Diff {
  double max_abs = 0;  ///< max |a - b| over the elements
  /// max |a - b| / max(|a|, |b|) over the elements where a or b is non-zero (0 where both are 0)
  double max_rel = 0;
};

/// One gradient set: a gradient per parameter, in parameter order.
template <class T>
struct GradientSet {
  std::string name;         ///< file prefix of --dump: "autograd", "hand", "applied", ...
  std::string description;  ///< what computed it
  std::vector<Array<T>> grads;
};

/// One comparison between two sets: `scale · a` against `b`, for every parameter.
struct Check {
  std::string a, b;          ///< set names
  double scale = 1;          ///< applied to `a` (k, for tapegrad's mean over m·k outputs)
  std::string title;         ///< "autograd × k vs hand"
  std::string explanation;   ///< why the two differ by what they differ (or why they match)
  std::vector<Diff> diffs;   ///< one per parameter
  Diff max;                  ///< the largest over the parameters
};

struct CompareOptions {
  /// The learning rate of the tutorial's backward, whose in-place update the "applied"
  /// gradients are recovered from (the size of quirk 1 is proportional to it).
  TAPEGRAD_ARG(double, learning_rate) = 0.5;
  /// Headline "as written": autograd of the tutorial's loss exactly as written (1e-8, clip,
  /// mean over m·k, unscaled) against what the tutorial's backward applies. Default "as
  /// corrected": autograd of bce_with_logits, × k, against `gradients()`.
  TAPEGRAD_ARG(bool, as_written) = false;
};

/// Everything compare_gradients computed, for printing, testing or dumping.
template <class T>
struct Comparison {
  std::vector<std::string> parameters;  ///< layers.0.weight, layers.0.bias, layers.1.weight, ...
  std::vector<std::size_t> layer_sizes;
  std::size_t batch = 0;    ///< m
  std::size_t outputs = 0;  ///< k
  CompareOptions options;
  std::vector<Array<T>> initial;  ///< the weights both sides started from, in parameter order
  Array<T> X, y;
  /// autograd, autograd_sigmoid_bce, autograd_tutorial_loss, hand, hand_as_applied, applied.
  std::vector<GradientSet<T>> sets;
  std::vector<Check> checks;
  /// Index into `checks` of the headline comparison (by options.as_written).
  std::size_t headline_check = 0;
  /// max abs diff autograd vs hand-derived, as selected by options.as_written.
  double headline = 0;

  /// The set named `name`; throws ValueError if there is none.
  const GradientSet<T>& set(const std::string& name) const;
};

/// Computes every gradient set from `net`'s current weights (net is not changed) on (X, y) —
/// tapegrad's side is an nn::MLP with the same weights — and every check between them.
/// Throws ShapeError if X or y do not fit the network, ValueError for learning_rate <= 0.
template <class T>
Comparison<T> compare_gradients(const NeuralNetwork<T>& net, const Array<T>& X, const Array<T>& y,
                                const CompareOptions& options = {});

/// The readable report: the sets, then every check as a table (max abs and max rel per
/// parameter) with its explanation, then the verdict against `tolerance`, ending with the line
/// `max abs diff autograd vs hand-derived: <x>`. `about` lines are printed first (data, seed).
template <class T>
std::string format_comparison(const Comparison<T>& c, double tolerance, const std::vector<std::string>& about = {});

/// Writes `<dir>/X.npy`, `y.npy`, `initial.<parameter>.npy` and `<set>.<parameter>.npy` for
/// every set (e.g. `autograd.layers.0.weight.npy`), plus `manifest.txt` describing them.
/// The directory is created if needed. Throws IoError naming the file on failure.
template <class T>
void dump_comparison(const Comparison<T>& c, const std::string& dir);

}  // namespace tapegrad::tutorial
