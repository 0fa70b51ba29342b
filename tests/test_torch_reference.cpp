// The N-d vocabulary against libtorch (built only where Debian's libtorch-dev is found): every op,
// called with PyTorch's arguments, gives PyTorch's values and gradients in float64 to 1e-10,
// including broadcasts, negative dims, ties and kinks where PyTorch defines a particular gradient.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <xtensor/xio.hpp>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/indexing.hpp"
#include "tapegrad/shape_ops.hpp"

namespace tg = tapegrad;
namespace F = torch::nn::functional;
using tg::Array;
using TVars = std::vector<tg::Var<double>>;
using Tensors = std::vector<torch::Tensor>;
using IA = at::IntArrayRef;

namespace {

torch::Tensor to_torch(const Array<double>& a) {
  std::vector<int64_t> sizes(a.shape().begin(), a.shape().end());
  return torch::from_blob(const_cast<double*>(a.data()), sizes, torch::kDouble).clone();
}
torch::Tensor to_torch(const tg::IndexArray& a) {
  std::vector<int64_t> sizes(a.shape().begin(), a.shape().end());
  return torch::from_blob(const_cast<std::int64_t*>(a.data()), sizes, torch::kLong).clone();
}
torch::Tensor to_torch(const tg::BoolArray& a) {
  std::vector<int64_t> sizes(a.shape().begin(), a.shape().end());
  auto t = torch::empty(sizes, torch::kBool);
  std::copy(a.data(), a.data() + a.size(), t.data_ptr<bool>());
  return t;
}
Array<double> from_torch(torch::Tensor t) {
  t = t.contiguous().to(torch::kDouble);
  tg::Shape shape(t.sizes().begin(), t.sizes().end());
  Array<double> a = Array<double>::from_shape(shape);
  std::copy(t.data_ptr<double>(), t.data_ptr<double>() + t.numel(), a.data());
  return a;
}

// Max |a − b| / (1 + |b|) over the elements; infinity for different shapes, NaN positions must agree.
double difference(const Array<double>& a, const Array<double>& b) {
  if (a.shape() != b.shape()) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double u = a.data()[i], v = b.data()[i];
    if (std::isnan(u) || std::isnan(v)) {
      if (std::isnan(u) != std::isnan(v)) return std::numeric_limits<double>::infinity();
      continue;
    }
    if (std::isinf(u) || std::isinf(v)) {
      if (u != v) return std::numeric_limits<double>::infinity();
      continue;
    }
    worst = std::max(worst, std::abs(u - v) / (1 + std::abs(v)));
  }
  return worst;
}

Array<double> randn(const tg::Shape& shape, std::uint64_t seed) {
  tg::Rng rng(seed);
  return rng.normal<double>(shape);
}

// Runs f in tapegrad and g in libtorch on the same inputs and a random output gradient; compares
// the values and every input's gradient.
void compare(const std::string& what, const std::vector<Array<double>>& inputs,
             const std::function<tg::Var<double>(const TVars&)>& f,
             const std::function<torch::Tensor(const Tensors&)>& g, double tolerance = 1e-10) {
  SCOPED_TRACE(what);
  std::vector<tg::Parameter<double>> params;
  TVars vars;
  tg::Tape<double> tape;
  for (const auto& a : inputs) {
    params.emplace_back(a);
    vars.push_back(tape.bind(params.back()));
  }
  Tensors ts;
  for (const auto& a : inputs) ts.push_back(to_torch(a).requires_grad_(true));
  const tg::Var<double> y = f(vars);
  const torch::Tensor ty = g(ts);
  const Array<double> ref = from_torch(ty.detach());
  ASSERT_EQ(y.shape(), ref.shape()) << "shapes differ";
  EXPECT_LE(difference(y.value(), ref), tolerance) << "values differ:\n" << y.value() << "\nvs\n" << ref;
  const Array<double> seed = randn(y.shape(), 99) + 0.25;
  tape.backward(y, seed);
  ty.backward(to_torch(seed));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Array<double> want = ts[i].grad().defined() ? from_torch(ts[i].grad()) : xt::zeros<double>(inputs[i].shape());
    EXPECT_LE(difference(params[i].grad(), want), tolerance)
        << "gradient of input " << i << " differs:\n" << params[i].grad() << "\nvs\n" << want;
  }
}

