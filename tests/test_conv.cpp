// conv2d and conv_transpose2d: forward values against direct loops written from PyTorch's
// definitions (and a few hand-computed ones), backward against central differences
// (tapegrad::gradcheck, float64) over strides, paddings, dilations, groups (depthwise included),
// odd sizes, batch 1 and unbatched inputs, and the threaded path against the direct loops.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tapegrad/conv.hpp"
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/parallel.hpp"
#include "tapegrad/random.hpp"
#include "tapegrad/reduction.hpp"

namespace tg = tapegrad;
using tg::Array;
using tg::Size2;
using Vars = std::vector<tg::Var<double>>;

namespace {

struct Case {
  std::size_t n, cin, h, w, cout, kh, kw;
  Size2 stride, padding, dilation;
  std::int64_t groups;
  bool bias;
};

// y[n][co][oy][ox] = b[co] + Σ w[co][c][i][j] · x[n][g·in_g + c][oy·sh − ph + i·dh][ox·sw − pw + j·dw]
template <class T>
Array<T> conv2d_loops(const Array<T>& x, const Array<T>& w, const Array<T>* b, Size2 s, Size2 p, Size2 d,
                      std::size_t groups) {
  const std::size_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
  const std::size_t O = w.shape()[0], in_g = w.shape()[1], KH = w.shape()[2], KW = w.shape()[3];
  const std::size_t out_g = O / groups;
  const std::size_t OH = (H + 2 * p.h - d.h * (KH - 1) - 1) / s.h + 1;
  const std::size_t OW = (W + 2 * p.w - d.w * (KW - 1) - 1) / s.w + 1;
  EXPECT_EQ(C, in_g * groups);
  Array<T> y = xt::zeros<T>({N, O, OH, OW});
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t o = 0; o < O; ++o)
      for (std::size_t oy = 0; oy < OH; ++oy)
        for (std::size_t ox = 0; ox < OW; ++ox) {
          double acc = b ? double((*b)(o)) : 0.0;
          const std::size_t g = o / out_g;
          for (std::size_t c = 0; c < in_g; ++c)
            for (std::size_t i = 0; i < KH; ++i)
              for (std::size_t j = 0; j < KW; ++j) {
                const long iy = long(oy * s.h) - long(p.h) + long(i * d.h);
                const long ix = long(ox * s.w) - long(p.w) + long(j * d.w);
                if (iy < 0 || ix < 0 || iy >= long(H) || ix >= long(W)) continue;
                acc += double(w(o, c, i, j)) * double(x(n, g * in_g + c, std::size_t(iy), std::size_t(ix)));
              }
          y(n, o, oy, ox) = T(acc);
        }
  return y;
}

// Every input value scattered through the kernel: y[n][g·out_g + co][iy·sh − ph + i·dh][...] +=
// x[n][ci][iy][ix] · w[ci][co][i][j], then the bias.
Array<double> conv_transpose2d_loops(const Array<double>& x, const Array<double>& w, const Array<double>* b, Size2 s,
                                     Size2 p, Size2 op, std::size_t groups, Size2 d) {
  const std::size_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
  const std::size_t out_g = w.shape()[1], KH = w.shape()[2], KW = w.shape()[3];
  const std::size_t in_g = C / groups, O = out_g * groups;
  const std::size_t OH = (H - 1) * s.h - 2 * p.h + d.h * (KH - 1) + op.h + 1;
  const std::size_t OW = (W - 1) * s.w - 2 * p.w + d.w * (KW - 1) + op.w + 1;
  Array<double> y = xt::zeros<double>({N, O, OH, OW});
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t ci = 0; ci < C; ++ci)
      for (std::size_t iy = 0; iy < H; ++iy)
        for (std::size_t ix = 0; ix < W; ++ix)
          for (std::size_t co = 0; co < out_g; ++co)
            for (std::size_t i = 0; i < KH; ++i)
              for (std::size_t j = 0; j < KW; ++j) {
                const long oy = long(iy * s.h) - long(p.h) + long(i * d.h);
                const long ox = long(ix * s.w) - long(p.w) + long(j * d.w);
                if (oy < 0 || ox < 0 || oy >= long(OH) || ox >= long(OW)) continue;
                y(n, (ci / in_g) * out_g + co, std::size_t(oy), std::size_t(ox)) += x(n, ci, iy, ix) * w(ci, co, i, j);
              }
  if (b) {
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t o = 0; o < O; ++o)
        for (std::size_t k = 0; k < OH * OW; ++k) y.data()[(n * O + o) * OH * OW + k] += (*b)(o);
  }
  return y;
}

