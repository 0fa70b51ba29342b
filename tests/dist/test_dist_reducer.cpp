// dist/reducer.hpp: weighted averages, parameters without gradients, buckets.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "dist/dist_testing.hpp"
#include "tapegrad/dist/collectives.hpp"
#include "tapegrad/dist/reducer.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/optim/sgd.hpp"

namespace tg = tapegrad;
namespace dist = tapegrad::dist;
using dist::testing::env;

namespace {
template <class T>
class Params : public tg::nn::Module<T> {
 public:
  explicit Params(const std::vector<std::pair<std::string, tg::Shape>>& list) {
    for (const auto& [name, shape] : list) this->register_parameter(name, tg::Array<T>(xt::zeros<T>(shape)));
  }
  tg::Var<T> forward(const tg::Var<T>& x) { return x; }
  tg::Parameter<T>& at(std::size_t i) { return this->param_at(i); }
};

// Gives `p` the gradient `g` the way backward does: through the tape.
template <class T>
void set_grad(tg::Parameter<T>& p, const tg::Array<T>& g) {
  tg::Tape<T> tape;
  tape.backward(tg::sum(tg::mul(tape.bind(p), tape.constant(g))));  // d/dp sum(p * g) = g
}

double rank_count(int r) { return double(r + 1); }
}  // namespace

TEST(GradientReducer, WeightsEachRankByItsExamples) {
  const int w = env().world_size(), r = env().rank();
  Params<double> m({{"a", {2, 3}}, {"b", {4}}});
  dist::GradientReducer<double> reducer(env(), m);
  // Rank r: gradient (r + 1) * base, from r + 1 examples.
  const tg::Array<double> base_a = {{1., -2., 3.}, {0.5, 0.25, -8.}};
  const tg::Array<double> base_b = {1e-3, 7., -1., 2.};
  set_grad(m.at(0), tg::Array<double>(base_a * rank_count(r)));
  set_grad(m.at(1), tg::Array<double>(base_b * rank_count(r)));
  const std::size_t total = reducer.average(std::size_t(r + 1));
  double n = 0, weighted = 0;  // Σ n_r, Σ n_r (r + 1)
  for (int k = 0; k < w; ++k) n += rank_count(k), weighted += rank_count(k) * rank_count(k);
  EXPECT_EQ(total, std::size_t(n));
  const tg::Array<double> want_a = base_a * (weighted / n), want_b = base_b * (weighted / n);
  for (std::size_t i = 0; i < want_a.size(); ++i) {
    EXPECT_NEAR(m.at(0).grad().flat(i), want_a.flat(i), 1e-14 * std::abs(want_a.flat(i)));
  }
  for (std::size_t i = 0; i < want_b.size(); ++i) {
    EXPECT_NEAR(m.at(1).grad().flat(i), want_b.flat(i), 1e-14 * std::abs(want_b.flat(i)));
  }
}

TEST(GradientReducer, PlainMean) {
  const int w = env().world_size(), r = env().rank();
  Params<float> m({{"a", {3}}});
  dist::GradientReducer<float> reducer(env(), m);
  set_grad(m.at(0), tg::Array<float>{float(r), 1.f, -2.f * float(r)});
  reducer.average();
  const float mean = float(w - 1) / 2.f;
  EXPECT_FLOAT_EQ(m.at(0).grad()(0), mean);
  EXPECT_FLOAT_EQ(m.at(0).grad()(1), 1.f);
  EXPECT_FLOAT_EQ(m.at(0).grad()(2), -2.f * mean);
}

// A parameter with a gradient on some ranks only is averaged with zeros for the others, on every
// rank; one with a gradient on no rank keeps none, so the optimizer skips it everywhere.
TEST(GradientReducer, ParametersWithoutGradientsOnSomeRanks) {
  const int w = env().world_size(), r = env().rank();
  Params<double> m({{"used_everywhere", {2}}, {"used_on_rank_0", {2}}, {"never_used", {2}}});
  for (std::size_t i = 0; i < 3; ++i) m.at(i).mutable_value() = tg::Array<double>{10., 20.};
  dist::GradientReducer<double> reducer(env(), m, dist::ReducerOptions().bucket_bytes(16));  // one parameter a bucket
  EXPECT_EQ(reducer.num_buckets(), 3u);
  tg::optim::SGD<double> sgd(m.parameters(), tg::optim::SGDOptions(1.0));
  sgd.zero_grad();
  set_grad(m.at(0), tg::Array<double>{1., 1.});
  if (r == 0) set_grad(m.at(1), tg::Array<double>{4., 8.});
  reducer.average(1);  // one example on every rank
  sgd.step();
  EXPECT_EQ(m.at(0).value(), (tg::Array<double>{9., 19.}));
  EXPECT_EQ(m.at(1).value(), (tg::Array<double>{10. - 4. / w, 20. - 8. / w}));  // same on every rank
  EXPECT_EQ(m.at(2).value(), (tg::Array<double>{10., 20.}));                    // skipped everywhere
}

