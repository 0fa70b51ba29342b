// max_pool2d, avg_pool2d, adaptive_avg_pool2d: forward values against direct loops written from
// PyTorch's definitions and hand-computed ones (NaN, ties, padding, ceil_mode, count_include_pad),
// backward against central differences (float64).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tapegrad/gradcheck.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/pooling.hpp"
#include "tapegrad/random.hpp"

namespace tg = tapegrad;
using tg::Array;
using tg::Size2;
using Vars = std::vector<tg::Var<double>>;

namespace {

// Distinct values (no ties: a central difference across a tie is meaningless), shuffled.
Array<double> distinct(tg::Rng& rng, const tg::Shape& shape) {
  Array<double> a = Array<double>::from_shape(shape);
  for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = 0.1 * double(i) - 0.05 * double(a.size());
  for (std::size_t i = a.size(); i > 1; --i) std::swap(a.data()[i - 1], a.data()[rng.below(i)]);
  return a;
}

struct PoolCase {
  tg::Shape shape;
  Size2 kernel, stride, padding, dilation;
  bool ceil_mode;
};

const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> c = {
      {{2, 3, 6, 6}, 2, Size2(), 0, 1, false},       // the CNN's 2×2 pooling
      {{1, 2, 7, 7}, 2, Size2(), 0, 1, false},       // odd: the last row and column are dropped
      {{2, 2, 7, 6}, 3, 2, 1, 1, false},             // overlapping windows, padding
      {{1, 1, 7, 7}, 3, 2, 1, 1, true},              // ceil_mode
      {{2, 1, 8, 9}, {3, 2}, {2, 1}, {1, 0}, {2, 1}, false},  // dilation
      {{3, 5, 5}, 2, 1, 1, 1, true},                 // unbatched
      {{1, 1, 5, 5}, 2, 3, 0, 1, true},              // ceil_mode: a last window hanging out
  };
  return c;
}

// max over each window, -inf padding.
Array<double> max_pool_loops(const Array<double>& x, const PoolCase& c, std::size_t oh, std::size_t ow) {
  const std::size_t H = x.shape()[x.dimension() - 2], W = x.shape()[x.dimension() - 1], planes = x.size() / (H * W);
  Size2 s = c.stride == Size2() ? c.kernel : c.stride;
  Array<double> y = Array<double>::from_shape({planes, oh, ow});
  for (std::size_t p = 0; p < planes; ++p)
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox) {
        double m = -std::numeric_limits<double>::infinity();
        for (long i = 0; i < c.kernel.h; ++i)
          for (long j = 0; j < c.kernel.w; ++j) {
            const long iy = long(oy) * s.h - c.padding.h + i * c.dilation.h;
            const long ix = long(ox) * s.w - c.padding.w + j * c.dilation.w;
            if (iy < 0 || ix < 0 || iy >= long(H) || ix >= long(W)) continue;
            m = std::max(m, x.data()[p * H * W + std::size_t(iy) * W + std::size_t(ix)]);
          }
        y(p, oy, ox) = m;
      }
  return y;
}

}  // namespace

TEST(MaxPool2d, ForwardMatchesLoops) {
  tg::Rng rng(1);
  for (const PoolCase& c : pool_cases()) {
    SCOPED_TRACE(tg::to_string(c.shape));
    const Array<double> x = distinct(rng, c.shape);
    tg::Tape<double> tape;
    auto y = tg::max_pool2d(tape.constant(x), c.kernel, c.stride, c.padding, c.dilation, c.ceil_mode);
    const std::size_t oh = y.shape()[y.shape().size() - 2], ow = y.shape()[y.shape().size() - 1];
    Array<double> got = y.value();
    got.reshape({got.size() / (oh * ow), oh, ow});
    EXPECT_EQ(got, max_pool_loops(x, c, oh, ow));
  }
}

TEST(MaxPool2d, OutputSizesAsPyTorch) {
  tg::Tape<double> tape;
  auto x = tape.constant(Array<double>(xt::zeros<double>({1, 1, 7, 7})));
  EXPECT_EQ(tg::max_pool2d(x, 2).shape(), (tg::Shape{1, 1, 3, 3}));
  EXPECT_EQ(tg::max_pool2d(x, 2, 2, 0, 1, true).shape(), (tg::Shape{1, 1, 4, 4}));
  EXPECT_EQ(tg::max_pool2d(x, 3, 2, 1).shape(), (tg::Shape{1, 1, 4, 4}));
  EXPECT_EQ(tg::max_pool2d(x, 3, 2, 1, 1, true).shape(), (tg::Shape{1, 1, 4, 4}));
  EXPECT_EQ(tg::max_pool2d(x, 3, 2, 0, 2).shape(), (tg::Shape{1, 1, 2, 2}));
  // 5 wide, kernel 2, stride 3, ceil: windows at 0 and 3; a third would start at 6, past the input.
  auto x5 = tape.constant(Array<double>(xt::zeros<double>({1, 1, 5, 5})));
  EXPECT_EQ(tg::max_pool2d(x5, 2, 3, 0, 1, true).shape(), (tg::Shape{1, 1, 2, 2}));
}