void expect_near(const Array<double>& a, const Array<double>& b, double tol = 1e-12) {
  ASSERT_EQ(a.shape(), b.shape());
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a.data()[i], b.data()[i], tol) << "element " << i;
}

std::string name(const Case& c) {
  return "x(" + std::to_string(c.n) + "," + std::to_string(c.cin) + "," + std::to_string(c.h) + "," +
         std::to_string(c.w) + ") out " + std::to_string(c.cout) + " k" + std::to_string(c.kh) + "x" +
         std::to_string(c.kw) + " s" + tg::to_string(c.stride) + " p" + tg::to_string(c.padding) + " d" +
         tg::to_string(c.dilation) + " g" + std::to_string(c.groups) + (c.bias ? " bias" : "");
}

// The configurations every test runs: strides, paddings, dilations, groups (depthwise too), odd
// and non-square sizes, batch 1, 1×1 kernels (which multiply the image itself).
const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {2, 3, 5, 5, 4, 3, 3, 1, 0, 1, 1, true},
      {2, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, false},
      {1, 2, 7, 6, 3, 3, 2, {2, 1}, {1, 0}, 1, 1, true},
      {2, 2, 7, 7, 2, 3, 3, 2, 1, 2, 1, true},
      {3, 4, 6, 5, 6, 3, 3, 1, 1, 1, 2, true},
      {2, 4, 5, 5, 4, 3, 3, 1, 1, 1, 4, true},          // depthwise
      {1, 3, 5, 5, 6, 3, 3, 2, 1, 1, 3, false},         // depthwise, two filters per channel
      {2, 3, 4, 4, 5, 1, 1, 1, 0, 1, 1, true},          // 1×1: no im2col
      {2, 3, 5, 4, 2, 1, 1, 2, 0, 1, 1, true},          // 1×1, strided
      {1, 1, 9, 8, 3, 4, 3, {3, 2}, {2, 1}, {1, 2}, 1, true},
      {2, 1, 6, 6, 4, 3, 3, 1, 1, 1, 1, true},          // the first layer of the CNN, small
  };
  return c;
}

}  // namespace

TEST(Conv2d, HandComputed) {
  tg::Tape<double> tape;
  // A 3×3 image of 1..9, a 2×2 kernel of ones: each output is the sum of a 2×2 block.
  Array<double> x = xt::arange<double>(1, 10);
  x.reshape({1, 1, 3, 3});
  auto y = tg::conv2d(tape.constant(x), tape.constant(Array<double>(xt::ones<double>({1, 1, 2, 2}))));
  EXPECT_EQ(y.value(), (Array<double>{{{{12, 16}, {24, 28}}}}));
  // Padding 1, stride 2, bias 0.5: the corners see one value, the centre four.
  auto z = tg::conv2d(tape.constant(x), tape.constant(Array<double>(xt::ones<double>({1, 1, 2, 2}))),
                      tape.constant(Array<double>{0.5}), 2, 1);
  EXPECT_EQ(z.value(), (Array<double>{{{{1.5, 5.5}, {11.5, 28.5}}}}));
}

TEST(Conv2d, ForwardMatchesLoops) {
  tg::Rng rng(1);
  for (const Case& c : cases()) {
    SCOPED_TRACE(name(c));
    const Array<double> x = rng.normal<double>({c.n, c.cin, c.h, c.w});
    const Array<double> w = rng.normal<double>({c.cout, c.cin / std::size_t(c.groups), c.kh, c.kw});
    const Array<double> b = rng.normal<double>({c.cout});
    tg::Tape<double> tape;
    auto y = tg::conv2d(tape.constant(x), tape.constant(w), c.bias ? tape.constant(b) : tg::Var<double>(), c.stride,
                        c.padding, c.dilation, c.groups);
    expect_near(y.value(), conv2d_loops(x, w, c.bias ? &b : nullptr, c.stride, c.padding, c.dilation,
                                        std::size_t(c.groups)));
    // float agrees to float precision
    tg::Tape<float> tf;
    const Array<float> bf = xt::cast<float>(b);
    auto yf = tg::conv2d(tf.constant(xt::cast<float>(x)), tf.constant(xt::cast<float>(w)),
                         c.bias ? tf.constant(bf) : tg::Var<float>(), c.stride, c.padding, c.dilation, c.groups);
    const Array<double> yd = xt::cast<double>(yf.value());
    expect_near(yd, y.value(), 1e-4);
  }
}