// A value with ties and exact zeros, for the ops whose gradient PyTorch defines at them.
Array<double> with_ties() { return Array<double>{{1.0, 3.0, 3.0, -2.0}, {0.0, 0.0, -1.0, 0.0}, {2.0, -5.0, 2.0, 2.0}}; }

}  // namespace

// ---- shape ----------------------------------------------------------------------------------------------

TEST(TorchReference, Shape) {
  const auto x = randn({2, 3, 4}, 1);
  compare("reshape", {x}, [](const TVars& v) { return tg::reshape(v[0], {4, -1}); },
          [](const Tensors& t) { return torch::reshape(t[0], {4, -1}); });
  compare("flatten", {x}, [](const TVars& v) { return tg::flatten(v[0], 1); },
          [](const Tensors& t) { return torch::flatten(t[0], 1); });
  compare("flatten mid", {randn({2, 3, 4, 5}, 2)}, [](const TVars& v) { return tg::flatten(v[0], -3, -2); },
          [](const Tensors& t) { return torch::flatten(t[0], -3, -2); });
  compare("flatten 0-d", {Array<double>(2.5)}, [](const TVars& v) { return tg::flatten(v[0]); },
          [](const Tensors& t) { return torch::flatten(t[0]); });
  compare("transpose", {x}, [](const TVars& v) { return tg::transpose(v[0], 0, -1); },
          [](const Tensors& t) { return torch::transpose(t[0], 0, -1).contiguous(); });
  compare("transpose large", {randn({67, 45}, 3)}, [](const TVars& v) { return tg::transpose(v[0], 0, 1); },
          [](const Tensors& t) { return torch::transpose(t[0], 0, 1).contiguous(); });
  compare("permute", {randn({3, 5, 2, 7}, 4)}, [](const TVars& v) { return tg::permute(v[0], {2, 0, 3, 1}); },
          [](const Tensors& t) { return t[0].permute({2, 0, 3, 1}).contiguous(); });
  compare("permute negative", {x}, [](const TVars& v) { return tg::permute(v[0], {-1, 0, -2}); },
          [](const Tensors& t) { return t[0].permute({-1, 0, -2}).contiguous(); });
  compare("unsqueeze", {x}, [](const TVars& v) { return tg::unsqueeze(v[0], -1); },
          [](const Tensors& t) { return torch::unsqueeze(t[0], -1); });
  compare("unsqueeze 0", {x}, [](const TVars& v) { return tg::unsqueeze(v[0], 0); },
          [](const Tensors& t) { return torch::unsqueeze(t[0], 0); });
  const auto ones = randn({1, 3, 1, 2}, 5);
  compare("squeeze", {ones}, [](const TVars& v) { return tg::squeeze(v[0]); },
          [](const Tensors& t) { return torch::squeeze(t[0]); });
  compare("squeeze dim", {ones}, [](const TVars& v) { return tg::squeeze(v[0], -2); },
          [](const Tensors& t) { return torch::squeeze(t[0], -2); });
  compare("squeeze non-1 dim", {ones}, [](const TVars& v) { return tg::squeeze(v[0], 1); },
          [](const Tensors& t) { return torch::squeeze(t[0], 1); });
  compare("expand", {randn({3, 1}, 6)}, [](const TVars& v) { return tg::expand(v[0], {2, 3, 4}); },
          [](const Tensors& t) { return t[0].expand({2, 3, 4}).contiguous(); });
  compare("expand -1", {randn({1, 4}, 7)}, [](const TVars& v) { return tg::expand(v[0], {3, -1}); },
          [](const Tensors& t) { return t[0].expand({3, -1}).contiguous(); });
}

