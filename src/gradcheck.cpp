#include "tapegrad/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

namespace tapegrad {

std::string GradcheckResult::report() const {
  std::ostringstream out;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    out << "input " << i << ": max abs " << inputs[i].max_abs_error << ", max rel " << inputs[i].max_rel_error
        << (inputs[i].ok ? ", ok" : ", FAILED") << '\n';
  }
  return out.str();
}

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Array<double>>& inputs,
                          const GradcheckOptions& options) {
  const std::size_t n = inputs.size();
  TG_CHECK(ValueError, options.requires_grad().empty() || options.requires_grad().size() == n,
           "gradcheck: requires_grad has ", options.requires_grad().size(), " flags for ", n, " inputs");
  std::vector<Parameter<double>> params;
  for (std::size_t i = 0; i < n; ++i) {
    params.emplace_back(inputs[i]);
    params.back().set_requires_grad(options.requires_grad().empty() || options.requires_grad()[i]);
  }
  Tape<double> tape;
  auto evaluate = [&]() {
    std::vector<Var<double>> vars;
    for (auto& p : params) vars.push_back(tape.bind(p));
    return f(vars);
  };

  // Analytic: backward seeded with a random projection r.
  Var<double> y = evaluate();
  std::mt19937_64 rng(options.seed());
  std::uniform_real_distribution<double> unit(0.5, 1.5);
  Array<double> r(y.shape());
  for (auto& v : r) v = (rng() & 1) ? unit(rng) : -unit(rng);
  for (auto& p : params) p.zero_grad();
  tape.backward(y, r);
  std::vector<Array<double>> analytic;
  for (auto& p : params) analytic.push_back(p.grad());

  auto projected = [&]() {
    NoGradGuard no_grad;
    Var<double> out = evaluate();
    TG_CHECK(ShapeError, out.shape() == r.shape(), "gradcheck: the function's output shape changed from ",
             to_string(r.shape()), " to ", to_string(out.shape()));
    double s = 0;
    for (std::size_t k = 0; k < r.size(); ++k) s += out.value().data()[k] * r.data()[k];
    tape.clear();
    return s;
  };

  GradcheckResult result;
  result.inputs.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (!params[i].requires_grad()) continue;
    Array<double>& x = params[i].mutable_value();
    auto& res = result.inputs[i];
    for (std::size_t k = 0; k < x.size(); ++k) {
      const double orig = x.data()[k];
      x.data()[k] = orig + options.eps();
      const double plus = projected();
      x.data()[k] = orig - options.eps();
      const double minus = projected();
      x.data()[k] = orig;
      const double numeric = (plus - minus) / (2 * options.eps());
      const double err = std::abs(analytic[i].data()[k] - numeric);
      res.max_abs_error = std::max(res.max_abs_error, err);
      res.max_rel_error = std::max(res.max_rel_error, err / std::max(std::abs(numeric), 1e-12));
      if (!(err <= options.atol() + options.rtol() * std::abs(numeric))) res.ok = false;  // NaN fails too
    }
    result.ok = result.ok && res.ok;
  }
  return result;
}

}  // namespace tapegrad