// A rank with no example of the step (its share of a short last batch is empty) runs no backward
// and still takes part.
TEST(GradientReducer, ARankWithNoExamples) {
  const int w = env().world_size(), r = env().rank();
  Params<double> m({{"a", {2}}});
  dist::GradientReducer<double> reducer(env(), m);
  m.zero_grad();
  const bool empty = w > 1 && r == w - 1;
  if (!empty) set_grad(m.at(0), tg::Array<double>{double(r), 2.});
  const std::size_t total = reducer.average(empty ? 0 : 2);
  EXPECT_EQ(total, std::size_t(2 * (w > 1 ? w - 1 : 1)));
  const int n = w > 1 ? w - 1 : 1;
  double sum_r = 0;
  for (int k = 0; k < n; ++k) sum_r += k;
  EXPECT_NEAR(m.at(0).grad()(0), sum_r / n, 1e-15);
  EXPECT_NEAR(m.at(0).grad()(1), 2., 1e-15);
  // No rank with an example: nothing changes.
  m.zero_grad();
  EXPECT_EQ(reducer.average(0), 0u);
  tg::optim::SGD<double> sgd(m.parameters(), tg::optim::SGDOptions(1.0));
  const tg::Array<double> before = m.at(0).value();
  sgd.step();
  EXPECT_EQ(m.at(0).value(), before);
}

// Buckets of any size give the same average: a parameter may span several buckets.
TEST(GradientReducer, BucketSizesAgree) {
  const int r = env().rank();
  std::vector<tg::Array<float>> results;
  for (std::size_t bytes : {std::size_t(0), std::size_t(4), std::size_t(12), std::size_t(40), std::size_t(1) << 20}) {
    Params<float> m({{"a", {3, 5}}, {"b", {7}}, {"c", {1}}});
    dist::GradientReducer<float> reducer(env(), m, dist::ReducerOptions().bucket_bytes(bytes));
    const std::size_t per = bytes == 0 ? 23 : std::max<std::size_t>(1, bytes / 4);
    EXPECT_EQ(reducer.num_buckets(), (23 + per - 1) / per) << bytes;
    EXPECT_EQ(reducer.num_elements(), 23u);
    for (std::size_t i = 0; i < 3; ++i) {
      tg::Array<float> g = xt::zeros<float>(m.at(i).shape());
      for (std::size_t k = 0; k < g.size(); ++k) g.flat(k) = float(k) * 0.25f + float(i) - float(r);
      set_grad(m.at(i), g);
    }
    reducer.average(3);
    tg::Array<float> all = xt::zeros<float>({std::size_t(23)});
    std::size_t at = 0;
    for (std::size_t i = 0; i < 3; ++i) {
      for (std::size_t k = 0; k < m.at(i).grad().size(); ++k) all(at++) = m.at(i).grad().flat(k);
    }
    results.push_back(all);
  }
  for (std::size_t j = 1; j < results.size(); ++j) {
    for (std::size_t k = 0; k < 23; ++k) EXPECT_NEAR(results[j](k), results[0](k), 1e-6f) << "bucket config " << j;
  }
  // And the value itself: the mean over ranks of k/4 + i - r.
  const int w = env().world_size();
  EXPECT_NEAR(results[0](0), -float(w - 1) / 2.f, 1e-6f);
}

TEST(GradientReducer, AParameterReplacedByAnotherShapeIsAnError) {
  Params<float> m({{"a", {3}}});
  dist::GradientReducer<float> reducer(env(), m);
  m.at(0).mutable_value() = xt::zeros<float>({4});
  try {
    reducer.average(1);
    ADD_FAILURE() << "no error";
  } catch (const tg::ShapeError& e) {
    EXPECT_STREQ(e.what(), "GradientReducer: the parameters now have 4 elements, not the 3 they had when the reducer "
                           "was made");
  }
}
