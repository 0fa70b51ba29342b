// conv2d and conv_transpose2d: each image of the batch lowered onto matrix products (im2col /
// col2im, src/detail/im2col.hpp), the batch cut into one slice per thread of tapegrad's pool.
//
// conv2d, for image n and group g (W_g: the group's rows of the weight, (out_g, in_g·kh·kw)):
//   forward   y[n, g] = W_g · col(x[n, g])                         (+ bias, written first)
//   backward  dW_g   += dy[n, g] · col(x[n, g])ᵀ                     (col recomputed: cheaper than
//             dx[n, g] += col2im(W_gᵀ · dy[n, g])                     keeping it for the batch)
//             db     += the sums of dy[n] over its positions
// conv_transpose2d is the same machinery run backwards: its forward is conv2d's input gradient,
// its input gradient conv2d's forward, both with the weight of shape (in, out_g, kh, kw).
//
// Each thread works on its own images with its own column buffers and its own partial weight
// and bias gradients, which are added up at the end in a fixed order: the same thread count gives
// the same bits. The buffers come from the tape (Op::save for the forward, Backward::scratch
// for the backward) and are kept across steps: no allocation after the first step.
#include "tapegrad/conv.hpp"

#include <algorithm>
#include <type_traits>

#include "detail/conv_direct.hpp"
#include "detail/gemm_serial.hpp"
#include "detail/im2col.hpp"
#include "instantiate.hpp"
#include "tapegrad/parallel.hpp"