TEST(MaxPool2d, NanPropagatesAndGradientGoesToTheArgMax) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (bool fast : {true, false}) {  // the 2×2 path, and the general one (padding 0 but stride 1... below)
    SCOPED_TRACE(fast ? "2x2 stride 2" : "general");
    tg::Tape<double> tape;
    // Windows: {1, 5, 5, 2} (tie: first 5), {nan, 3, 4, nan} (last nan), {-1, -2, -3, -4}, {7, 7, 7, 7}.
    Array<double> x{{{{1, 5, nan, 3}, {5, 2, 4, nan}, {-1, -2, 7, 7}, {-3, -4, 7, 7}}}};
    tg::Parameter<double> p(x);
    auto y = fast ? tg::max_pool2d<double>(tape.bind(p), 2)
                  : tg::max_pool2d<double>(tape.bind(p), {2, 2}, {2, 2}, 0, {1, 1}, true);  // ceil: same windows
    EXPECT_EQ(y.value()(0, 0, 0, 0), 5);
    EXPECT_TRUE(std::isnan(y.value()(0, 0, 0, 1)));
    EXPECT_EQ(y.value()(0, 0, 1, 0), -1);
    EXPECT_EQ(y.value()(0, 0, 1, 1), 7);
    tape.backward(y, Array<double>{{{{10, 20}, {30, 40}}}});
    const Array<double> want{{{{0, 10, 0, 0}, {0, 0, 0, 20}, {30, 0, 40, 0}, {0, 0, 0, 0}}}};
    EXPECT_EQ(p.grad(), want);
  }
  // The general path with overlapping windows: the centre is the max of all four windows.
  tg::Tape<double> tape;
  tg::Parameter<double> p(Array<double>{{{{0, 0, 0}, {0, 9, 0}, {0, 0, 0}}}});
  auto y = tg::max_pool2d<double>(tape.bind(p), 2, 1);
  tape.backward(y, Array<double>{{{{1, 2}, {3, 4}}}});
  EXPECT_EQ(p.grad()(0, 0, 1, 1), 10);
  // All -inf: the gradient goes to the window's first element.
  const double inf = std::numeric_limits<double>::infinity();
  tg::Parameter<double> q(Array<double>{{{{-inf, -inf}, {-inf, -inf}}}});
  auto z = tg::max_pool2d<double>(tape.bind(q), 2);
  tape.backward(z, Array<double>(xt::ones<double>({1, 1, 1, 1})));
  EXPECT_EQ(q.grad(), (Array<double>{{{{1, 0}, {0, 0}}}}));
}

TEST(MaxPool2d, Gradcheck) {
  tg::Rng rng(2);
  for (const PoolCase& c : pool_cases()) {
    SCOPED_TRACE(tg::to_string(c.shape));
    const auto r = tg::gradcheck(
        [&](const Vars& v) { return tg::max_pool2d(v[0], c.kernel, c.stride, c.padding, c.dilation, c.ceil_mode); },
        {distinct(rng, c.shape)});
    EXPECT_TRUE(r.ok) << r.report();
  }
}

// float's 2×2 / stride 2 case runs vector code (on AVX-512): the same values and gradients as
// double's loops, bit for bit, with ties, NaNs and -inf, odd and wide planes, and a second pooling
// of the same input (its gradient is added).
TEST(MaxPool2d, FloatTwoByTwoMatchesDouble) {
  tg::Rng rng(5);
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (const tg::Shape& shape : std::vector<tg::Shape>{{2, 3, 28, 28}, {1, 2, 7, 9}, {2, 1, 5, 70}, {1, 1, 2, 2},
                                                       {3, 4, 14, 14}, {1, 1, 3, 33}}) {
    SCOPED_TRACE(tg::to_string(shape));
    Array<double> x = rng.normal<double>(shape);
    for (auto& v : x) v = std::round(v * 2) / 2;  // few levels: many ties
    for (std::size_t i = 0; i < x.size(); i += 37) x.data()[i] = nan;
    for (std::size_t i = 5; i < x.size(); i += 53) x.data()[i] = -inf;
    tg::Parameter<double> xd(x);
    tg::Parameter<float> xf(xt::cast<float>(x));
    tg::Tape<double> td;
    tg::Tape<float> tf;
    auto yd = tg::max_pool2d<double>(td.bind(xd), 2);
    auto yf = tg::max_pool2d<float>(tf.bind(xf), 2);
    const Array<double> yfd = xt::cast<double>(yf.value());
    ASSERT_EQ(yfd.shape(), yd.value().shape());
    for (std::size_t i = 0; i < yfd.size(); ++i) {
      const double a = yfd.data()[i], b = yd.value().data()[i];
      ASSERT_TRUE(a == b || (std::isnan(a) && std::isnan(b))) << "output " << i << ": " << a << " vs " << b;
    }
    // Two poolings of the same input: the second gradient is added to the first.
    auto zd = tg::max_pool2d<double>(td.bind(xd), 2);
    auto zf = tg::max_pool2d<float>(tf.bind(xf), 2);
    Array<double> gy = xt::round(rng.normal<double>(yd.shape()) * 4);
    Array<double> gz = xt::round(rng.normal<double>(yd.shape()) * 4);
    auto ld = tg::add(tg::sum(tg::mul(yd, td.constant(gy))), tg::sum(tg::mul(zd, td.constant(gz))));
    auto lf = tg::add(tg::sum(tg::mul(yf, tf.constant(Array<float>(xt::cast<float>(gy))))),
                      tg::sum(tg::mul(zf, tf.constant(Array<float>(xt::cast<float>(gz))))));
    td.backward(ld);
    tf.backward(lf);
    const Array<double> gf = xt::cast<double>(xf.grad());
    for (std::size_t i = 0; i < gf.size(); ++i) {
      ASSERT_EQ(gf.data()[i], xd.grad().data()[i]) << "gradient element " << i << " (input " << x.data()[i] << ")";
    }
  }
}