TEST(TorchReference, JoinSplit) {
  const auto a = randn({2, 3}, 10), b = randn({2, 5}, 11), c = randn({2, 1}, 12);
  compare("cat", {a, b, c}, [](const TVars& v) { return tg::cat({v[0], v[1], v[2]}, -1); },
          [](const Tensors& t) { return torch::cat({t[0], t[1], t[2]}, -1); });
  compare("cat 0", {randn({1, 3}, 13), a}, [](const TVars& v) { return tg::cat({v[0], v[1]}); },
          [](const Tensors& t) { return torch::cat({t[0], t[1]}); });
  compare("cat repeated", {a}, [](const TVars& v) { return tg::cat({v[0], v[0]}, 1); },
          [](const Tensors& t) { return torch::cat({t[0], t[0]}, 1); });
  compare("cat legacy empty", {a, Array<double>::from_shape({0})},
          [](const TVars& v) { return tg::cat({v[0], v[1]}, 0); },
          [](const Tensors& t) { return torch::cat({t[0], t[1]}, 0); });
  compare("stack", {a, randn({2, 3}, 14)}, [](const TVars& v) { return tg::stack({v[0], v[1]}, 1); },
          [](const Tensors& t) { return torch::stack({t[0], t[1]}, 1); });
  compare("stack end", {a, randn({2, 3}, 14)}, [](const TVars& v) { return tg::stack({v[0], v[1]}, -1); },
          [](const Tensors& t) { return torch::stack({t[0], t[1]}, -1); });
  // Pieces joined back with distinct weights, so that each one's gradient is checked.
  auto weigh = [](const std::vector<tg::Var<double>>& ps) {
    std::vector<tg::Var<double>> out;
    for (std::size_t i = 0; i < ps.size(); ++i) out.push_back(tg::flatten(ps[i] * double(i + 1)));
    return tg::cat(out);
  };
  auto weigh_t = [](const std::vector<torch::Tensor>& ps) {
    std::vector<torch::Tensor> out;
    for (std::size_t i = 0; i < ps.size(); ++i) out.push_back(torch::flatten(ps[i] * double(i + 1)));
    return torch::cat(out);
  };
  const auto x = randn({3, 7, 2}, 15);
  compare("split", {x}, [&](const TVars& v) { return weigh(tg::split(v[0], 3, 1)); },
          [&](const Tensors& t) { return weigh_t(torch::split(t[0], 3, 1)); });
  compare("split sizes", {x}, [&](const TVars& v) { return weigh(tg::split(v[0], {2, 4, 1}, -2)); },
          [&](const Tensors& t) { return weigh_t(torch::split_with_sizes(t[0], {2, 4, 1}, -2)); });
  compare("chunk", {x}, [&](const TVars& v) { return weigh(tg::chunk(v[0], 3, 1)); },
          [&](const Tensors& t) { return weigh_t(torch::chunk(t[0], 3, 1)); });
  compare("chunk fewer", {randn({5}, 16)}, [&](const TVars& v) { return weigh(tg::chunk(v[0], 4)); },
          [&](const Tensors& t) { return weigh_t(torch::chunk(t[0], 4)); });
  compare("chunk uneven", {randn({6, 2}, 17)}, [&](const TVars& v) { return weigh(tg::chunk(v[0], 4)); },
          [&](const Tensors& t) { return weigh_t(torch::chunk(t[0], 4)); });
  EXPECT_EQ(tg::chunk(tg::Tape<double>().constant(Array<double>::from_shape({5})), 4).size(),
            torch::chunk(torch::zeros({5}), 4).size());
}