namespace tapegrad {

namespace {

using detail::ConvGeometry;

// The products of one slice of the batch: on the slice's thread when the batch is cut over the
// pool (parts > 1), else each product is cut over the pool itself (a batch of one large image).
template <class T>
void product(int parts, bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const T* a, std::size_t lda,
             const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  if (parts > 1) {
    detail::gemm_serial<T>(ta, tb, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
  } else {
    detail::gemm_pooled<T>(ta, tb, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
  }
}

// Below this many multiply-adds a convolution runs on the calling thread.
constexpr std::size_t kParallelConv = std::size_t(1) << 20;

// A checked convolution: the batch, the groups, and one group's geometry (for conv2d the image
// that im2col reads is the input; for conv_transpose2d it is the output).
struct ConvPlan {
  std::size_t n = 1;         // images
  std::size_t groups = 1;
  std::size_t in_g = 1;      // input channels per group
  std::size_t out_g = 1;     // output channels per group
  ConvGeometry geo;          // geo.channels: the channels of one group of the im2col'd image
  std::size_t in_plane = 1;  // h·w of the input, and of the output
  std::size_t out_plane = 1;
  bool batched = true;
  int parts = 1;             // threads the batch is cut into
  std::size_t out_channels() const noexcept { return out_g * groups; }
  std::size_t in_channels() const noexcept { return in_g * groups; }
};

std::string shape_str(const Shape& s) { return to_string(s); }

void check_hyper(const char* op, const Size2& stride, const Size2& padding, const Size2& dilation,
                 std::int64_t groups) {
  TG_CHECK(ValueError, stride.h >= 1 && stride.w >= 1, op, ": stride must be positive, got ", to_string(stride));
  TG_CHECK(ValueError, padding.h >= 0 && padding.w >= 0, op, ": padding must be non-negative, got ",
           to_string(padding));
  TG_CHECK(ValueError, dilation.h >= 1 && dilation.w >= 1, op, ": dilation must be positive, got ",
           to_string(dilation));
  TG_CHECK(ValueError, groups >= 1, op, ": groups must be positive, got ", groups);
}

// The input's rank, the weight's rank, channels against weight and groups, and the bias.
// `weight_in_dim` is the weight dimension that holds input channels (0 transposed, 1 not) — the
// other holds the output channels (transposed: per group).
template <class T>
void check_operands(const char* op, const Array<T>& x, const Array<T>& w, const Array<T>* b, std::int64_t groups,
                    bool transposed, ConvPlan& p) {
  TG_CHECK(ShapeError, x.dimension() == 3 || x.dimension() == 4, op, ": input ", shape_str(x.shape()),
           " must be 3-D (C, H, W) or 4-D (N, C, H, W)");
  TG_CHECK(ShapeError, w.dimension() == 4, op, ": weight ", shape_str(w.shape()), " must be 4-D ",
           transposed ? "(in_channels, out_channels / groups, kH, kW)" : "(out_channels, in_channels / groups, kH, kW)");
  p.batched = x.dimension() == 4;
  const std::size_t off = p.batched ? 1 : 0;
  p.n = p.batched ? x.shape()[0] : 1;
  const std::size_t channels = x.shape()[off];
  const auto g = std::size_t(groups);
  p.groups = g;
  if (!transposed) {
    TG_CHECK(ShapeError, w.shape()[0] % g == 0, op, ": weight ", shape_str(w.shape()), " has ", w.shape()[0],
             " output channels, not divisible by groups ", groups);
    TG_CHECK(ShapeError, channels == w.shape()[1] * g, op, ": input ", shape_str(x.shape()), " has ", channels,
             " channels, but weight ", shape_str(w.shape()), " with groups ", groups, " expects ", w.shape()[1] * g,
             channels % g != 0 ? " (the input channels are not divisible by groups)" : "");
    p.in_g = w.shape()[1];
    p.out_g = w.shape()[0] / g;
  } else {
    TG_CHECK(ShapeError, w.shape()[0] % g == 0, op, ": weight ", shape_str(w.shape()), " has ", w.shape()[0],
             " input channels, not divisible by groups ", groups);
    TG_CHECK(ShapeError, channels == w.shape()[0], op, ": input ", shape_str(x.shape()), " has ", channels,
             " channels, but weight ", shape_str(w.shape()), " expects ", w.shape()[0],
             channels % g != 0 ? " (the input channels are not divisible by groups)" : "");
    p.in_g = w.shape()[0] / g;
    p.out_g = w.shape()[1];
  }
  if (b != nullptr) {
    TG_CHECK(ShapeError, b->dimension() == 1 && b->shape()[0] == p.out_channels(), op, ": bias ",
             shape_str(b->shape()), " does not fit weight ", shape_str(w.shape()), " with groups ", groups,
             "; expected (", p.out_channels(), ",)");
  }
}

// How many threads to cut the batch into.
int plan_parts(std::size_t images, std::size_t macs) {
  if (images < 2 || macs < kParallelConv) return 1;
  return int(std::min<std::size_t>(std::size_t(num_threads()), images));
}

// Runs f(part, begin, end) over the images cut into p.parts slices.
template <class Job>
void for_each_slice(int parts, std::size_t images, const Job& job) {
  if (parts <= 1) {
    job(0, 0, images);
    return;
  }
  struct Ctx {
    const Job* job;
    std::size_t images;
    int parts;
  };
  const Ctx ctx{&job, images, parts};
  detail::run_parallel(parts, [](const void* c, int part) noexcept {
    const Ctx& x = *static_cast<const Ctx*>(c);
    const std::size_t begin = detail::slice_begin(x.images, std::size_t(part), std::size_t(x.parts), 1);
    const std::size_t end = detail::slice_begin(x.images, std::size_t(part) + 1, std::size_t(x.parts), 1);
    (*x.job)(part, begin, end);
  }, &ctx);
}

// rows × plane values starting at y, each row set to its bias (or 0).
template <class T>
void fill_rows(T* y, std::size_t rows, std::size_t plane, const T* bias) {
  for (std::size_t r = 0; r < rows; ++r) std::fill(y + r * plane, y + (r + 1) * plane, bias ? bias[r] : T(0));
}

// out (+)= the sum over parts of partial[part] (each of `size` values).
template <class T>
void add_partials(const T* partial, std::size_t parts, std::size_t size, T* out, bool add) {
  for (std::size_t i = 0; i < size; ++i) {
    T s = add ? out[i] : T(0);
    for (std::size_t p = 0; p < parts; ++p) s += partial[p * size + i];
    out[i] = s;
  }
}

// The sum of n values in 16 interleaved partial sums, added up at the end: a fixed order (the
// same bits from run to run), and 16 independent additions instead of one chain of dependent ones,
// which the compiler may not reorder into vector code itself (float addition is not associative).
template <class T>
T sum16(const T* r, std::size_t n) {
  T part[16] = {};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (std::size_t k = 0; k < 16; ++k) part[k] += r[i + k];
  }
  for (std::size_t k = 0; i < n; ++i, ++k) part[k] += r[i];
  T s = 0;
  for (std::size_t k = 0; k < 16; ++k) s += part[k];
  return s;
}

// db[part][c] += Σ over the positions of dy[n, c] for the images of a slice.
template <class T>
void bias_sums(const T* dy, std::size_t begin, std::size_t end, std::size_t channels, std::size_t plane, T* db) {
  for (std::size_t n = begin; n < end; ++n) {
    for (std::size_t c = 0; c < channels; ++c) db[c] += sum16(dy + (n * channels + c) * plane, plane);
  }
}

// The scalars a rule needs beyond its inputs' shapes.
enum Scalar { kSh, kSw, kPh, kPw, kDh, kDw, kGroups, kOph, kOpw };

template <class T>
void save_hyper(Op<T>& op, const Size2& stride, const Size2& padding, const Size2& dilation, std::int64_t groups) {
  op.save_scalar(kSh, double(stride.h));
  op.save_scalar(kSw, double(stride.w));
  op.save_scalar(kPh, double(padding.h));
  op.save_scalar(kPw, double(padding.w));
  op.save_scalar(kDh, double(dilation.h));
  op.save_scalar(kDw, double(dilation.w));
  op.save_scalar(kGroups, double(groups));
}

// ---- conv2d ----------------------------------------------------------------------------------

// Whether conv2d runs on the direct kernels (few input values per output: see conv_direct.hpp).
template <class T>
bool use_direct(const ConvGeometry& g) {
  if constexpr (std::is_same_v<T, float>) {
    return detail::direct_conv_applies(g);
  } else {
    (void)g;
    return false;
  }
}

// The plan of conv2d for input x and weight w, after every check.
template <class T>
ConvPlan conv2d_plan(const char* op, const Array<T>& x, const Array<T>& w, const Array<T>* b, Size2 stride,
                     Size2 padding, Size2 dilation, std::int64_t groups) {
  check_hyper(op, stride, padding, dilation, groups);
  ConvPlan p;
  check_operands(op, x, w, b, groups, false, p);
  const std::size_t off = p.batched ? 1 : 0;
  ConvGeometry& g = p.geo;
  g.channels = p.in_g;
  g.ih = x.shape()[off + 1];
  g.iw = x.shape()[off + 2];
  g.kh = w.shape()[2];
  g.kw = w.shape()[3];
  g.sh = std::size_t(stride.h), g.sw = std::size_t(stride.w);
  g.ph = std::size_t(padding.h), g.pw = std::size_t(padding.w);
  g.dh = std::size_t(dilation.h), g.dw = std::size_t(dilation.w);
  const std::size_t eh = g.dh * (g.kh - 1) + 1, ew = g.dw * (g.kw - 1) + 1;  // the dilated kernel
  const std::size_t ph = g.ih + 2 * g.ph, pw = g.iw + 2 * g.pw;              // the padded input
  TG_CHECK(ShapeError, g.kh > 0 && g.kw > 0 && ph >= eh && pw >= ew, op, ": input ", shape_str(x.shape()),
           " padded by ", to_string(padding), " is ", ph, " x ", pw, ", smaller than the kernel ", eh, " x ", ew,
           " of weight ", shape_str(w.shape()), " (dilation ", to_string(dilation), ")");
  g.oh = (ph - eh) / g.sh + 1;
  g.ow = (pw - ew) / g.sw + 1;
  p.in_plane = g.ih * g.iw;
  p.out_plane = g.oh * g.ow;
  p.parts = plan_parts(p.n, p.n * p.out_channels() * g.rows() * p.out_plane);
  return p;
}

// The plan again, in backward, from the inputs' shapes and the saved scalars.
template <class T>
ConvPlan conv2d_replan(const Backward<T>& b) {
  const Size2 stride(std::int64_t(b.scalar(kSh)), std::int64_t(b.scalar(kSw)));
  const Size2 padding(std::int64_t(b.scalar(kPh)), std::int64_t(b.scalar(kPw)));
  const Size2 dilation(std::int64_t(b.scalar(kDh)), std::int64_t(b.scalar(kDw)));
  return conv2d_plan<T>("conv2d", b.input(0), b.input(1), nullptr, stride, padding, dilation,
                        std::int64_t(b.scalar(kGroups)));
}

template <class T>
void conv2d_forward(const ConvPlan& p, const T* x, const T* w, const T* bias, T* y, T* cols) {
  const ConvGeometry& g = p.geo;
  const std::size_t rows = g.rows(), ohw = p.out_plane;
  const bool direct = g.identity();
  for_each_slice(p.parts, p.n, [&](int part, std::size_t begin, std::size_t end) {
    if constexpr (std::is_same_v<T, float>) {
      if (use_direct<T>(g)) {
        for (std::size_t gi = 0; gi < p.groups; ++gi) {
          detail::direct_conv_forward(x + (begin * p.in_channels() + gi * p.in_g) * p.in_plane,
                                      p.in_channels() * p.in_plane, w + gi * p.out_g * rows,
                                      bias ? bias + gi * p.out_g : nullptr, p.out_g, g,
                                      y + (begin * p.out_channels() + gi * p.out_g) * ohw, p.out_channels() * ohw,
                                      end - begin);
        }
        return;
      }
    }
    T* col = cols + std::size_t(part) * rows * ohw;
    for (std::size_t n = begin; n < end; ++n) {
      for (std::size_t gi = 0; gi < p.groups; ++gi) {
        const T* xg = x + (n * p.in_channels() + gi * p.in_g) * p.in_plane;
        T* yg = y + (n * p.out_channels() + gi * p.out_g) * ohw;
        const T* src = xg;
        if (!direct) {
          detail::im2col(xg, g, col);
          src = col;
        }
        if (bias) fill_rows(yg, p.out_g, ohw, bias + gi * p.out_g);
        product<T>(p.parts, false, false, p.out_g, ohw, rows, w + gi * p.out_g * rows, rows, src, ohw,
                       bias ? T(1) : T(0), yg, ohw);
      }
    }
  });
}

template <class T>
void conv2d_backward(Backward<T>& b) {
  const ConvPlan p = conv2d_replan(b);
  const ConvGeometry& g = p.geo;
  const std::size_t rows = g.rows(), ohw = p.out_plane, parts = std::size_t(p.parts);
  const bool need_x = b.needs_grad(0), need_w = b.needs_grad(1);
  const bool need_b = b.n_inputs() > 2 && b.needs_grad(2);
  const bool direct = g.identity();
  const bool direct_w = need_w && use_direct<T>(g);  // dW and db on the direct kernels
  const T* x = b.input(0).data();
  const T* w = b.input(1).data();
  const T* dy = b.grad_out().data();

  // Column buffers, and partial gradients for every thread but the first, which writes into the
  // gradient itself.
  T* col = need_w && !direct && !direct_w ? b.scratch({parts, rows, ohw}).data() : nullptr;
  T* dcol = need_x && !direct ? b.scratch({parts, rows, ohw}).data() : nullptr;
  const std::size_t w_size = p.out_channels() * rows;
  T* dw_part = need_w && parts > 1 ? b.scratch({parts - 1, w_size}).data() : nullptr;
  T* db_part = need_b ? b.scratch({parts, p.out_channels()}).data() : nullptr;
  if (db_part) std::fill(db_part, db_part + parts * p.out_channels(), T(0));
  T* dx = nullptr;
  bool dx_add = false, dw_add = false;
  T* dw = nullptr;
  if (need_x) {
    auto t = b.grad_target(0);
    dx = t.grad.data();
    dx_add = t.add;
  }
  if (need_w) {
    auto t = b.grad_target(1);
    dw = t.grad.data();
    dw_add = t.add;
  }

  for_each_slice(p.parts, p.n, [&](int part, std::size_t begin, std::size_t end) {
    T* my_col = col ? col + std::size_t(part) * rows * ohw : nullptr;
    T* my_dcol = dcol ? dcol + std::size_t(part) * rows * ohw : nullptr;
    T* my_dw = part == 0 ? dw : dw_part + std::size_t(part - 1) * w_size;
    bool first = true;  // this slice's first image overwrites its partial weight gradient
    if constexpr (std::is_same_v<T, float>) {
      if (direct_w) {  // the direct kernels add up the slice's images
        if (!(part == 0 && dw_add)) std::fill(my_dw, my_dw + w_size, T(0));
        for (std::size_t gi = 0; gi < p.groups; ++gi) {
          detail::direct_conv_weight_grad(x + (begin * p.in_channels() + gi * p.in_g) * p.in_plane,
                                          p.in_channels() * p.in_plane,
                                          dy + (begin * p.out_channels() + gi * p.out_g) * ohw,
                                          p.out_channels() * ohw, p.out_g, g, my_dw + gi * p.out_g * rows,
                                          need_b ? db_part + std::size_t(part) * p.out_channels() + gi * p.out_g
                                                 : nullptr,
                                          end - begin);
        }
        first = false;
      }
    }
    for (std::size_t n = begin; n < end; ++n) {
      for (std::size_t gi = 0; gi < p.groups; ++gi) {
        const T* xg = x + (n * p.in_channels() + gi * p.in_g) * p.in_plane;
        const T* dyg = dy + (n * p.out_channels() + gi * p.out_g) * ohw;
        const T* wg = w + gi * p.out_g * rows;
        if (need_w && !direct_w) {
          const T* src = xg;
          if (!direct) {
            detail::im2col(xg, g, my_col);
            src = my_col;
          }
          const bool overwrite = first && !(part == 0 && dw_add);
          product<T>(p.parts, false, true, p.out_g, rows, ohw, dyg, ohw, src, ohw, overwrite ? T(0) : T(1),
                         my_dw + gi * p.out_g * rows, rows);
        }
        if (need_x) {
          T* dxg = dx + (n * p.in_channels() + gi * p.in_g) * p.in_plane;
          if (direct) {
            product<T>(p.parts, true, false, rows, ohw, p.out_g, wg, rows, dyg, ohw, dx_add ? T(1) : T(0), dxg, ohw);
          } else {
            product<T>(p.parts, true, false, rows, ohw, p.out_g, wg, rows, dyg, ohw, T(0), my_dcol, ohw);
            detail::col2im(my_dcol, g, dxg, dx_add);
          }
        }
      }
      first = false;
    }
    if (need_w && first && !(part == 0 && dw_add)) std::fill(my_dw, my_dw + w_size, T(0));  // an empty slice
    if (need_b && !direct_w) {
      bias_sums(dy, begin, end, p.out_channels(), ohw, db_part + std::size_t(part) * p.out_channels());
    }
  });

  if (need_w && parts > 1) add_partials(dw_part, parts - 1, w_size, dw, true);
  if (need_b) {
    auto t = b.grad_target(2);
    add_partials(db_part, parts, p.out_channels(), t.grad.data(), t.add);
  }
}

template <class T>
Var<T> conv2d_record(Op<T>& op, bool has_bias, Size2 stride, Size2 padding, Size2 dilation, std::int64_t groups) {
  const Array<T>& x = op.input(0);
  const Array<T>& w = op.input(1);
  const Array<T>* bias = has_bias ? &op.input(2) : nullptr;
  const ConvPlan p = conv2d_plan("conv2d", x, w, bias, stride, padding, dilation, groups);
  const Shape out = p.batched ? Shape{p.n, p.out_channels(), p.geo.oh, p.geo.ow}
                              : Shape{p.out_channels(), p.geo.oh, p.geo.ow};
  Array<T>& y = op.output(out);
  T* cols = p.geo.identity() || use_direct<T>(p.geo)
                ? nullptr
                : op.save(0, {std::size_t(p.parts), p.geo.rows(), p.out_plane}).data();
  save_hyper(op, stride, padding, dilation, groups);
  conv2d_forward<T>(p, x.data(), w.data(), bias ? bias->data() : nullptr, y.data(), cols);
  return op.finish(conv2d_backward<T>);
}

// ---- conv_transpose2d ---------------------------------------------------------------------------

// The plan of conv_transpose2d: geo is the geometry of the conv2d whose input gradient this is,
// from the output (the image im2col reads) to the input (its output positions).
template <class T>
ConvPlan conv_transpose2d_plan(const char* op, const Array<T>& x, const Array<T>& w, const Array<T>* b, Size2 stride,
                               Size2 padding, Size2 output_padding, std::int64_t groups, Size2 dilation) {
  check_hyper(op, stride, padding, dilation, groups);
  TG_CHECK(ValueError, output_padding.h >= 0 && output_padding.w >= 0, op,
           ": output_padding must be non-negative, got ", to_string(output_padding));
  TG_CHECK(ValueError,
           (output_padding.h < stride.h || output_padding.h < dilation.h) &&
               (output_padding.w < stride.w || output_padding.w < dilation.w),
           op, ": output_padding ", to_string(output_padding), " must be smaller than either the stride ",
           to_string(stride), " or the dilation ", to_string(dilation));
  ConvPlan p;
  check_operands(op, x, w, b, groups, true, p);
  const std::size_t off = p.batched ? 1 : 0;
  ConvGeometry& g = p.geo;
  g.channels = p.out_g;
  g.oh = x.shape()[off + 1];
  g.ow = x.shape()[off + 2];
  g.kh = w.shape()[2];
  g.kw = w.shape()[3];
  g.sh = std::size_t(stride.h), g.sw = std::size_t(stride.w);
  g.ph = std::size_t(padding.h), g.pw = std::size_t(padding.w);
  g.dh = std::size_t(dilation.h), g.dw = std::size_t(dilation.w);
  const std::int64_t h = (std::int64_t(g.oh) - 1) * stride.h - 2 * padding.h + dilation.h * (std::int64_t(g.kh) - 1) +
                         output_padding.h + 1;
  const std::int64_t wd = (std::int64_t(g.ow) - 1) * stride.w - 2 * padding.w +
                          dilation.w * (std::int64_t(g.kw) - 1) + output_padding.w + 1;
  TG_CHECK(ShapeError, g.oh > 0 && g.ow > 0 && h > 0 && wd > 0, op, ": input ", shape_str(x.shape()),
           " with weight ", shape_str(w.shape()), ", stride ", to_string(stride), ", padding ", to_string(padding),
           ", output_padding ", to_string(output_padding), " and dilation ", to_string(dilation),
           " gives an empty output (", h, " x ", wd, ")");
  g.ih = std::size_t(h);
  g.iw = std::size_t(wd);
  p.in_plane = g.oh * g.ow;   // the op's input positions
  p.out_plane = g.ih * g.iw;  // the op's output positions
  p.parts = plan_parts(p.n, p.n * p.in_channels() * g.rows() * p.in_plane);
  return p;
}

template <class T>
ConvPlan conv_transpose2d_replan(const Backward<T>& b) {
  const Size2 stride(std::int64_t(b.scalar(kSh)), std::int64_t(b.scalar(kSw)));
  const Size2 padding(std::int64_t(b.scalar(kPh)), std::int64_t(b.scalar(kPw)));
  const Size2 dilation(std::int64_t(b.scalar(kDh)), std::int64_t(b.scalar(kDw)));
  const Size2 output_padding(std::int64_t(b.scalar(kOph)), std::int64_t(b.scalar(kOpw)));
  return conv_transpose2d_plan<T>("conv_transpose2d", b.input(0), b.input(1), nullptr, stride, padding,
                                  output_padding, std::int64_t(b.scalar(kGroups)), dilation);
}

template <class T>
void conv_transpose2d_forward(const ConvPlan& p, const T* x, const T* w, const T* bias, T* y, T* cols) {
  const ConvGeometry& g = p.geo;
  const std::size_t rows = g.rows(), hw = p.in_plane;
  const bool direct = g.identity();
  for_each_slice(p.parts, p.n, [&](int part, std::size_t begin, std::size_t end) {
    T* col = cols ? cols + std::size_t(part) * rows * hw : nullptr;
    for (std::size_t n = begin; n < end; ++n) {
      for (std::size_t gi = 0; gi < p.groups; ++gi) {
        const T* xg = x + (n * p.in_channels() + gi * p.in_g) * hw;
        T* yg = y + (n * p.out_channels() + gi * p.out_g) * p.out_plane;
        const T* wg = w + gi * p.in_g * rows;
        if (bias) fill_rows(yg, p.out_g, p.out_plane, bias + gi * p.out_g);
        if (direct) {
          product<T>(p.parts, true, false, rows, hw, p.in_g, wg, rows, xg, hw, bias ? T(1) : T(0), yg, hw);
        } else {
          product<T>(p.parts, true, false, rows, hw, p.in_g, wg, rows, xg, hw, T(0), col, hw);
          detail::col2im(col, g, yg, bias != nullptr);
        }
      }
    }
  });
}

template <class T>
void conv_transpose2d_backward(Backward<T>& b) {
  const ConvPlan p = conv_transpose2d_replan(b);
  const ConvGeometry& g = p.geo;
  const std::size_t rows = g.rows(), hw = p.in_plane, parts = std::size_t(p.parts);
  const bool need_x = b.needs_grad(0), need_w = b.needs_grad(1);
  const bool need_b = b.n_inputs() > 2 && b.needs_grad(2);
  const bool direct = g.identity();
  const T* x = b.input(0).data();
  const T* w = b.input(1).data();
  const T* dy = b.grad_out().data();

  T* col = (need_w || need_x) && !direct ? b.scratch({parts, rows, hw}).data() : nullptr;
  const std::size_t w_size = p.in_channels() * rows;
  T* dw_part = need_w && parts > 1 ? b.scratch({parts - 1, w_size}).data() : nullptr;
  T* db_part = need_b ? b.scratch({parts, p.out_channels()}).data() : nullptr;
  if (db_part) std::fill(db_part, db_part + parts * p.out_channels(), T(0));
  T* dx = nullptr;
  T* dw = nullptr;
  bool dx_add = false, dw_add = false;
  if (need_x) {
    auto t = b.grad_target(0);
    dx = t.grad.data();
    dx_add = t.add;
  }
  if (need_w) {
    auto t = b.grad_target(1);
    dw = t.grad.data();
    dw_add = t.add;
  }

  for_each_slice(p.parts, p.n, [&](int part, std::size_t begin, std::size_t end) {
    T* my_col = col ? col + std::size_t(part) * rows * hw : nullptr;
    T* my_dw = part == 0 ? dw : dw_part + std::size_t(part - 1) * w_size;
    bool first = true;
    for (std::size_t n = begin; n < end; ++n) {
      for (std::size_t gi = 0; gi < p.groups; ++gi) {
        const T* xg = x + (n * p.in_channels() + gi * p.in_g) * hw;
        const T* dyg = dy + (n * p.out_channels() + gi * p.out_g) * p.out_plane;
        const T* wg = w + gi * p.in_g * rows;
        const T* src = dyg;
        if (!direct) {
          detail::im2col(dyg, g, my_col);
          src = my_col;
        }
        if (need_x) {  // dx = W_g · col(dy)
          T* dxg = dx + (n * p.in_channels() + gi * p.in_g) * hw;
          product<T>(p.parts, false, false, p.in_g, hw, rows, wg, rows, src, hw, dx_add ? T(1) : T(0), dxg, hw);
        }
        if (need_w) {  // dW_g += x_g · col(dy)ᵀ
          const bool overwrite = first && !(part == 0 && dw_add);
          product<T>(p.parts, false, true, p.in_g, rows, hw, xg, hw, src, hw, overwrite ? T(0) : T(1),
                         my_dw + gi * p.in_g * rows, rows);
        }
      }
      first = false;
    }
    if (need_w && first && !(part == 0 && dw_add)) std::fill(my_dw, my_dw + w_size, T(0));
    if (need_b) bias_sums(dy, begin, end, p.out_channels(), p.out_plane, db_part + std::size_t(part) * p.out_channels());
  });

  if (need_w && parts > 1) add_partials(dw_part, parts - 1, w_size, dw, true);
  if (need_b) {
    auto t = b.grad_target(2);
    add_partials(db_part, parts, p.out_channels(), t.grad.data(), t.add);
  }
}

template <class T>
Var<T> conv_transpose2d_record(Op<T>& op, bool has_bias, Size2 stride, Size2 padding, Size2 output_padding,
                               std::int64_t groups, Size2 dilation) {
  const Array<T>& x = op.input(0);
  const Array<T>& w = op.input(1);
  const Array<T>* bias = has_bias ? &op.input(2) : nullptr;
  const ConvPlan p =
      conv_transpose2d_plan("conv_transpose2d", x, w, bias, stride, padding, output_padding, groups, dilation);
  const Shape out = p.batched ? Shape{p.n, p.out_channels(), p.geo.ih, p.geo.iw}
                              : Shape{p.out_channels(), p.geo.ih, p.geo.iw};
  Array<T>& y = op.output(out);
  T* cols = p.geo.identity() ? nullptr : op.save(0, {std::size_t(p.parts), p.geo.rows(), p.in_plane}).data();
  save_hyper(op, stride, padding, dilation, groups);
  op.save_scalar(kOph, double(output_padding.h));
  op.save_scalar(kOpw, double(output_padding.w));
  conv_transpose2d_forward<T>(p, x.data(), w.data(), bias ? bias->data() : nullptr, y.data(), cols);
  return op.finish(conv_transpose2d_backward<T>);
}

}  // namespace

template <class T>
Var<T> conv2d(const Var<T>& input, const Var<T>& weight, const Var<T>& bias, Size2 stride, Size2 padding,
              Size2 dilation, std::int64_t groups) {
  if (bias.defined()) {
    Op<T> op("conv2d", {input, weight, bias});
    return conv2d_record(op, true, stride, padding, dilation, groups);
  }
  Op<T> op("conv2d", {input, weight});
  return conv2d_record(op, false, stride, padding, dilation, groups);
}

template <class T>
Var<T> conv_transpose2d(const Var<T>& input, const Var<T>& weight, const Var<T>& bias, Size2 stride, Size2 padding,
                        Size2 output_padding, std::int64_t groups, Size2 dilation) {
  if (bias.defined()) {
    Op<T> op("conv_transpose2d", {input, weight, bias});
    return conv_transpose2d_record(op, true, stride, padding, output_padding, groups, dilation);
  }
  Op<T> op("conv_transpose2d", {input, weight});
  return conv_transpose2d_record(op, false, stride, padding, output_padding, groups, dilation);
}

#define TAPEGRAD_SECTION(T)                                                                                     \
  template Var<T> conv2d(const Var<T>&, const Var<T>&, const Var<T>&, Size2, Size2, Size2, std::int64_t);      \
  template Var<T> conv_transpose2d(const Var<T>&, const Var<T>&, const Var<T>&, Size2, Size2, Size2, std::int64_t, \
                                   Size2);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad
