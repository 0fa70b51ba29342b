// compare_gradients: the same weights in the tutorial port and in a tapegrad MLP, six gradient
// sets, and the checks that show each of the tutorial's quirks and that nothing else differs.
#include "tapegrad/tutorial/compare.hpp"
#include "tapegrad/io/npy.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <system_error>
#include <utility>

#include "tapegrad/error.hpp"
#include "tapegrad/nn/mlp.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/pointwise.hpp"
#include "tapegrad/losses.hpp"
#include "tapegrad/random.hpp"
#include "tapegrad/tutorial/ops.hpp"

namespace tapegrad::tutorial {

namespace {

template <class T>
Diff diff(const Array<T>& a, double scale, const Array<T>& b) {
  TG_ASSERT(a.shape() == b.shape(), "compare_gradients: gradient shapes ", to_string(a.shape()), " and ",
            to_string(b.shape()), " differ");
  Diff d;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double x = scale * double(a.data()[i]), y = double(b.data()[i]);
    const double abs = std::abs(x - y);
    const double mag = std::max(std::abs(x), std::abs(y));
    // NaN must not hide behind std::max: it makes both measures NaN.
    if (std::isnan(abs)) return {abs, abs};
    d.max_abs = std::max(d.max_abs, abs);
    if (mag > 0) d.max_rel = std::max(d.max_rel, abs / mag);
  }
  return d;
}

enum class Loss { logits, sigmoid_bce, tutorial };

// tapegrad's side: an MLP holding the port's weights, one backward of the chosen loss.
template <class T>
std::vector<Array<T>> autograd(nn::MLP<T>& mlp, const Array<T>& X, const Array<T>& y, Loss loss) {
  mlp.zero_grad();
  Tape<T> tape;
  auto x = tape.constant(X);
  auto t = tape.constant(y);
  auto z = mlp.forward(x);
  Var<T> l;
  switch (loss) {
    case Loss::logits: l = bce_with_logits(z, t); break;
    case Loss::sigmoid_bce: l = bce(sigmoid(z), t); break;
    case Loss::tutorial: l = tutorial_bce(sigmoid(clip(z, T(-500), T(500))), t); break;
  }
  tape.backward(l);
  std::vector<Array<T>> grads;
  for (auto& [name, p] : mlp.named_parameters()) grads.push_back(p.grad());
  return grads;
}

template <class T>
std::vector<Array<T>> interleave(const Gradients<T>& g) {
  std::vector<Array<T>> out;
  for (std::size_t i = 0; i < g.dW.size(); ++i) {
    out.push_back(g.dW[i]);
    out.push_back(g.db[i]);
  }
  return out;
}

std::string fmt(double v) {
  std::ostringstream s;
  s << std::setprecision(3) << std::scientific << v;
  return s.str();
}

}  // namespace

template <class T>
const GradientSet<T>& Comparison<T>::set(const std::string& name) const {
  for (const auto& s : sets) {
    if (s.name == name) return s;
  }
  throw ValueError(detail::concat("Comparison::set: no gradient set named '", name, "'"));
}

template <class T>
Comparison<T> compare_gradients(const NeuralNetwork<T>& net, const Array<T>& X, const Array<T>& y,
                                const CompareOptions& options) {
  TG_CHECK(ValueError, std::isfinite(options.learning_rate()) && options.learning_rate() > 0,
           "compare_gradients: learning_rate must be positive and finite, got ", options.learning_rate());
  const T lr = T(options.learning_rate());
  Comparison<T> c;
  c.options = options;
  c.layer_sizes = net.layer_sizes();
  c.X = X;
  c.y = y;

  // The tutorial's side, on copies: net itself is not changed.
  NeuralNetwork<T> port = net;
  const std::vector<Array<T>> hand = interleave(port.gradients(X, y));  // checks the shapes of X and y
  const std::vector<Array<T>> hand_as_applied = interleave(port.gradients_as_applied(X, y, lr));
  NeuralNetwork<T> stepped = net;
  stepped.forward(X);
  stepped.backward(X, y, lr);
  std::vector<Array<T>> applied;
  for (std::size_t i = 0; i < net.num_layers(); ++i) {
    applied.push_back((net.weights[i] - stepped.weights[i]) / lr);
    applied.push_back((net.biases[i] - stepped.biases[i]) / lr);
    c.initial.push_back(net.weights[i]);
    c.initial.push_back(net.biases[i]);
  }
  c.batch = X.shape()[0];
  c.outputs = y.shape()[1];

  // tapegrad's side: an MLP of the same sizes, its parameters overwritten with the same values.
  Rng rng(0);
  nn::MLP<T> mlp(c.layer_sizes, rng);
  auto params = mlp.named_parameters();
  TG_ASSERT(params.size() == c.initial.size(), "compare_gradients: the MLP has ", params.size(),
            " parameters, the port ", c.initial.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    TG_CHECK(ShapeError, params[i].second.shape() == c.initial[i].shape(), "compare_gradients: ", params[i].first,
             " is ", to_string(params[i].second.shape()), " in an MLP of these sizes, but the network's is ",
             to_string(c.initial[i].shape()));
    params[i].second.mutable_value() = c.initial[i];
    c.parameters.push_back(params[i].first);
  }

  const std::size_t k = c.outputs;
  const std::string mk = std::to_string(c.batch) + "·" + std::to_string(k) + " = " + std::to_string(c.batch * k);
  c.sets = {
      {"autograd", "tapegrad nn::MLP, bce_with_logits(z, y): a mean over all m·k = " + mk + " outputs",
       autograd(mlp, X, y, Loss::logits)},
      {"autograd_sigmoid_bce", "tapegrad nn::MLP, bce(sigmoid(z), y): a mean over all m·k outputs",
       autograd(mlp, X, y, Loss::sigmoid_bce)},
      {"autograd_tutorial_loss",
           "tapegrad nn::MLP, the tutorial's loss as written: sigmoid(clip(z, -500, 500)), "
           "-mean(y log(p + 1e-8) + (1 - y) log(1 - p + 1e-8)) over m·k",
       autograd(mlp, X, y, Loss::tutorial)},
      {"hand", "NeuralNetwork::gradients(): every delta formed through the weights before any update, / m", hand},
      {"hand_as_applied",
           "NeuralNetwork::gradients_as_applied(lr): each delta through W - lr·dW, the order of the tutorial's backward",
       hand_as_applied},
      {"applied", "what the tutorial's backward(X, y, lr) applied, recovered from its update: (W_before - W_after) / lr",
       applied},
  };

  const double kd = double(k);
  const std::string ks = std::to_string(k);
  std::ostringstream lr_text;
  lr_text << options.learning_rate();
  const auto make_check = [](std::string a, std::string b, double scale, std::string title, std::string why) {
    Check ch;
    ch.a = std::move(a);
    ch.b = std::move(b);
    ch.scale = scale;
    ch.title = std::move(title);
    ch.explanation = std::move(why);
    return ch;
  };
  c.checks = {
      make_check("autograd", "hand", kd, "autograd × k vs hand",
           "Both are the gradient of the same binary cross-entropy. bce_with_logits's gradient is (σ(z) - y)/(m·k); the "
           "tutorial's is (a - y)/m: × k (= " + ks + ") puts them on one scale. Expected: equal up to rounding."),
      make_check("autograd_sigmoid_bce", "hand", kd, "autograd (sigmoid + bce) × k vs hand",
           "tapegrad's bce has no 1e-8: its dL/dp = (p - y)/(p(1 - p)) and the sigmoid's p(1 - p) cancel. Expected: equal "
           "up to rounding (a few ulps more than bce_with_logits; they part where σ saturates, |z| > ~36)."),
      make_check("autograd_tutorial_loss", "hand", kd, "autograd (the tutorial's loss as written) × k vs hand",
           "Quirk 3: the tutorial's loss has 1e-8 inside its logs (and its sigmoid clips z to [-500, 500]), but its "
           "gradient a - y ignores both. Differentiating the loss as written gives (a - y) plus terms of order 1e-8 "
           "(and 0 instead of a - y where |z| > 500). Expected: differences ~1e-8."),
      make_check("autograd", "hand", 1.0, "autograd (unscaled) vs hand",
           "Quirk 2: the tutorial's loss averages over all m·k outputs, its gradient divides by m only. For k = 1 this "
           "is the first check again; for k outputs the tutorial's gradient is k times that of its own loss "
           "(max rel = 1 - 1/k). Here k = " + ks + "."),
      make_check("applied", "hand", 1.0, "applied by backward() vs hand",
           "Quirk 1: backward updates weights[i] before propagating delta through it, so every layer below the output "
           "gets its delta through already-updated weights. The output layer matches (to the rounding of the recovery, "
           "~ulp(W)/lr); lower layers differ by an amount proportional to lr (= " + lr_text.str() + ")."),
      make_check("applied", "hand_as_applied", 1.0, "applied by backward() vs hand_as_applied",
           "Quirk 1 accounted for: deltas propagated through W - lr·dW reproduce what backward applies. Expected: equal "
           "to the rounding of the recovery (W_before - W_after)/lr."),
      make_check("autograd_tutorial_loss", "applied", 1.0, "autograd (tutorial's loss, unscaled) vs applied by backward()",
           "The tutorial as written against autograd of its loss as written: quirks 1, 2 and 3 at once."),
  };
  for (auto& check : c.checks) {
    const auto& a = c.set(check.a).grads;
    const auto& b = c.set(check.b).grads;
    for (std::size_t i = 0; i < a.size(); ++i) {
      check.diffs.push_back(diff(a[i], check.scale, b[i]));
      const Diff& d = check.diffs.back();
      const bool nan = std::isnan(d.max_abs);
      check.max.max_abs = nan || std::isnan(check.max.max_abs) ? NAN : std::max(check.max.max_abs, d.max_abs);
      check.max.max_rel = nan || std::isnan(check.max.max_rel) ? NAN : std::max(check.max.max_rel, d.max_rel);
    }
  }
  c.headline_check = options.as_written() ? c.checks.size() - 1 : 0;
  c.headline = c.checks[c.headline_check].max.max_abs;
  return c;
}

