// clip_grad_norm_ and clip_grad_value_, as torch.nn.utils.
#include "tapegrad/nn/utils.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tapegrad::nn {
namespace {

struct Grads {
  Parameter<double> a{Array<double>{{0.0, 0.0}, {0.0, 0.0}}}, b{Array<double>{0.0, 0.0}}, none{Array<double>{5.0}};
  Grads() {
    a.mutable_grad() = Array<double>{{3.0, -4.0}, {0.0, 12.0}};
    b.mutable_grad() = Array<double>{-1.0, 2.0};
  }
  std::vector<Parameter<double>> all() const { return {a, b, none}; }
};

TEST(ClipGradNorm, ScalesAllGradientsByOneFactor) {
  Grads g;
  const double total = std::sqrt(9 + 16 + 144 + 1 + 4.0);  // √174; `none` has no gradient
  EXPECT_DOUBLE_EQ(utils::clip_grad_norm_(g.all(), 2.0), total);
  const double c = 2.0 / (total + 1e-6);
  EXPECT_DOUBLE_EQ(g.a.grad()(0, 1), -4.0 * c);
  EXPECT_DOUBLE_EQ(g.b.grad()(1), 2.0 * c);
  EXPECT_FALSE(g.none.has_grad());
  // Under the limit: unchanged.
  Grads h;
  EXPECT_DOUBLE_EQ(utils::clip_grad_norm_(h.all(), 100.0), total);
  EXPECT_EQ(h.a.grad()(1, 1), 12.0);
}

TEST(ClipGradNorm, OtherNormsAndNonFinite) {
  Grads g;
  EXPECT_EQ(utils::clip_grad_norm_(g.all(), 6.0, std::numeric_limits<double>::infinity()), 12.0);
  EXPECT_DOUBLE_EQ(g.a.grad()(1, 1), 12.0 * 6.0 / (12.0 + 1e-6));
  Grads h;
  EXPECT_DOUBLE_EQ(utils::clip_grad_norm_(h.all(), 1e9, 1.0), 22.0);
  Grads n;
  n.b.mutable_grad()(0) = std::nan("");
  EXPECT_THROW(utils::clip_grad_norm_(n.all(), 1.0, 2.0, true), ValueError);
  EXPECT_EQ(n.a.grad()(0, 0), 3.0);  // unchanged
  EXPECT_TRUE(std::isnan(utils::clip_grad_norm_(n.all(), 1.0)));
  EXPECT_TRUE(std::isnan(n.a.grad()(0, 0)));  // as PyTorch: NaN spreads
  EXPECT_THROW(utils::clip_grad_norm_(Grads().all(), -1.0), ValueError);
  EXPECT_THROW(utils::clip_grad_norm_(Grads().all(), 1.0, 0.0), ValueError);
  EXPECT_EQ(utils::clip_grad_norm_(std::vector<Parameter<double>>{}, 1.0), 0.0);
}

TEST(ClipGradValue, ClampsEachElement) {
  Grads g;
  utils::clip_grad_value_(g.all(), 2.5);
  EXPECT_EQ(g.a.grad(), (Array<double>{{2.5, -2.5}, {0.0, 2.5}}));
  EXPECT_EQ(g.b.grad(), (Array<double>{-1.0, 2.0}));
  EXPECT_FALSE(g.none.has_grad());
  EXPECT_THROW(utils::clip_grad_value_(g.all(), -1.0), ValueError);
  Parameter<float> f(Array<float>{0.f});
  f.mutable_grad()(0) = -7.f;
  utils::clip_grad_value_(std::vector<Parameter<float>>{f}, 0.5);
  EXPECT_EQ(f.grad()(0), -0.5f);
}

}  // namespace
}  // namespace tapegrad::nn