TEST(TorchReference, Select) {
  const auto x = randn({4, 6, 3}, 20);
  compare("narrow", {x}, [](const TVars& v) { return tg::narrow(v[0], 1, 2, 3); },
          [](const Tensors& t) { return torch::narrow(t[0], 1, 2, 3).contiguous(); });
  compare("narrow negative", {x}, [](const TVars& v) { return tg::narrow(v[0], -1, -2, 2); },
          [](const Tensors& t) { return torch::narrow(t[0], -1, -2, 2).contiguous(); });
  const auto big = std::numeric_limits<std::int64_t>::max();
  for (const auto& bounds : std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>>{
           {1, 5, 2}, {-4, big, 1}, {0, big, 3}, {-100, 2, 1}, {4, 2, 1}, {5, 100, 2}, {-1, big, 1}}) {
    // Plain variables, not a structured binding: C++17 lambdas cannot capture those (clang rejects it).
    const std::int64_t s = std::get<0>(bounds), e = std::get<1>(bounds), st = std::get<2>(bounds);
    compare("slice " + std::to_string(s) + ":" + std::to_string(e) + ":" + std::to_string(st), {x},
            [=](const TVars& v) { return tg::slice(v[0], 1, s, e, st); },
            [=](const Tensors& t) { return t[0].slice(1, s, e, st).contiguous(); });
  }
  compare("slice dim 0 step", {x}, [](const TVars& v) { return tg::slice(v[0], 0, 0, 4, 3); },
          [](const Tensors& t) { return t[0].slice(0, 0, 4, 3).contiguous(); });
  const tg::IndexArray idx{2, 0, 2, 5};
  compare("index_select", {x}, [&](const TVars& v) { return tg::index_select(v[0], 1, idx); },
          [&](const Tensors& t) { return torch::index_select(t[0], 1, to_torch(idx)); });
  compare("index_select last", {x}, [&](const TVars& v) { return tg::index_select(v[0], -1, tg::IndexArray{1, 1}); },
          [&](const Tensors& t) { return torch::index_select(t[0], -1, to_torch(tg::IndexArray{1, 1})); });
  compare("index_select 0-d index", {x},
          [&](const TVars& v) { return tg::index_select(v[0], 0, tg::IndexArray(3)); },
          [&](const Tensors& t) { return torch::index_select(t[0], 0, to_torch(tg::IndexArray(3))); });
  const tg::IndexArray gi = {{{0, 2}, {1, 1}}, {{2, 0}, {0, 0}}};  // (2, 2, 2) into x (4, 6, 3) along 2
  compare("gather", {x}, [&](const TVars& v) { return tg::gather(v[0], 2, gi); },
          [&](const Tensors& t) { return torch::gather(t[0], 2, to_torch(gi)); });
  compare("gather dim 0", {x}, [&](const TVars& v) { return tg::gather(v[0], 0, gi); },
          [&](const Tensors& t) { return torch::gather(t[0], 0, to_torch(gi)); });
  const tg::IndexArray labels = xt::reshape_view(tg::IndexArray{1, 0, 5, 5}, {4, 1});
  compare("gather labels", {randn({4, 6}, 21)}, [&](const TVars& v) { return tg::gather(v[0], -1, labels); },
          [&](const Tensors& t) { return torch::gather(t[0], -1, to_torch(labels)); });
  const tg::BoolArray mask = {{true, false, true}};  // (1, 3): broadcast over x's (4, 6, 3)
  compare("masked_fill", {x}, [&](const TVars& v) { return tg::masked_fill(v[0], mask, -7.5); },
          [&](const Tensors& t) { return torch::masked_fill(t[0], to_torch(mask), -7.5); });
  const tg::BoolArray big_mask = tg::BoolArray(xt::xarray<double>(randn({2, 1, 1}, 22)) > 0.0);
  compare("masked_fill broadcast up", {randn({6, 3}, 23)},
          [&](const TVars& v) { return tg::masked_fill(v[0], big_mask, 1.0); },
          [&](const Tensors& t) { return torch::masked_fill(t[0], to_torch(big_mask), 1.0); });
  const tg::BoolArray cond = tg::BoolArray(xt::xarray<double>(randn({4, 1, 3}, 24)) > 0.0);
  compare("where", {randn({6, 1}, 25), randn({4, 6, 3}, 26)},
          [&](const TVars& v) { return tg::where(cond, v[0], v[1]); },
          [&](const Tensors& t) { return torch::where(to_torch(cond), t[0], t[1]); });
  compare("where same", {randn({4, 1, 3}, 27), randn({4, 1, 3}, 28)},
          [&](const TVars& v) { return tg::where(cond, v[0], v[1]); },
          [&](const Tensors& t) { return torch::where(to_torch(cond), t[0], t[1]); });
  compare("pad last", {x}, [](const TVars& v) { return tg::pad(v[0], {1, 2}); },
          [](const Tensors& t) { return F::pad(t[0], F::PadFuncOptions({1, 2})); });
  compare("pad two", {x}, [](const TVars& v) { return tg::pad(v[0], {0, 1, 2, 3}, 0.5); },
          [](const Tensors& t) { return F::pad(t[0], F::PadFuncOptions({0, 1, 2, 3}).value(0.5)); });
  compare("pad crop", {x}, [](const TVars& v) { return tg::pad(v[0], {-1, 1, 1, -2, 1, 0}, -1.0); },
          [](const Tensors& t) { return F::pad(t[0], F::PadFuncOptions({-1, 1, 1, -2, 1, 0}).value(-1.0)); });
}

TEST(TorchReference, Products) {
  struct P {
    tg::Shape a, b;
  };
  const std::vector<P> shapes = {
      {{3, 4}, {4, 5}},       {{4}, {4}},          {{4}, {4, 5}},          {{3, 4}, {4}},
      {{2, 3, 4}, {4, 5}},    {{2, 3, 4}, {4}},    {{4}, {2, 4, 5}},       {{3, 4}, {2, 4, 5}},
      {{2, 3, 4}, {2, 4, 5}}, {{2, 1, 3, 4}, {5, 4, 2}}, {{1, 3, 4}, {6, 4, 2}}, {{7, 2, 3, 4}, {1, 4, 5}},
      {{2, 70, 40}, {2, 40, 90}}, {{3, 80, 70}, {70, 60}},
  };
  std::uint64_t seed = 30;
  for (const auto& p : shapes) {
    compare("matmul " + tg::to_string(p.a) + " @ " + tg::to_string(p.b), {randn(p.a, seed), randn(p.b, seed + 1)},
            [](const TVars& v) { return tg::matmul(v[0], v[1]); },
            [](const Tensors& t) { return torch::matmul(t[0], t[1]); });
    seed += 2;
  }
  compare("matmul of itself", {randn({4}, 50)}, [](const TVars& v) { return tg::matmul(v[0], v[0]); },
          [](const Tensors& t) { return torch::matmul(t[0], t[0]); });
  compare("bmm", {randn({3, 2, 4}, 51), randn({3, 4, 5}, 52)}, [](const TVars& v) { return tg::bmm(v[0], v[1]); },
          [](const Tensors& t) { return torch::bmm(t[0], t[1]); });
  // linear is x·W (W (in, out)): F.linear(x, Wᵀ, b).
  for (const tg::Shape& xs : std::vector<tg::Shape>{{5, 4}, {4}, {2, 3, 4}, {2, 2, 3, 4}}) {
    compare("linear " + tg::to_string(xs), {randn(xs, 53), randn({4, 6}, 54), randn({6}, 55)},
            [](const TVars& v) { return tg::linear(v[0], v[1], v[2]); },
            [](const Tensors& t) { return F::linear(t[0], t[1].t(), t[2]); });
    compare("linear no bias " + tg::to_string(xs), {randn(xs, 56), randn({4, 6}, 57)},
            [](const TVars& v) { return tg::linear(v[0], v[1]); },
            [](const Tensors& t) { return F::linear(t[0], t[1].t()); });
  }
}