TEST(Conv2d, Gradcheck) {
  tg::Rng rng(2);
  for (const Case& c : cases()) {
    SCOPED_TRACE(name(c));
    std::vector<Array<double>> in = {rng.normal<double>({c.n, c.cin, c.h, c.w}),
                                     rng.normal<double>({c.cout, c.cin / std::size_t(c.groups), c.kh, c.kw})};
    if (c.bias) in.push_back(rng.normal<double>({c.cout}));
    const auto r = tg::gradcheck(
        [&](const Vars& v) {
          return tg::conv2d(v[0], v[1], c.bias ? v[2] : tg::Var<double>(), c.stride, c.padding, c.dilation, c.groups);
        },
        in);
    EXPECT_TRUE(r.ok) << r.report();
  }
}

TEST(Conv2d, UnbatchedInputIsOneImage) {
  tg::Rng rng(3);
  const Array<double> x = rng.normal<double>({3, 6, 5});
  const Array<double> w = rng.normal<double>({4, 3, 3, 3});
  tg::Tape<double> tape;
  auto y = tg::conv2d(tape.constant(x), tape.constant(w), tg::Var<double>(), 1, 1);
  ASSERT_EQ(y.shape(), (tg::Shape{4, 6, 5}));
  Array<double> x4 = x;
  x4.reshape({1, 3, 6, 5});
  Array<double> want = conv2d_loops<double>(x4, w, nullptr, 1, 1, 1, 1);
  want.reshape({4, 6, 5});
  expect_near(y.value(), want);
  const auto r = tg::gradcheck([](const Vars& v) { return tg::conv2d(v[0], v[1], tg::Var<double>(), 2, 1); }, {x, w});
  EXPECT_TRUE(r.ok) << r.report();
}

TEST(Conv2d, FanOutAndFrozenInputs) {
  // The same value through two convolutions (gradients add), and inputs that need no gradient.
  tg::Rng rng(4);
  const auto r = tg::gradcheck(
      [](const Vars& v) {
        auto a = tg::conv2d(v[0], v[1], v[2], 1, 1);
        auto b = tg::conv2d(v[0], v[1], v[2], 2, 0);
        return tg::add(tg::sum(a), tg::sum(tg::mul(b, b)));
      },
      {rng.normal<double>({2, 2, 5, 5}), rng.normal<double>({3, 2, 3, 3}), rng.normal<double>({3})});
  EXPECT_TRUE(r.ok) << r.report();
  const auto frozen = tg::gradcheck(
      [](const Vars& v) { return tg::conv2d(v[0], v[1], v[2], 1, 1); },
      {rng.normal<double>({2, 2, 5, 5}), rng.normal<double>({3, 2, 3, 3}), rng.normal<double>({3})},
      tg::GradcheckOptions().requires_grad({false, true, false}));
  EXPECT_TRUE(frozen.ok) << frozen.report();
}

// The batch cut over threads (a convolution large enough to be cut) gives what one thread gives:
// the same forward and input gradient bit for bit (each image's products are the same calls), the
// weight and bias gradients to rounding (partial sums added in another order).
TEST(Conv2d, ThreadedBatchMatchesOneThread) {
  tg::Rng rng(5);
  const Array<float> x = rng.normal<float>({16, 16, 12, 12});
  const Array<float> w = rng.normal<float>({24, 8, 3, 3});
  const Array<float> b = rng.normal<float>({24});
  const Array<float> g = rng.normal<float>({16, 24, 12, 12});
  auto run = [&](int threads, Array<float>& y, Array<float>& dx, Array<float>& dw, Array<float>& db) {
    tg::set_num_threads(threads);
    tg::Tape<float> tape;
    tg::Parameter<float> px(x), pw(w), pb(b);
    auto out = tg::conv2d<float>(tape.bind(px), pw, pb, 1, 1, 1, 2);
    y = out.value();
    tape.backward(out, g);
    dx = px.grad();
    dw = pw.grad();
    db = pb.grad();
  };
  const int before = tg::num_threads();
  Array<float> y1, dx1, dw1, db1, y2, dx2, dw2, db2;
  run(1, y1, dx1, dw1, db1);
  run(2, y2, dx2, dw2, db2);
  tg::set_num_threads(before);
  EXPECT_EQ(y1, y2);    // each image's product is the same call
  EXPECT_EQ(dx1, dx2);
  EXPECT_TRUE(xt::allclose(dw1, dw2, 1e-4, 1e-3));  // partial sums added in another order
  EXPECT_TRUE(xt::allclose(db1, db2, 1e-4, 1e-3));
  // And the forward against the loops.
  const Array<double> yd = xt::cast<double>(y1);
  const Array<double> xd = xt::cast<double>(x), wd = xt::cast<double>(w), bd = xt::cast<double>(b);
  expect_near(yd, conv2d_loops(xd, wd, &bd, 1, 1, 1, 2), 1e-3);
}