template <class T>
std::string format_comparison(const Comparison<T>& c, double tolerance, const std::vector<std::string>& about) {
  std::ostringstream out;
  out << "tapegrad-compare: tapegrad's autograd against the tutorial's hand-derived backprop\n";
  out << "network [";
  for (std::size_t i = 0; i < c.layer_sizes.size(); ++i) out << (i ? ", " : "") << c.layer_sizes[i];
  out << "], batch m = " << c.batch << ", outputs k = " << c.outputs << ", "
      << (sizeof(T) == 8 ? "float64" : "float32") << ", learning rate " << c.options.learning_rate()
      << " (for backward)\n";
  for (const auto& line : about) out << line << '\n';

  out << "\nGradient sets (same initial weights on both sides):\n";
  std::size_t wname = 0;
  for (const auto& s : c.sets) wname = std::max(wname, s.name.size());
  for (const auto& s : c.sets) out << "  " << std::left << std::setw(int(wname)) << s.name << "  " << s.description << '\n';

  std::size_t wparam = 0;
  for (const auto& p : c.parameters) wparam = std::max(wparam, p.size());
  for (std::size_t n = 0; n < c.checks.size(); ++n) {
    const Check& check = c.checks[n];
    out << "\n[" << n + 1 << "] " << check.title << '\n';
    out << "    " << std::left << std::setw(int(wparam)) << "parameter" << "  " << std::setw(10) << "shape"
        << std::right << std::setw(11) << "max abs" << std::setw(11) << "max rel" << '\n';
    for (std::size_t i = 0; i < c.parameters.size(); ++i) {
      out << "    " << std::left << std::setw(int(wparam)) << c.parameters[i] << "  " << std::setw(10)
          << to_string(c.initial[i].shape()) << std::right << std::setw(11) << fmt(check.diffs[i].max_abs)
          << std::setw(11) << fmt(check.diffs[i].max_rel) << '\n';
    }
    // Wrap the explanation at ~96 columns, indented under the table.
    std::istringstream words(check.explanation);
    std::string word, line;
    while (words >> word) {
      if (!line.empty() && line.size() + 1 + word.size() > 92) {
        out << "    " << line << '\n';
        line.clear();
      }
      line += (line.empty() ? "" : " ") + word;
    }
    if (!line.empty()) out << "    " << line << '\n';
  }

  const bool ok = c.headline <= tolerance;  // false for NaN
  out << '\n'
      << (c.options.as_written() ? "As written: check [" : "As corrected: check [") << c.headline_check + 1 << "] ("
      << c.checks[c.headline_check].title << "), tolerance " << tolerance << ": "
      << (ok ? "within" : "EXCEEDED") << '\n';
  out << "max abs diff autograd vs hand-derived: " << fmt(c.headline) << '\n';
  return out.str();
}

template <class T>
void dump_comparison(const Comparison<T>& c, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  TG_CHECK(IoError, !ec, "dump_comparison: cannot create directory '", dir, "': ", ec.message());
  io::write_npy(dir + "/X.npy", c.X);
  io::write_npy(dir + "/y.npy", c.y);
  for (std::size_t i = 0; i < c.parameters.size(); ++i) {
    io::write_npy(dir + "/initial." + c.parameters[i] + ".npy", c.initial[i]);
  }
  for (const auto& s : c.sets) {
    for (std::size_t i = 0; i < c.parameters.size(); ++i) {
      io::write_npy(dir + "/" + s.name + "." + c.parameters[i] + ".npy", s.grads[i]);
    }
  }
  const std::string manifest = dir + "/manifest.txt";
  std::ofstream m(manifest);
  m << "# tapegrad-compare dump: network";
  for (auto n : c.layer_sizes) m << ' ' << n;
  m << ", m = " << c.batch << ", k = " << c.outputs << ", learning rate " << c.options.learning_rate() << "\n";
  m << "# Weights are (in, out), biases (1, out); forward: relu(x W + b) ..., sigmoid on the last layer.\n";
  m << "# The autograd* sets are gradients of a mean over all m*k outputs: multiply them by k = " << c.outputs
    << " to compare with hand*/applied (which divide by m only).\n";
  m << "X.npy  inputs (m, n_in)\ny.npy  targets (m, k)\ninitial.<parameter>.npy  the weights every set starts from\n";
  for (const auto& s : c.sets) m << s.name << ".<parameter>.npy  " << s.description << '\n';
  m.close();
  TG_CHECK(IoError, !m.fail(), "dump_comparison: error while writing '", manifest, "'");
}

#define TAPEGRAD_INSTANTIATE(T)                                                                                 \
  template struct Comparison<T>;                                                                                \
  template Comparison<T> compare_gradients(const NeuralNetwork<T>&, const Array<T>&, const Array<T>&,          \
                                           const CompareOptions&);                                              \
  template std::string format_comparison(const Comparison<T>&, double, const std::vector<std::string>&);       \
  template void dump_comparison(const Comparison<T>&, const std::string&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::tutorial