TEST(AvgPool2d, HandComputedPaddingAndCeilMode) {
  tg::Tape<double> tape;
  Array<double> x = xt::arange<double>(1, 10);
  x.reshape({1, 1, 3, 3});
  auto v = tape.constant(x);
  // Kernel 2, stride 1: block means.
  EXPECT_EQ(tg::avg_pool2d(v, 2, 1).value(), (Array<double>{{{{3, 4}, {6, 7}}}}));
  // Kernel 2, stride 2, padding 1, count_include_pad (default): the padding counts: 1/4, (2+3)/4, ...
  EXPECT_EQ(tg::avg_pool2d(v, 2, 2, 1).value(), (Array<double>{{{{0.25, 1.25}, {2.75, 7}}}}));
  // ... and without it only the values inside count.
  EXPECT_EQ(tg::avg_pool2d(v, 2, 2, 1, false, false).value(), (Array<double>{{{{1, 2.5}, {5.5, 7}}}}));
  // ceil_mode, kernel 2 stride 2 on 3×3: the last window hangs past the input (no padding): it
  // divides by the part inside even with count_include_pad.
  EXPECT_EQ(tg::avg_pool2d(v, 2, 2, 0, true).value(), (Array<double>{{{{3, 4.5}, {7.5, 9}}}}));
  // divisor_override
  EXPECT_EQ(tg::avg_pool2d(v, 3, 3, 0, false, true, 5).value()(0, 0, 0, 0), 9);
}

TEST(AvgPool2d, Gradcheck) {
  tg::Rng rng(3);
  struct A {
    tg::Shape shape;
    Size2 kernel, stride, padding;
    bool ceil, count_pad;
    std::int64_t divisor;
  };
  for (const A& c : std::vector<A>{{{2, 3, 6, 6}, 2, Size2(), 0, false, true, 0},
                                   {{1, 2, 7, 5}, 3, 2, 1, false, true, 0},
                                   {{1, 2, 7, 5}, 3, 2, 1, true, false, 0},
                                   {{2, 1, 5, 5}, {2, 3}, {2, 1}, {1, 1}, true, true, 0},
                                   {{3, 4, 4}, 2, 1, 0, false, true, 3}}) {
    SCOPED_TRACE(tg::to_string(c.shape));
    const auto r = tg::gradcheck(
        [&](const Vars& v) { return tg::avg_pool2d(v[0], c.kernel, c.stride, c.padding, c.ceil, c.count_pad, c.divisor); },
        {rng.normal<double>(c.shape)});
    EXPECT_TRUE(r.ok) << r.report();
  }
}

TEST(AdaptiveAvgPool2d, WindowsAndGradcheck) {
  tg::Tape<double> tape;
  Array<double> x = xt::arange<double>(0, 10);
  x.reshape({1, 1, 1, 10});
  // 10 → 3: windows [0, 4), [3, 7), [6, 10).
  EXPECT_EQ(tg::adaptive_avg_pool2d(tape.constant(x), {1, 3}).value(), (Array<double>{{{{1.5, 4.5, 7.5}}}}));
  // Global average pooling.
  tg::Rng rng(4);
  const Array<double> r = rng.normal<double>({2, 3, 5, 4});
  auto g = tg::adaptive_avg_pool2d(tape.constant(r), 1);
  EXPECT_EQ(g.shape(), (tg::Shape{2, 3, 1, 1}));
  double m = 0;
  for (std::size_t i = 0; i < 20; ++i) m += r.data()[(1 * 3 + 2) * 20 + i];
  EXPECT_NEAR(g.value()(1, 2, 0, 0), m / 20, 1e-12);
  for (Size2 out : {Size2(1), Size2(2, 3), Size2(3, 4), Size2(7, 5)}) {
    SCOPED_TRACE(tg::to_string(out));
    const auto res = tg::gradcheck([&](const Vars& v) { return tg::adaptive_avg_pool2d(v[0], out); },
                                   {rng.normal<double>({2, 2, 5, 4})});
    EXPECT_TRUE(res.ok) << res.report();
  }
}