// float runs on other kernels than double where they apply: the direct kernels (9, 18, 25 or 27
// input values per output at stride 1: first layers), the masked-row im2col/col2im (stride 1),
// and the float GEMM. Their values and gradients against double's, over the shapes each handles.
TEST(Conv2d, FloatPathsMatchDouble) {
  struct F {
    std::size_t n, cin, h, w, cout, k;
    Size2 padding, dilation;
    std::int64_t groups;
  };
  const std::vector<F> cases = {
      {3, 1, 28, 28, 8, 3, 1, 1, 1},    // the CNN's first layer: direct
      {2, 1, 9, 7, 5, 3, 0, 1, 1},      // direct, no padding, odd sizes, planes smaller than 16
      {2, 2, 11, 21, 4, 3, 1, 2, 1},    // direct, 18 taps, dilated, rows of two chunks
      {2, 1, 12, 10, 3, 5, 2, 1, 1},    // direct, 25 taps
      {80, 3, 10, 9, 6, 3, 1, 1, 1},    // direct, 27 taps, a batch cut over threads
      {2, 6, 14, 14, 4, 3, 1, 1, 2},    // direct per group (3 channels each)
      {4, 8, 14, 14, 16, 3, 1, 1, 1},   // GEMM with masked-row im2col/col2im
      {2, 4, 20, 33, 8, 3, {0, 2}, 1, 1},  // rows of three chunks
  };
  tg::Rng rng(9);
  for (const F& c : cases) {
    SCOPED_TRACE("case " + std::to_string(&c - cases.data()));
    const Array<double> x = rng.normal<double>({c.n, c.cin, c.h, c.w});
    const Array<double> w = rng.normal<double>({c.cout, c.cin / std::size_t(c.groups), c.k, c.k});
    const Array<double> b = rng.normal<double>({c.cout});
    tg::Parameter<double> xd(x), wd(w), bd(b);
    tg::Parameter<float> xf(xt::cast<float>(x)), wf(xt::cast<float>(w)), bf(xt::cast<float>(b));
    tg::Tape<double> td;
    tg::Tape<float> tf;
    auto yd = tg::conv2d<double>(td.bind(xd), wd, bd, 1, c.padding, c.dilation, c.groups);
    auto yf = tg::conv2d<float>(tf.bind(xf), wf, bf, 1, c.padding, c.dilation, c.groups);
    const Array<double> seed = rng.normal<double>(yd.shape());
    const Array<double> yfd = xt::cast<double>(yf.value());
    expect_near(yfd, yd.value(), 1e-4);
    td.backward(yd, seed);
    tf.backward(yf, Array<float>(xt::cast<float>(seed)));
    const Array<double> gx = xt::cast<double>(xf.grad()), gw = xt::cast<double>(wf.grad()), gb = xt::cast<double>(bf.grad());
    expect_near(gx, xd.grad(), 1e-3);
    expect_near(gw, wd.grad(), 1e-2 * (1 + xt::amax(xt::abs(wd.grad()))()));
    expect_near(gb, bd.grad(), 1e-2 * (1 + xt::amax(xt::abs(bd.grad()))()));
  }
}

// A batch of one large image: each product is cut over the pool instead (as kernels::gemm cuts).
TEST(Conv2d, OneLargeImageCutByProducts) {
  tg::Rng rng(10);
  const Array<float> x = rng.normal<float>({1, 16, 40, 40});
  const Array<float> w = rng.normal<float>({32, 16, 3, 3});
  const Array<float> g = rng.normal<float>({1, 32, 40, 40});
  auto run = [&](int threads, Array<float>& y, Array<float>& dx, Array<float>& dw) {
    tg::set_num_threads(threads);
    tg::Tape<float> tape;
    tg::Parameter<float> px(x), pw(w);
    auto out = tg::conv2d<float>(tape.bind(px), pw, tg::Var<float>(), 1, 1);
    y = out.value();
    tape.backward(out, g);
    dx = px.grad();
    dw = pw.grad();
  };
  const int before = tg::num_threads();
  Array<float> y1, dx1, dw1, y2, dx2, dw2;
  run(1, y1, dx1, dw1);
  run(2, y2, dx2, dw2);
  tg::set_num_threads(before);
  EXPECT_TRUE(xt::allclose(y1, y2, 1e-4, 1e-4));
  EXPECT_TRUE(xt::allclose(dx1, dx2, 1e-4, 1e-4));
  EXPECT_TRUE(xt::allclose(dw1, dw2, 1e-3, 1e-3));
  const Array<double> yd = xt::cast<double>(y1);
  const Array<double> xd = xt::cast<double>(x), wd = xt::cast<double>(w);
  expect_near(yd, conv2d_loops<double>(xd, wd, nullptr, 1, 1, 1, 1), 1e-3);
}

