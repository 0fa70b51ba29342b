// Calls every public op template of the array and op layers (ops, pointwise, reduction,
// shape_ops, indexing) for float and for double: the library instantiates them explicitly, beside
// their definitions (src/instantiate.hpp), and a declaration whose instantiation is missing fails
// to link this test instead of a user's program.
#include <gtest/gtest.h>

#include <cmath>

#include "tapegrad/indexing.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/pointwise.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/shape_ops.hpp"

namespace tg = tapegrad;
using tg::Array;

namespace {

template <class T>
void call_every_op() {
  tg::Tape<T> tape;
  tg::Parameter<T> p(Array<T>(xt::ones<T>({2, 3})));
  const auto m = tape.bind(p);                                        // (2, 3), requires grad
  const auto c = tape.constant(Array<T>(xt::ones<T>({3, 2}) * T(2)));  // (3, 2)
  const auto v = tape.constant(Array<T>(xt::ones<T>({3})));
  std::vector<tg::Var<T>> out;
  // ops.hpp
  out.push_back(tg::matmul(m, c));
  out.push_back(tg::bmm(tg::unsqueeze(m, 0), tg::unsqueeze(c, 0)));
  out.push_back(tg::linear(m, c, tape.constant(Array<T>(xt::zeros<T>({2})))));
  out.push_back(tg::linear(m, c));
  out.push_back(tg::add(m, v));
  out.push_back(tg::sub(m, v));
  out.push_back(tg::mul(m, v));
  out.push_back(tg::div(m, v));
  out.push_back(tg::affine(m, T(2), T(1)));
  // pointwise.hpp
  for (auto f : {&tg::relu<T>, &tg::sigmoid<T>, &tg::tanh<T>, &tg::exp<T>, &tg::log<T>, &tg::sqrt<T>, &tg::rsqrt<T>,
                 &tg::abs<T>, &tg::square<T>, &tg::log1p<T>, &tg::sin<T>, &tg::cos<T>, &tg::silu<T>}) {
    out.push_back(f(m));
  }
  out.push_back(tg::pow(m, 2.0));
  out.push_back(tg::pow(m, v));
  out.push_back(tg::clamp(m, 0.0, 1.0));
  out.push_back(tg::maximum(m, v));
  out.push_back(tg::minimum(m, v));
  out.push_back(tg::leaky_relu(m));
  out.push_back(tg::elu(m));
  out.push_back(tg::gelu(m, "tanh"));
  out.push_back(tg::softplus(m));
  // reduction.hpp
  out.push_back(tg::sum(m));
  out.push_back(tg::sum(m, {0, 1}));
  out.push_back(tg::mean(m));
  out.push_back(tg::mean(m, 1, true));
  out.push_back(tg::amax(m));
  out.push_back(tg::amin(m, 0));
  out.push_back(tg::max(m, 1).values);
  out.push_back(tg::min(m, 0, true).values);
  out.push_back(tg::max(m));
  out.push_back(tg::min(m));
  out.push_back(tg::logsumexp(m, 1));
  out.push_back(tg::var(m));
  out.push_back(tg::std(m, {1}, 0, true));
  out.push_back(tg::norm(m, 1.5));
  // shape_ops.hpp
  out.push_back(tg::reshape(m, {3, -1}));
  out.push_back(tg::flatten(m));
  out.push_back(tg::transpose(m, 0, 1));
  out.push_back(tg::permute(m, {1, 0}));
  out.push_back(tg::unsqueeze(m, 1));
  out.push_back(tg::squeeze(m));
  out.push_back(tg::squeeze(m, 0));
  out.push_back(tg::expand(v, {2, 3}));
  out.push_back(tg::cat({m, m}, 1));
  out.push_back(tg::cat(std::vector<tg::Var<T>>{m, m}));
  out.push_back(tg::stack({m, m}));
  out.push_back(tg::stack(std::vector<tg::Var<T>>{m, m}, -1));
  out.push_back(tg::split(m, 2, 1)[0]);
  out.push_back(tg::split(m, {1, 2}, 1)[1]);
  out.push_back(tg::chunk(m, 2, 1)[1]);
  out.push_back(tg::narrow(m, 1, 0, 2));
  out.push_back(tg::slice(m, 1, 0, 3, 2));
  out.push_back(tg::pad(m, {1, 1}));
  // indexing.hpp
  out.push_back(tg::index_select(m, 1, tg::IndexArray{0, 2}));
  out.push_back(tg::gather(m, 1, tg::IndexArray(xt::reshape_view(tg::IndexArray{0, 2}, {2, 1}))));
  out.push_back(tg::masked_fill(m, tg::BoolArray{true, false, true}, T(0)));
  out.push_back(tg::where(tg::BoolArray{true, false, true}, m, v));
  // Every result feeds one loss, so every backward rule runs too.
  tg::Var<T> loss = tg::sum(out[0]);
  for (std::size_t i = 1; i < out.size(); ++i) loss = loss + tg::sum(out[i]);
  EXPECT_TRUE(std::isfinite(double(loss.item())));
  tape.backward(loss);
  EXPECT_EQ(p.grad().shape(), (tg::Shape{2, 3}));
}

}  // namespace

TEST(Instantiation, EveryOpForFloat) { call_every_op<float>(); }
TEST(Instantiation, EveryOpForDouble) { call_every_op<double>(); }