TEST(TorchReference, Elementwise) {
  const auto x = randn({3, 4}, 60);
  const auto pos = xt::eval(xt::abs(x) + 0.1);
  const auto ties = with_ties();
  using U = std::function<tg::Var<double>(const TVars&)>;
  using V = std::function<torch::Tensor(const Tensors&)>;
  const std::vector<std::tuple<std::string, Array<double>, U, V>> unary = {
      {"pow 3", x, [](const TVars& v) { return tg::pow(v[0], 3.0); }, [](const Tensors& t) { return torch::pow(t[0], 3.0); }},
      {"pow 2", ties, [](const TVars& v) { return tg::pow(v[0], 2.0); }, [](const Tensors& t) { return torch::pow(t[0], 2.0); }},
      {"pow 0", ties, [](const TVars& v) { return tg::pow(v[0], 0.0); }, [](const Tensors& t) { return torch::pow(t[0], 0.0); }},
      {"pow -1.5", pos, [](const TVars& v) { return tg::pow(v[0], -1.5); }, [](const Tensors& t) { return torch::pow(t[0], -1.5); }},
      {"sqrt", pos, [](const TVars& v) { return tg::sqrt(v[0]); }, [](const Tensors& t) { return torch::sqrt(t[0]); }},
      {"rsqrt", pos, [](const TVars& v) { return tg::rsqrt(v[0]); }, [](const Tensors& t) { return torch::rsqrt(t[0]); }},
      {"abs", ties, [](const TVars& v) { return tg::abs(v[0]); }, [](const Tensors& t) { return torch::abs(t[0]); }},
      {"square", x, [](const TVars& v) { return tg::square(v[0]); }, [](const Tensors& t) { return torch::square(t[0]); }},
      {"clamp", ties, [](const TVars& v) { return tg::clamp(v[0], -1.0, 2.0); }, [](const Tensors& t) { return torch::clamp(t[0], -1.0, 2.0); }},
      {"clamp min", ties, [](const TVars& v) { return tg::clamp(v[0], 0.0); }, [](const Tensors& t) { return torch::clamp(t[0], 0.0); }},
      {"clamp max", ties, [](const TVars& v) { return tg::clamp(v[0], std::nullopt, 0.0); }, [](const Tensors& t) { return torch::clamp(t[0], c10::nullopt, 0.0); }},
      {"clamp min > max", ties, [](const TVars& v) { return tg::clamp(v[0], 2.0, 1.0); }, [](const Tensors& t) { return torch::clamp(t[0], 2.0, 1.0); }},
      {"log1p", pos, [](const TVars& v) { return tg::log1p(v[0]); }, [](const Tensors& t) { return torch::log1p(t[0]); }},
      {"sin", x, [](const TVars& v) { return tg::sin(v[0]); }, [](const Tensors& t) { return torch::sin(t[0]); }},
      {"cos", x, [](const TVars& v) { return tg::cos(v[0]); }, [](const Tensors& t) { return torch::cos(t[0]); }},
      {"leaky_relu", ties, [](const TVars& v) { return tg::leaky_relu(v[0]); }, [](const Tensors& t) { return F::leaky_relu(t[0]); }},
      {"leaky_relu 0.2", x, [](const TVars& v) { return tg::leaky_relu(v[0], 0.2); }, [](const Tensors& t) { return F::leaky_relu(t[0], F::LeakyReLUFuncOptions().negative_slope(0.2)); }},
      {"elu", ties, [](const TVars& v) { return tg::elu(v[0]); }, [](const Tensors& t) { return F::elu(t[0]); }},
      {"elu 0.5", x * 3.0, [](const TVars& v) { return tg::elu(v[0], 0.5); }, [](const Tensors& t) { return F::elu(t[0], F::ELUFuncOptions().alpha(0.5)); }},
      {"gelu", x * 2.0, [](const TVars& v) { return tg::gelu(v[0]); }, [](const Tensors& t) { return F::gelu(t[0]); }},
      {"gelu tanh", x * 2.0, [](const TVars& v) { return tg::gelu(v[0], "tanh"); }, [](const Tensors& t) { return F::gelu(t[0], F::GELUFuncOptions().approximate("tanh")); }},
      {"silu", x * 2.0, [](const TVars& v) { return tg::silu(v[0]); }, [](const Tensors& t) { return F::silu(t[0]); }},
      {"softplus", x * 4.0, [](const TVars& v) { return tg::softplus(v[0]); }, [](const Tensors& t) { return F::softplus(t[0]); }},
      {"softplus beta threshold", x * 4.0, [](const TVars& v) { return tg::softplus(v[0], 2.0, 3.0); }, [](const Tensors& t) { return F::softplus(t[0], F::SoftplusFuncOptions().beta(2.0).threshold(3.0)); }},
  };
  for (const auto& [name, input, f, g] : unary) compare(name, {input}, f, g);
  const auto ties2 = Array<double>{{1.0, 0.0, 3.0, -2.0}};
  compare("pow broadcast", {pos, tg::column({0.5, 2.0, -1.0})},
          [](const TVars& v) { return tg::pow(v[0], v[1]); }, [](const Tensors& t) { return torch::pow(t[0], t[1]); });
  compare("pow zero base", {Array<double>{0.0, 0.0, 2.0, -2.0}, Array<double>{2.0, 0.0, 0.0, 3.0}},
          [](const TVars& v) { return tg::pow(v[0], v[1]); }, [](const Tensors& t) { return torch::pow(t[0], t[1]); });
  compare("maximum ties", {ties, ties2}, [](const TVars& v) { return tg::maximum(v[0], v[1]); },
          [](const Tensors& t) { return torch::maximum(t[0], t[1]); });
  compare("minimum ties", {ties, ties2}, [](const TVars& v) { return tg::minimum(v[0], v[1]); },
          [](const Tensors& t) { return torch::minimum(t[0], t[1]); });
  compare("maximum same", {ties, ties}, [](const TVars& v) { return tg::maximum(v[0], v[1]); },
          [](const Tensors& t) { return torch::maximum(t[0], t[1]); });
}