TEST(ConvTranspose2d, HandComputed) {
  tg::Tape<double> tape;
  // Stride 2, a 2×2 kernel of ones: each input value fills its own 2×2 block.
  auto y = tg::conv_transpose2d(tape.constant(Array<double>{{{{1, 2}, {3, 4}}}}),
                                tape.constant(Array<double>(xt::ones<double>({1, 1, 2, 2}))), tg::Var<double>(), 2);
  EXPECT_EQ(y.value(), (Array<double>{{{{1, 1, 2, 2}, {1, 1, 2, 2}, {3, 3, 4, 4}, {3, 3, 4, 4}}}}));
}

TEST(ConvTranspose2d, ForwardMatchesLoopsAndGradcheck) {
  struct TCase {
    std::size_t n, cin, h, w, out_g, kh, kw;
    Size2 stride, padding, output_padding;
    std::int64_t groups;
    Size2 dilation;
    bool bias;
  };
  const std::vector<TCase> cases = {
      {2, 3, 4, 4, 2, 3, 3, 1, 0, 0, 1, 1, true},
      {1, 2, 3, 5, 3, 3, 3, 2, 1, 1, 1, 1, true},
      {2, 4, 3, 3, 1, 3, 3, 2, 1, 0, 4, 1, false},      // depthwise
      {2, 4, 3, 4, 3, 2, 3, {2, 3}, {0, 1}, {1, 2}, 2, 1, true},
      {1, 2, 4, 3, 2, 3, 2, 1, 1, 0, 1, 2, true},       // dilated
      {2, 3, 3, 3, 2, 1, 1, 1, 0, 0, 1, 1, true},       // 1×1
      {1, 2, 3, 3, 2, 3, 3, 1, 0, {0, 1}, 1, 2, false}, // output padding below the dilation
  };
  tg::Rng rng(6);
  for (const TCase& c : cases) {
    SCOPED_TRACE("conv_transpose2d case " + std::to_string(&c - cases.data()));
    const Array<double> x = rng.normal<double>({c.n, c.cin, c.h, c.w});
    const Array<double> w = rng.normal<double>({c.cin, c.out_g, c.kh, c.kw});
    const Array<double> b = rng.normal<double>({c.out_g * std::size_t(c.groups)});
    tg::Tape<double> tape;
    auto y = tg::conv_transpose2d(tape.constant(x), tape.constant(w), c.bias ? tape.constant(b) : tg::Var<double>(),
                                  c.stride, c.padding, c.output_padding, c.groups, c.dilation);
    expect_near(y.value(), conv_transpose2d_loops(x, w, c.bias ? &b : nullptr, c.stride, c.padding, c.output_padding,
                                                  std::size_t(c.groups), c.dilation));
    std::vector<Array<double>> in = {x, w};
    if (c.bias) in.push_back(b);
    const auto r = tg::gradcheck(
        [&](const Vars& v) {
          return tg::conv_transpose2d(v[0], v[1], c.bias ? v[2] : tg::Var<double>(), c.stride, c.padding,
                                      c.output_padding, c.groups, c.dilation);
        },
        in);
    EXPECT_TRUE(r.ok) << r.report();
  }
}

TEST(ConvTranspose2d, IsTheInputGradientOfConv2d) {
  // <conv2d(x, w), y> = <x, conv_transpose2d(y, w)> for the same stride, padding and groups.
  tg::Rng rng(7);
  const Array<double> x = rng.normal<double>({2, 4, 7, 7});
  const Array<double> w = rng.normal<double>({6, 2, 3, 3});
  tg::Tape<double> tape;
  auto cx = tg::conv2d(tape.constant(x), tape.constant(w), tg::Var<double>(), 2, 1, 1, 2);
  const Array<double> y = rng.normal<double>(cx.shape());
  auto ty = tg::conv_transpose2d(tape.constant(y), tape.constant(w), tg::Var<double>(), 2, 1, 0, 2);
  ASSERT_EQ(ty.shape(), x.shape());
  EXPECT_NEAR(xt::sum(cx.value() * y)(), xt::sum(x * ty.value())(), 1e-9);
}