TEST(TorchReference, Reductions) {
  const auto x = randn({3, 4, 5}, 70);
  const auto ties = with_ties();
  using U = std::function<tg::Var<double>(const TVars&)>;
  using V = std::function<torch::Tensor(const Tensors&)>;
  const std::vector<std::tuple<std::string, Array<double>, U, V>> cases = {
      {"sum dims", x, [](const TVars& v) { return tg::sum(v[0], {0, 2}); }, [](const Tensors& t) { return torch::sum(t[0], IA{0, 2}); }},
      {"sum dims keepdim", x, [](const TVars& v) { return tg::sum(v[0], {-1, 0}, true); }, [](const Tensors& t) { return torch::sum(t[0], IA{-1, 0}, true); }},
      {"sum int", x, [](const TVars& v) { return tg::sum(v[0], 1); }, [](const Tensors& t) { return torch::sum(t[0], 1); }},
      {"sum all list", x, [](const TVars& v) { return tg::sum(v[0], {}); }, [](const Tensors& t) { return torch::sum(t[0], std::vector<int64_t>{}); }},
      {"mean dims", x, [](const TVars& v) { return tg::mean(v[0], {1, 2}, true); }, [](const Tensors& t) { return torch::mean(t[0], IA{1, 2}, true); }},
      {"mean middle", x, [](const TVars& v) { return tg::mean(v[0], {1}); }, [](const Tensors& t) { return torch::mean(t[0], IA{1}); }},
      {"amax ties", ties, [](const TVars& v) { return tg::amax(v[0], {1}); }, [](const Tensors& t) { return torch::amax(t[0], IA{1}); }},
      {"amax all", ties, [](const TVars& v) { return tg::amax(v[0]); }, [](const Tensors& t) { return torch::amax(t[0], IA{0, 1}); }},
      {"amin ties", ties, [](const TVars& v) { return tg::amin(v[0], {0}, true); }, [](const Tensors& t) { return torch::amin(t[0], IA{0}, true); }},
      {"amax 3-d", x, [](const TVars& v) { return tg::amax(v[0], {0, 2}); }, [](const Tensors& t) { return torch::amax(t[0], IA{0, 2}); }},
      {"max all", ties, [](const TVars& v) { return tg::max(v[0]); }, [](const Tensors& t) { return torch::max(t[0]); }},
      {"min all", ties, [](const TVars& v) { return tg::min(v[0]); }, [](const Tensors& t) { return torch::min(t[0]); }},
      {"max dim", ties, [](const TVars& v) { return tg::max(v[0], 1).values; }, [](const Tensors& t) { return std::get<0>(torch::max(t[0], 1)); }},
      {"max dim keepdim", ties, [](const TVars& v) { return tg::max(v[0], 0, true).values; }, [](const Tensors& t) { return std::get<0>(torch::max(t[0], 0, true)); }},
      {"min dim", ties, [](const TVars& v) { return tg::min(v[0], -1).values; }, [](const Tensors& t) { return std::get<0>(torch::min(t[0], -1)); }},
      {"max dim 3-d", x, [](const TVars& v) { return tg::max(v[0], 1).values; }, [](const Tensors& t) { return std::get<0>(torch::max(t[0], 1)); }},
      {"logsumexp", x * 10.0, [](const TVars& v) { return tg::logsumexp(v[0], {1}); }, [](const Tensors& t) { return torch::logsumexp(t[0], IA{1}); }},
      {"logsumexp two", x, [](const TVars& v) { return tg::logsumexp(v[0], {0, -1}, true); }, [](const Tensors& t) { return torch::logsumexp(t[0], IA{0, -1}, true); }},
      {"var", x, [](const TVars& v) { return tg::var(v[0]); }, [](const Tensors& t) { return torch::var(t[0]); }},
      {"var dims", x, [](const TVars& v) { return tg::var(v[0], {0, 2}); }, [](const Tensors& t) { return torch::var(t[0], std::vector<int64_t>{0, 2}, c10::optional<int64_t>(1)); }},
      {"var correction 0 keepdim", x, [](const TVars& v) { return tg::var(v[0], {1}, 0, true); }, [](const Tensors& t) { return torch::var(t[0], std::vector<int64_t>{1}, c10::optional<int64_t>(0), true); }},
      {"std", x, [](const TVars& v) { return tg::std(v[0], {-1}); }, [](const Tensors& t) { return torch::std(t[0], std::vector<int64_t>{-1}, c10::optional<int64_t>(1)); }},
      {"std constant rows", Array<double>{{2.0, 2.0, 2.0}, {1.0, 2.0, 4.0}}, [](const TVars& v) { return tg::std(v[0], {1}); }, [](const Tensors& t) { return torch::std(t[0], std::vector<int64_t>{1}, c10::optional<int64_t>(1)); }},
      {"norm", x, [](const TVars& v) { return tg::norm(v[0]); }, [](const Tensors& t) { return torch::norm(t[0]); }},
      {"norm zero", Array<double>{{0.0, 0.0}, {3.0, 4.0}}, [](const TVars& v) { return tg::norm(v[0], 2, {1}); }, [](const Tensors& t) { return torch::norm(t[0], 2, IA{1}); }},
      {"norm 1", ties, [](const TVars& v) { return tg::norm(v[0], 1, {1}); }, [](const Tensors& t) { return torch::norm(t[0], 1, IA{1}); }},
      {"norm 3", x, [](const TVars& v) { return tg::norm(v[0], 3, {0, 2}, true); }, [](const Tensors& t) { return torch::norm(t[0], 3, IA{0, 2}, true); }},
      {"norm 1.5", ties, [](const TVars& v) { return tg::norm(v[0], 1.5, {1}); }, [](const Tensors& t) { return torch::norm(t[0], 1.5, IA{1}); }},
      {"norm 0.5", ties, [](const TVars& v) { return tg::norm(v[0], 0.5, {1}); }, [](const Tensors& t) { return torch::norm(t[0], 0.5, IA{1}); }},
      {"norm inf", ties, [](const TVars& v) { return tg::norm(v[0], INFINITY, {1}); }, [](const Tensors& t) { return torch::norm(t[0], INFINITY, IA{1}); }},
      {"norm -inf", ties, [](const TVars& v) { return tg::norm(v[0], -INFINITY, {1}); }, [](const Tensors& t) { return torch::norm(t[0], -INFINITY, IA{1}); }},
      {"norm 0", ties, [](const TVars& v) { return tg::norm(v[0], 0, {1}); }, [](const Tensors& t) { return torch::norm(t[0], 0, IA{1}); }},
  };
  for (const auto& [name, input, f, g] : cases) compare(name, {input}, f, g);
  // Indices of max/min: the first of equal values, as PyTorch's CPU kernel.
  tg::Tape<double> tape;
  const auto tx = to_torch(ties);
  for (int dim : {0, 1, -1}) {
    const Array<double> imax = xt::cast<double>(tg::max(tape.constant(ties), dim).indices);
    const Array<double> imin = xt::cast<double>(tg::min(tape.constant(ties), dim).indices);
    EXPECT_EQ(imax, from_torch(std::get<1>(torch::max(tx, dim)))) << "dim " << dim;
    EXPECT_EQ(imin, from_torch(std::get<1>(torch::min(tx, dim)))) << "dim " << dim;
  }
}
