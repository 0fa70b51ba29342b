// The fused recurrent ops: one op per layer (both directions), and the copy ops that read the
// output sequence and the final states out of a layer's result.
//
// A layer's result P is packed, shape (D, R, B, H): per direction d the rows (each B x H) of
// every hidden state, its initial one included, and for an LSTM the final cell state:
//   forward  (d = 0): row 0 = h0, row t + 1 = h_t, row T + 1 = c_{T-1}
//   reverse  (d = 1): row t = h_t, row T = h0,    row T + 1 = c_0 (its last step's)
// so that h_{t-1} as the step at t reads it is row t (forward) or t + 1 (reverse), and the
// T rows of "previous" states are one contiguous (T·B, H) matrix for dW_hh = Σ_t dG_tᵀ h_prev.
// The next layer reads the T output rows of each direction straight from P (no copy);
// `output`, `h_n` and `c_n` are strided copies (op "rnn_unpack") whose backward adds into P's
// gradient. One op cannot have several outputs on the tape, and this is how the final c
// gets its gradient into the layer.
#include "tapegrad/rnn.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "detail/fastmath.hpp"
#include "detail/gather.hpp"
#include "detail/rnn_impl.hpp"
#include "instantiate.hpp"
#include "tapegrad/kernels.hpp"
#include "tapegrad/regularization.hpp"

namespace tapegrad {

using detail::concat;

const char* to_string(RNNMode mode) noexcept {
  switch (mode) {
    case RNNMode::rnn_tanh: return "rnn_tanh";
    case RNNMode::rnn_relu: return "rnn_relu";
    case RNNMode::lstm: return "lstm";
    case RNNMode::gru: return "gru";
  }
  return "rnn";
}

std::size_t gate_count(RNNMode mode) noexcept {
  switch (mode) {
    case RNNMode::lstm: return 4;
    case RNNMode::gru: return 3;
    default: return 1;
  }
}

namespace {

using detail::FastMath;
using detail::Piece;
using detail::scratch_pieces;

// Where a layer reads its input from.
enum class InputKind { time_major = 0, batch_first = 1, packed = 2 };

// Everything the layer op and its rule need, kept in the entry's scalars.
struct Dims {
  RNNMode mode = RNNMode::lstm;
  std::size_t steps = 0, B = 0, I = 0, H = 0, D = 1, layer = 0, in_dirs = 1;
  InputKind kind = InputKind::time_major;
  bool bias = true, has_h0 = false, has_c0 = false;

  std::size_t G() const { return gate_count(mode); }
  std::size_t GH() const { return G() * H; }
  bool lstm() const { return mode == RNNMode::lstm; }
  std::size_t R() const { return steps + 1 + (lstm() ? 1 : 0); }  // rows per direction in P
  std::size_t BH() const { return B * H; }
  // Rows of direction d's block of P.
  std::size_t out_row(std::size_t d, std::size_t t) const { return d == 0 ? t + 1 : t; }
  std::size_t prev_row(std::size_t d, std::size_t t) const { return d == 0 ? t : t + 1; }
  std::size_t init_row(std::size_t d) const { return d == 0 ? 0 : steps; }
  // The step whose state is the direction's last: T - 1 forward, 0 reverse.
  std::size_t last_step(std::size_t d) const { return d == 0 ? steps - 1 : 0; }
  std::size_t first_out_row(std::size_t d) const { return d == 0 ? 1 : 0; }
  // Inputs of the op: x, then per direction w_ih, w_hh (, b_ih, b_hh), then h0, c0 if given.
  std::size_t per_dir() const { return bias ? 4 : 2; }
  std::size_t w(std::size_t d) const { return 1 + d * per_dir(); }
  std::size_t h0() const { return 1 + D * per_dir(); }
  std::size_t c0() const { return h0() + (has_h0 ? 1 : 0); }

  template <class T>
  void save(Op<T>& op) const {
    const double v[] = {double(int(mode)), double(steps), double(B), double(I), double(H), double(D), double(layer),
                        double(in_dirs), double(int(kind)), double(bias), double(has_h0), double(has_c0)};
    for (std::size_t i = 0; i < sizeof v / sizeof v[0]; ++i) op.save_scalar(i, v[i]);
  }
  template <class T>
  static Dims load(const Backward<T>& b) {
    Dims d;
    d.mode = RNNMode(int(b.scalar(0)));
    d.steps = std::size_t(b.scalar(1));
    d.B = std::size_t(b.scalar(2));
    d.I = std::size_t(b.scalar(3));
    d.H = std::size_t(b.scalar(4));
    d.D = std::size_t(b.scalar(5));
    d.layer = std::size_t(b.scalar(6));
    d.in_dirs = std::size_t(b.scalar(7));
    d.kind = InputKind(int(b.scalar(8)));
    d.bias = b.scalar(9) != 0;
    d.has_h0 = b.scalar(10) != 0;
    d.has_c0 = b.scalar(11) != 0;
    return d;
  }
};

// ---- the elementwise part of a step, forward and backward -----------------------------------
// Each runs over `rows` rows of H units; gates are laid out per row as PyTorch's (i, f, g, o)
// or (r, z, n). `bias` holds the sum of both biases per gate (GRU: of r and z, and b_in; b_hn
// apart, inside r⊙(W_hn h + b_hn)); backward kernels add each row's pre-activation gradients
// to `db` (the bias gradient). The float versions are compiled per instruction set
// (TAPEGRAD_VECTOR_CLONES) and run 16 units at a time with AVX-512.

#define TG_R __restrict

// g: x W_ihᵀ + h W_hhᵀ in, gate activations out (kept for backward); c' and h' out.
template <class T>
TAPEGRAD_ALWAYS_INLINE inline void lstm_fwd(T* TG_R g, const T* TG_R bias, const T* TG_R c_prev, T* TG_R c, T* TG_R h,
                                            std::size_t rows, std::size_t H) {
  using M = FastMath<T>;
  for (std::size_t b = 0; b < rows; ++b) {
    T* TG_R gi = g + b * 4 * H;
    T* TG_R gf = gi + H;
    T* TG_R gg = gi + 2 * H;
    T* TG_R go = gi + 3 * H;
    const T* TG_R cp = c_prev + b * H;
    T* TG_R cn = c + b * H;
    T* TG_R hn = h + b * H;
    for (std::size_t j = 0; j < H; ++j) {
      const T i = M::sigmoid(gi[j] + bias[j]), f = M::sigmoid(gf[j] + bias[H + j]);
      const T gv = M::tanh(gg[j] + bias[2 * H + j]), o = M::sigmoid(go[j] + bias[3 * H + j]);
      const T cv = f * cp[j] + i * gv;
      gi[j] = i;
      gf[j] = f;
      gg[j] = gv;
      go[j] = o;
      cn[j] = cv;
      hn[j] = o * M::tanh(cv);
    }
  }
}

// dG (pre-activation gradients) of one step from dh = dy + dh_rec and the incoming dc (dc_rec,
// replaced by the gradient of c_prev).
template <class T>
TAPEGRAD_ALWAYS_INLINE inline void lstm_bwd(const T* TG_R g, const T* TG_R c_prev, const T* TG_R c, const T* TG_R dy,
                                            const T* TG_R dh_rec, T* TG_R dc_rec, T* TG_R dg, T* TG_R db,
                                            std::size_t rows, std::size_t H) {
  using M = FastMath<T>;
  for (std::size_t b = 0; b < rows; ++b) {
    const T* TG_R gi = g + b * 4 * H;
    const T* TG_R cp = c_prev + b * H;
    const T* TG_R cv = c + b * H;
    const T* TG_R y = dy + b * H;
    const T* TG_R hr = dh_rec + b * H;
    T* TG_R dc = dc_rec + b * H;
    T* TG_R d = dg + b * 4 * H;
    for (std::size_t j = 0; j < H; ++j) {
      const T i = gi[j], f = gi[H + j], gv = gi[2 * H + j], o = gi[3 * H + j];
      const T tc = M::tanh(cv[j]);
      const T dh = y[j] + hr[j];
      const T dcv = dc[j] + dh * o * (T(1) - tc * tc);
      const T di = dcv * gv * i * (T(1) - i), df = dcv * cp[j] * f * (T(1) - f);
      const T dgv = dcv * i * (T(1) - gv * gv), dov = dh * tc * o * (T(1) - o);
      d[j] = di;
      d[H + j] = df;
      d[2 * H + j] = dgv;
      d[3 * H + j] = dov;
      db[j] += di;
      db[H + j] += df;
      db[2 * H + j] += dgv;
      db[3 * H + j] += dov;
      dc[j] = dcv * f;
    }
  }
}

// g: pre-activations without bias; h' = act(g + bias).
template <class T>
TAPEGRAD_ALWAYS_INLINE inline void rnn_fwd(const T* TG_R g, const T* TG_R bias, T* TG_R h, std::size_t rows,
                                           std::size_t H, bool relu) {
  for (std::size_t b = 0; b < rows; ++b) {
    const T* TG_R gb = g + b * H;
    T* TG_R hb = h + b * H;
    if (relu) {
      for (std::size_t j = 0; j < H; ++j) {
        const T v = gb[j] + bias[j];
        hb[j] = v > T(0) ? v : T(0);
      }
    } else {
      for (std::size_t j = 0; j < H; ++j) hb[j] = FastMath<T>::tanh(gb[j] + bias[j]);
    }
  }
}

template <class T>
TAPEGRAD_ALWAYS_INLINE inline void rnn_bwd(const T* TG_R h, const T* TG_R dy, const T* TG_R dh_rec, T* TG_R dg,
                                           T* TG_R db, std::size_t rows, std::size_t H, bool relu) {
  for (std::size_t b = 0; b < rows; ++b) {
    const T* TG_R hb = h + b * H;
    const T* TG_R y = dy + b * H;
    const T* TG_R hr = dh_rec + b * H;
    T* TG_R d = dg + b * H;
    for (std::size_t j = 0; j < H; ++j) {
      const T dh = y[j] + hr[j];
      const T v = relu ? (hb[j] > T(0) ? dh : T(0)) : dh * (T(1) - hb[j] * hb[j]);
      d[j] = v;
      db[j] += v;
    }
  }
}

// gx: x W_ihᵀ in, activations r, z, n out; gh: h W_hhᵀ (no bias); ghn out: W_hn h + b_hn
// (kept for backward).
template <class T>
TAPEGRAD_ALWAYS_INLINE inline void gru_fwd(T* TG_R gx, const T* TG_R gh, const T* TG_R bias, const T* TG_R b_hn,
                                           const T* TG_R h_prev, T* TG_R ghn, T* TG_R h, std::size_t rows,
                                           std::size_t H) {
  using M = FastMath<T>;
  for (std::size_t b = 0; b < rows; ++b) {
    T* TG_R xr = gx + b * 3 * H;
    T* TG_R xz = xr + H;
    T* TG_R xn = xr + 2 * H;
    const T* TG_R hr = gh + b * 3 * H;
    const T* TG_R hz = hr + H;
    const T* TG_R hn = hr + 2 * H;
    const T* TG_R hp = h_prev + b * H;
    T* TG_R gn = ghn + b * H;
    T* TG_R ho = h + b * H;
    for (std::size_t j = 0; j < H; ++j) {
      const T r = M::sigmoid(xr[j] + hr[j] + bias[j]), z = M::sigmoid(xz[j] + hz[j] + bias[H + j]);
      const T ng = hn[j] + b_hn[j];
      const T n = M::tanh(xn[j] + bias[2 * H + j] + r * ng);
      xr[j] = r;
      xz[j] = z;
      xn[j] = n;
      gn[j] = ng;
      ho[j] = (T(1) - z) * n + z * hp[j];
    }
  }
}

// dgx, dgh: the pre-activation gradients of the input and the hidden products (they differ in
// the n block: r⊙ on the hidden side); dh_rec in: the gradient from the next step, out: the
// direct part dh⊙z of the gradient of h_prev (the product with W_hh is added to it). db: the
// input side's bias gradient (3H), db_hn: the hidden side's n block (H).
template <class T>
TAPEGRAD_ALWAYS_INLINE inline void gru_bwd(const T* TG_R g, const T* TG_R ghn, const T* TG_R h_prev, const T* TG_R dy,
                                           T* TG_R dh_rec, T* TG_R dgx, T* TG_R dgh, T* TG_R db, T* TG_R db_hn,
                                           std::size_t rows, std::size_t H) {
  for (std::size_t b = 0; b < rows; ++b) {
    const T* TG_R gr = g + b * 3 * H;
    const T* TG_R gn = ghn + b * H;
    const T* TG_R hp = h_prev + b * H;
    const T* TG_R y = dy + b * H;
    T* TG_R hr = dh_rec + b * H;
    T* TG_R dx = dgx + b * 3 * H;
    T* TG_R dhh = dgh + b * 3 * H;
    for (std::size_t j = 0; j < H; ++j) {
      const T r = gr[j], z = gr[H + j], n = gr[2 * H + j];
      const T dh = y[j] + hr[j];
      const T dnp = dh * (T(1) - z) * (T(1) - n * n);
      const T drp = dnp * gn[j] * r * (T(1) - r);
      const T dzp = dh * (hp[j] - n) * z * (T(1) - z);
      dx[j] = drp;
      dx[H + j] = dzp;
      dx[2 * H + j] = dnp;
      dhh[j] = drp;
      dhh[H + j] = dzp;
      dhh[2 * H + j] = dnp * r;
      db[j] += drp;
      db[H + j] += dzp;
      db[2 * H + j] += dnp;
      db_hn[j] += dnp * r;
      hr[j] = dh * z;
    }
  }
}

// One entry point per kernel and type: float compiled per instruction set, double plain.
#define TG_KERNELS(T, CLONES)                                                                                        \
  CLONES void k_lstm_fwd(T* TG_R g, const T* TG_R bias, const T* TG_R cp, T* TG_R c, T* TG_R h, std::size_t rows,    \
                         std::size_t H) {                                                                            \
    lstm_fwd<T>(g, bias, cp, c, h, rows, H);                                                                         \
  }                                                                                                                  \
  CLONES void k_lstm_bwd(const T* TG_R g, const T* TG_R cp, const T* TG_R c, const T* TG_R dy, const T* TG_R hr,     \
                         T* TG_R dc, T* TG_R dg, T* TG_R db, std::size_t rows, std::size_t H) {                     \
    lstm_bwd<T>(g, cp, c, dy, hr, dc, dg, db, rows, H);                                                              \
  }                                                                                                                  \
  CLONES void k_rnn_fwd(const T* TG_R g, const T* TG_R bias, T* TG_R h, std::size_t rows, std::size_t H, bool relu) { \
    rnn_fwd<T>(g, bias, h, rows, H, relu);                                                                           \
  }                                                                                                                  \
  CLONES void k_rnn_bwd(const T* TG_R h, const T* TG_R dy, const T* TG_R hr, T* TG_R dg, T* TG_R db,                 \
                        std::size_t rows, std::size_t H, bool relu) {                                                \
    rnn_bwd<T>(h, dy, hr, dg, db, rows, H, relu);                                                                    \
  }                                                                                                                  \
  CLONES void k_gru_fwd(T* TG_R gx, const T* TG_R gh, const T* TG_R bias, const T* TG_R bhn, const T* TG_R hp,       \
                        T* TG_R ghn, T* TG_R h, std::size_t rows, std::size_t H) {                                   \
    gru_fwd<T>(gx, gh, bias, bhn, hp, ghn, h, rows, H);                                                              \
  }                                                                                                                  \
  CLONES void k_gru_bwd(const T* TG_R g, const T* TG_R ghn, const T* TG_R hp, const T* TG_R dy, T* TG_R hr,          \
                        T* TG_R dgx, T* TG_R dgh, T* TG_R db, T* TG_R dbhn, std::size_t rows, std::size_t H) {       \
    gru_bwd<T>(g, ghn, hp, dy, hr, dgx, dgh, db, dbhn, rows, H);                                                     \
  }
TG_KERNELS(float, TAPEGRAD_VECTOR_CLONES)
TG_KERNELS(double, )
#undef TG_KERNELS

// ---- the layer op ---------------------------------------------------------------------------

// Xt[t·B + b] = x[b·T + t]: rows of I.
template <class T>
void to_time_major(const T* x, T* xt, std::size_t T_, std::size_t B, std::size_t I) {
  for (std::size_t t = 0; t < T_; ++t) {
    for (std::size_t b = 0; b < B; ++b) std::copy(x + (b * T_ + t) * I, x + (b * T_ + t + 1) * I, xt + (t * B + b) * I);
  }
}

const char* layer_name(RNNMode mode) {
  switch (mode) {
    case RNNMode::rnn_tanh: return "rnn_tanh_layer";
    case RNNMode::rnn_relu: return "rnn_relu_layer";
    case RNNMode::lstm: return "lstm_layer";
    case RNNMode::gru: return "gru_layer";
  }
  return "rnn_layer";
}

// The recurrence splits along the batch: the rows of one example never meet another's, so each
// thread runs every step of its own rows (one product with W_hh and one pass per step), and the
// threads meet once per direction instead of once per step. Slices of 16 rows and more, cut at
// multiples of 16 (whole register tiles of the float kernel).
template <class F>
void over_batch(std::size_t B, const F& f) {
  kernels::parallel_for(B, 16, f);
}

// The input product of every step at once: G (T·B, GH) = X W_ihᵀ, X time-major, or the output
// rows of each direction of a packed previous layer.
template <class T>
void input_product(const Dims& dm, const T* x, const T* w_ih, T* g) {
  const std::size_t TB = dm.steps * dm.B, GH = dm.GH(), I = dm.I;
  if (dm.kind != InputKind::packed) {
    kernels::gemm(false, true, TB, GH, I, T(1), x, I, w_ih, I, T(0), g, GH);
    return;
  }
  const std::size_t Hin = I / dm.in_dirs;
  for (std::size_t p = 0; p < dm.in_dirs; ++p) {
    const T* a = x + (p * dm.R() + dm.first_out_row(p)) * dm.B * Hin;
    kernels::gemm(false, true, TB, GH, Hin, T(1), a, Hin, w_ih + p * Hin, I, T(p > 0), g, GH);
  }
}

template <class T>
void layer_backward(Backward<T>& b);

// One layer, both directions if D = 2. `inputs` as Dims::w/h0/c0 say.
template <class T>
Var<T> layer_op(const Dims& dm, const std::vector<Var<T>>& inputs) {
  Op<T> op(layer_name(dm.mode), inputs);
  dm.save(op);
  const std::size_t T_ = dm.steps, B = dm.B, I = dm.I, H = dm.H, GH = dm.GH(), BH = dm.BH(), R = dm.R(), D = dm.D;
  const bool gru = dm.mode == RNNMode::gru;
  Array<T>& P = op.output({D, R, B, H});
  Array<T>& G = op.save(0, {D, T_, B, GH});
  Array<T>* C = nullptr;
  if (dm.lstm()) C = &op.save(1, {D, T_ + 1, B, H});
  if (gru) C = &op.save(1, {D, T_, B, H});  // W_hn h + b_hn per step
  const Array<T>& x = op.input(0);
  const T* xrows = x.data();
  if (dm.kind == InputKind::batch_first) {
    Array<T>& xt = op.save(2, {T_ * B, I});
    to_time_major(x.data(), xt.data(), T_, B, I);
    xrows = xt.data();
  }
  Array<T>* gh = gru ? &op.save(3, {B, GH}) : nullptr;
  // Per direction: the biases as the kernels add them (see above), then GRU's b_hn.
  Array<T>& bias = op.save(4, {D, GH + (gru ? H : 0)});
  const T* h0 = dm.has_h0 ? op.input(dm.h0()).data() : nullptr;
  const T* c0 = dm.has_c0 ? op.input(dm.c0()).data() : nullptr;

  for (std::size_t d = 0; d < D; ++d) {
    T* bd = bias.data() + d * bias.shape()[1];
    if (dm.bias) {
      const T* b_ih = op.input(dm.w(d) + 2).data();
      const T* b_hh = op.input(dm.w(d) + 3).data();
      const std::size_t both = gru ? 2 * H : GH;  // GRU's b_hn stays apart
      for (std::size_t j = 0; j < GH; ++j) bd[j] = b_ih[j] + (j < both ? b_hh[j] : T(0));
      if (gru) std::copy(b_hh + 2 * H, b_hh + 3 * H, bd + GH);
    } else {
      std::fill(bd, bd + bias.shape()[1], T(0));
    }
    const T* w_hh = op.input(dm.w(d) + 1).data();
    T* Gd = G.data() + d * T_ * B * GH;
    T* Pd = P.data() + d * R * BH;
    T* Cd = dm.lstm() ? C->data() + d * (T_ + 1) * BH : gru ? C->data() + d * T_ * BH : nullptr;
    input_product(dm, dm.kind == InputKind::packed ? x.data() : xrows, op.input(dm.w(d)).data(), Gd);
    const std::size_t slice = (dm.layer * D + d) * BH;  // this layer and direction's h0 and c0
    over_batch(B, [&](std::size_t b0, std::size_t b1) {
      const std::size_t rows = b1 - b0, off = b0 * H;
      T* h_init = Pd + dm.init_row(d) * BH + off;
      if (h0) {
        std::copy(h0 + slice + off, h0 + slice + b1 * H, h_init);
      } else {
        std::fill(h_init, h_init + rows * H, T(0));
      }
      if (dm.lstm()) {
        T* c_init = Cd + dm.init_row(d) * BH + off;
        if (c0) {
          std::copy(c0 + slice + off, c0 + slice + b1 * H, c_init);
        } else {
          std::fill(c_init, c_init + rows * H, T(0));
        }
      }
      for (std::size_t s = 0; s < T_; ++s) {
        const std::size_t t = d == 0 ? s : T_ - 1 - s;
        const T* h_prev = Pd + dm.prev_row(d, t) * BH + off;
        T* h_out = Pd + dm.out_row(d, t) * BH + off;
        T* g = Gd + (t * B + b0) * GH;
        const bool product = s > 0 || h0;  // h_prev = 0: no product
        switch (dm.mode) {
          case RNNMode::lstm:
            if (product) kernels::gemm(false, true, rows, GH, H, T(1), h_prev, H, w_hh, H, T(1), g, GH);
            k_lstm_fwd(g, bd, Cd + dm.prev_row(d, t) * BH + off, Cd + dm.out_row(d, t) * BH + off, h_out, rows, H);
            break;
          case RNNMode::rnn_tanh:
          case RNNMode::rnn_relu:
            if (product) kernels::gemm(false, true, rows, GH, H, T(1), h_prev, H, w_hh, H, T(1), g, GH);
            k_rnn_fwd(g, bd, h_out, rows, H, dm.mode == RNNMode::rnn_relu);
            break;
          case RNNMode::gru: {
            T* ghb = gh->data() + b0 * GH;
            if (product) {
              kernels::gemm(false, true, rows, GH, H, T(1), h_prev, H, w_hh, H, T(0), ghb, GH);
            } else {
              std::fill(ghb, ghb + rows * GH, T(0));
            }
            k_gru_fwd(g, ghb, bd, bd + GH, h_prev, Cd + t * BH + off, h_out, rows, H);
            break;
          }
        }
      }
      if (dm.lstm()) {  // the last c into P
        const T* c_last = Cd + dm.out_row(d, dm.last_step(d)) * BH + off;
        std::copy(c_last, c_last + rows * H, Pd + (R - 1) * BH + off);
      }
    });
  }
  return op.finish(layer_backward<T>);
}

template <class T>
void layer_backward(Backward<T>& b) {
  const Dims dm = Dims::load(b);
  const std::size_t T_ = dm.steps, B = dm.B, I = dm.I, H = dm.H, GH = dm.GH(), BH = dm.BH(), R = dm.R(), D = dm.D;
  const std::size_t TB = T_ * B;
  const bool gru = dm.mode == RNNMode::gru, relu = dm.mode == RNNMode::rnn_relu;
  const Array<T>& dP = b.grad_out();
  const Array<T>& P = b.output();
  const Array<T>& G = b.saved(0);
  const Array<T>& x = b.input(0);

  Array<T>& dgx = b.scratch({TB, GH});
  Array<T>& dgh = gru ? b.scratch({TB, GH}) : dgx;
  Array<T>& dh_rec = b.scratch({B, H});
  Array<T>& dc_rec = b.scratch({B, H});
  // Bias gradients per batch slice (at most one slice per 16 rows), summed after the loop.
  const std::size_t n_slices = (B + 15) / 16, db_width = GH + (gru ? H : 0);
  Array<T>& db = b.scratch({n_slices, db_width});

  const bool need_x = b.needs_grad(0);
  const bool need_h0 = dm.has_h0 && b.needs_grad(dm.h0());
  const bool need_c0 = dm.has_c0 && b.needs_grad(dm.c0());
  // The input's gradient: written by direction 0 (added to when the target says so), added to
  // by direction 1. A packed input's non-output rows get zeros.
  T* dx = nullptr;
  bool dx_add = false;
  if (need_x) {
    if (dm.kind == InputKind::batch_first) {
      dx = b.scratch({TB, I}).data();
    } else {
      auto t = b.grad_target(0);
      dx = t.grad.data();
      dx_add = t.add;
      if (dm.kind == InputKind::packed) {
        if (!t.add) t.grad.fill(T(0));
        dx_add = true;
      }
    }
  }
  T* dh0 = nullptr;
  T* dc0 = nullptr;
  if (need_h0) {
    auto t = b.grad_target(dm.h0());
    if (!t.add) t.grad.fill(T(0));
    dh0 = t.grad.data();
  }
  if (need_c0) {
    auto t = b.grad_target(dm.c0());
    if (!t.add) t.grad.fill(T(0));
    dc0 = t.grad.data();
  }
  const T* xrows = dm.kind == InputKind::batch_first ? b.saved(2).data() : x.data();

  for (std::size_t d = 0; d < D; ++d) {
    const std::size_t wi = dm.w(d);
    const T* w_ih = b.input(wi).data();
    const T* w_hh = b.input(wi + 1).data();
    const T* Gd = G.data() + d * TB * GH;
    const T* Pd = P.data() + d * R * BH;
    const T* dPd = dP.data() + d * R * BH;
    const T* Cd = dm.lstm() ? b.saved(1).data() + d * (T_ + 1) * BH : gru ? b.saved(1).data() + d * TB * H : nullptr;
    const std::size_t slice = (dm.layer * D + d) * BH;
    db.fill(T(0));

    over_batch(B, [&](std::size_t b0, std::size_t b1) {
      const std::size_t rows = b1 - b0, off = b0 * H;
      T* hr = dh_rec.data() + off;
      T* dc = dc_rec.data() + off;
      T* dbs = db.data() + (b0 / 16) * db_width;
      std::fill(hr, hr + rows * H, T(0));
      if (dm.lstm()) std::copy(dPd + (R - 1) * BH + off, dPd + (R - 1) * BH + b1 * H, dc);  // the gradient of c_n
      for (std::size_t s = T_; s-- > 0;) {
        const std::size_t t = d == 0 ? s : T_ - 1 - s;
        const T* dy = dPd + dm.out_row(d, t) * BH + off;
        const std::size_t gi = (t * B + b0) * GH;
        T* dg = dgx.data() + gi;
        const bool product = s > 0 || need_h0;  // the gradient of h_prev is needed
        switch (dm.mode) {
          case RNNMode::lstm:
            k_lstm_bwd(Gd + gi, Cd + dm.prev_row(d, t) * BH + off, Cd + dm.out_row(d, t) * BH + off, dy, hr, dc, dg,
                       dbs, rows, H);
            if (product) kernels::gemm(false, false, rows, H, GH, T(1), dg, GH, w_hh, H, T(0), hr, H);
            break;
          case RNNMode::rnn_tanh:
          case RNNMode::rnn_relu:
            k_rnn_bwd(Pd + dm.out_row(d, t) * BH + off, dy, hr, dg, dbs, rows, H, relu);
            if (product) kernels::gemm(false, false, rows, H, GH, T(1), dg, GH, w_hh, H, T(0), hr, H);
            break;
          case RNNMode::gru: {
            T* dgh_t = dgh.data() + gi;
            k_gru_bwd(Gd + gi, Cd + t * BH + off, Pd + dm.prev_row(d, t) * BH + off, dy, hr, dg, dgh_t, dbs,
                      dbs + GH, rows, H);
            if (product) kernels::gemm(false, false, rows, H, GH, T(1), dgh_t, GH, w_hh, H, T(1), hr, H);
            break;
          }
        }
      }
      if (dh0) {
        for (std::size_t i = 0; i < rows * H; ++i) dh0[slice + off + i] += hr[i];
      }
      if (dc0) {
        for (std::size_t i = 0; i < rows * H; ++i) dc0[slice + off + i] += dc[i];
      }
    });
    for (std::size_t s = 1; s < n_slices; ++s) {  // the slices' bias gradients into row 0
      for (std::size_t j = 0; j < db_width; ++j) db.data()[j] += db.data()[s * db_width + j];
    }

    // The weights, over the whole sequence at once.
    if (b.needs_grad(wi + 1)) {  // dW_hh = Σ_t dG_hᵀ h_prev
      auto t = b.grad_target(wi + 1);
      const T* hp_all = Pd + dm.prev_row(d, 0) * BH;  // rows of h_prev for t = 0..T-1, in order
      kernels::gemm(true, false, GH, H, TB, T(1), dgh.data(), GH, hp_all, H, T(t.add), t.grad.data(), H);
    }
    if (b.needs_grad(wi)) {  // dW_ih = Σ_t dG_xᵀ x_t
      auto t = b.grad_target(wi);
      if (dm.kind == InputKind::packed) {
        const std::size_t Hin = I / dm.in_dirs;
        for (std::size_t p = 0; p < dm.in_dirs; ++p) {
          const T* a = x.data() + (p * R + dm.first_out_row(p)) * B * Hin;
          kernels::gemm(true, false, GH, Hin, TB, T(1), dgx.data(), GH, a, Hin, T(t.add), t.grad.data() + p * Hin, I);
        }
      } else {
        kernels::gemm(true, false, GH, I, TB, T(1), dgx.data(), GH, xrows, I, T(t.add), t.grad.data(), I);
      }
    }
    if (dm.bias) {
      const T* dbx = db.data();
      for (std::size_t k = 0; k < 2; ++k) {  // bias_ih, then bias_hh (GRU: its n block differs)
        if (!b.needs_grad(wi + 2 + k)) continue;
        auto t = b.grad_target(wi + 2 + k);
        T* out = t.grad.data();
        for (std::size_t j = 0; j < GH; ++j) {
          const T v = k == 1 && gru && j >= 2 * H ? dbx[GH + j - 2 * H] : dbx[j];
          out[j] = t.add ? out[j] + v : v;
        }
      }
    }
    if (need_x) {  // dx = dG_x W_ih
      if (dm.kind == InputKind::packed) {
        const std::size_t Hin = I / dm.in_dirs;
        for (std::size_t p = 0; p < dm.in_dirs; ++p) {
          T* c = dx + (p * R + dm.first_out_row(p)) * B * Hin;
          kernels::gemm(false, false, TB, Hin, GH, T(1), dgx.data(), GH, w_ih + p * Hin, I, T(1), c, Hin);
        }
      } else {
        kernels::gemm(false, false, TB, I, GH, T(1), dgx.data(), GH, w_ih, I, T(d > 0 || dx_add), dx, I);
      }
    }
  }
  if (need_x && dm.kind == InputKind::batch_first) {  // back to (B, T, I)
    auto t = b.grad_target(0);
    T* out = t.grad.data();
    for (std::size_t tt = 0; tt < T_; ++tt) {
      for (std::size_t bb = 0; bb < B; ++bb) {
        const T* s = dx + (tt * B + bb) * I;
        T* o = out + (bb * T_ + tt) * I;
        if (t.add) {
          for (std::size_t i = 0; i < I; ++i) o[i] += s[i];
        } else {
          std::copy(s, s + I, o);
        }
      }
    }
  }
}

// ---- the copy ops that read a packed result (detail::gather) ---------------------------------

// The last layer's output sequence from its packed result.
template <class T>
Var<T> unpack_output(const Dims& dm, const Var<T>& P, bool batch_first, bool unbatched) {
  const std::size_t T_ = dm.steps, B = dm.B, H = dm.H, D = dm.D, R = dm.R(), BH = dm.BH(), DH = D * H;
  std::vector<Piece>& pieces = scratch_pieces();
  for (std::size_t d = 0; d < D; ++d) {
    const std::size_t base = (d * R + dm.first_out_row(d)) * BH;
    if (batch_first) {  // (B, T, D·H): one piece per step
      for (std::size_t t = 0; t < T_; ++t) pieces.push_back({0, base + t * BH, H, t * DH + d * H, T_ * DH, H, B});
    } else if (D == 1) {  // (T, B, H): the rows as they are
      pieces.push_back({0, base, 0, 0, 0, T_ * BH, 1});
    } else {
      pieces.push_back({0, base, H, d * H, DH, H, T_ * B});
    }
  }
  const Shape shape = unbatched ? Shape{T_, DH} : batch_first ? Shape{B, T_, DH} : Shape{T_, B, DH};
  Op<T> op("rnn_output", {P});
  return detail::gather(op, shape, pieces);
}

// h_n (cell = false) or c_n (cell = true) of every layer: (L·D, B, H).
template <class T>
Var<T> unpack_states(const Dims& dm, const std::vector<Var<T>>& layers, bool cell, bool unbatched) {
  const std::size_t D = dm.D, R = dm.R(), BH = dm.BH();
  std::vector<Piece>& pieces = scratch_pieces();
  for (std::size_t l = 0; l < layers.size(); ++l) {
    for (std::size_t d = 0; d < D; ++d) {
      const std::size_t row = cell ? R - 1 : dm.out_row(d, dm.last_step(d));
      pieces.push_back({l, (d * R + row) * BH, 0, (l * D + d) * BH, 0, BH, 1});
    }
  }
  const std::size_t LD = layers.size() * D;
  const Shape shape = unbatched ? Shape{LD, dm.H} : Shape{LD, dm.B, dm.H};
  Op<T> op(cell ? "rnn_c_n" : "rnn_h_n", layers);
  return detail::gather(op, shape, pieces);
}

// ---- checks -----------------------------------------------------------------------------------

template <class T>
void expect_shape(const char* fn, const char* what, const Var<T>& v, const Shape& want) {
  TG_CHECK(ShapeError, same_shape(v.shape(), want), fn, ": ", what, " has shape ", to_string(v.shape()),
           ", expected ", to_string(want));
}

}  // namespace

// ---- the whole network ------------------------------------------------------------------------

namespace detail {

template <class T>
RNNResult<T> rnn_impl(const char* fn, RNNMode mode, const Var<T>& input, const std::vector<Var<T>>& weights,
                      const Var<T>& h0, const Var<T>& c0, const RNNFuncOptions& o, Rng* rng) {
  const std::size_t L = o.num_layers(), D = o.bidirectional() ? 2 : 1, per = o.bias() ? 4 : 2;
  TG_CHECK(ValueError, L >= 1, fn, ": num_layers must be at least 1, got 0");
  TG_CHECK(ValueError, o.dropout() >= 0 && o.dropout() <= 1, fn, ": dropout must be in [0, 1], got ", o.dropout());
  TG_CHECK(ValueError, weights.size() == L * D * per, fn, ": expected ", L * D * per, " weights (", L, " layers x ", D,
           " directions x ", per, "), got ", weights.size());
  const Shape& xs = input.shape();
  TG_CHECK(ShapeError, xs.size() == 2 || xs.size() == 3, fn, ": input has shape ", to_string(xs),
           "; expected (T, B, features), (B, T, features) with batch_first, or (T, features) unbatched");
  const bool unbatched = xs.size() == 2;
  const bool batch_first = o.batch_first() && !unbatched;
  const std::size_t T_ = unbatched || !batch_first ? xs[0] : xs[1];
  const std::size_t B = unbatched ? 1 : batch_first ? xs[0] : xs[1];
  const std::size_t I = xs.back();
  TG_CHECK(ValueError, T_ > 0 && B > 0, fn, ": input of shape ", to_string(xs), " has no ",
           T_ == 0 ? "steps (sequence length 0)" : "examples (batch size 0)");
  const std::size_t G = gate_count(mode);
  const Shape& whh = weights[1].shape();
  TG_CHECK(ShapeError, whh.size() == 2 && whh[0] == G * whh[1] && whh[1] > 0, fn, ": weight_hh_l0 has shape ",
           to_string(whh), "; expected (", G, "·hidden_size, hidden_size)");
  const std::size_t H = whh[1];
  // Names are built only for the message: a steady loop allocates nothing here.
  const auto check = [&](const Var<T>& v, const char* base, std::size_t l, std::size_t d, const Shape& want) {
    if (same_shape(v.shape(), want)) return;
    throw ShapeError(concat(fn, ": ", base, "_l", l, d ? "_reverse" : "", " has shape ", to_string(v.shape()),
                            ", expected ", to_string(want)));
  };
  for (std::size_t l = 0; l < L; ++l) {
    const std::size_t in = l == 0 ? I : D * H;
    for (std::size_t d = 0; d < D; ++d) {
      const Var<T>* w = &weights[(l * D + d) * per];
      const Shape& wih = w[0].shape();
      TG_CHECK(ShapeError, l > 0 || (wih.size() == 2 && wih[0] == G * H && wih[1] == I), fn, ": input has shape ",
               to_string(xs), " with ", I, " features, but weight_ih_l0", d ? "_reverse" : "", " has shape ",
               to_string(wih), " (expected (", G * H, ", ", I, "))");
      check(w[0], "weight_ih", l, d, {G * H, in});
      check(w[1], "weight_hh", l, d, {G * H, H});
      if (o.bias()) {
        check(w[2], "bias_ih", l, d, {G * H});
        check(w[3], "bias_hh", l, d, {G * H});
      }
    }
  }
  const Shape state = unbatched ? Shape{L * D, H} : Shape{L * D, B, H};
  if (h0.defined()) expect_shape(fn, "h0", h0, state);
  if (c0.defined()) {
    TG_CHECK(ValueError, mode == RNNMode::lstm, fn, ": a cell state c0 is given, but only an LSTM has one");
    expect_shape(fn, "c0", c0, state);
  }
  const bool drop = o.training() && o.dropout() > 0 && L > 1;
  TG_CHECK(ValueError, !drop || rng != nullptr, fn, ": dropout ", o.dropout(), " in training needs an Rng");

  Dims dm;
  dm.mode = mode;
  dm.steps = T_;
  dm.B = B;
  dm.H = H;
  dm.D = D;
  dm.bias = o.bias();
  dm.has_h0 = h0.defined();
  dm.has_c0 = c0.defined();
  // A thread's own lists, kept with their capacity (no allocation in a steady loop).
  static thread_local std::vector<Var<T>> layers, inputs;
  layers.clear();
  for (std::size_t l = 0; l < L; ++l) {
    Dims ld = dm;
    ld.layer = l;
    inputs.clear();
    if (l == 0) {
      ld.I = I;
      ld.kind = batch_first ? InputKind::batch_first : InputKind::time_major;
      inputs.push_back(input);
    } else {
      ld.I = D * H;
      ld.kind = InputKind::packed;
      ld.in_dirs = D;
      inputs.push_back(drop ? dropout(layers.back(), o.dropout(), *rng) : layers.back());
    }
    for (std::size_t d = 0; d < D; ++d) {
      for (std::size_t k = 0; k < per; ++k) inputs.push_back(weights[(l * D + d) * per + k]);
    }
    if (h0.defined()) inputs.push_back(h0);
    if (c0.defined()) inputs.push_back(c0);
    layers.push_back(layer_op<T>(ld, inputs));
  }
  RNNResult<T> r;
  r.output = unpack_output<T>(dm, layers.back(), batch_first, unbatched);
  r.h_n = unpack_states<T>(dm, layers, false, unbatched);
  if (mode == RNNMode::lstm) r.c_n = unpack_states<T>(dm, layers, true, unbatched);
  return r;
}

// One step of a cell: the layer op with T = 1, returning the packed (1, R, B, H) result.
template <class T>
Var<T> cell_impl(const char* fn, RNNMode mode, const Var<T>& x, const Var<T>& h, const Var<T>& c, const Var<T>& w_ih,
                 const Var<T>& w_hh, const Var<T>& b_ih, const Var<T>& b_hh, Dims& dm, bool& unbatched) {
  const Shape& xs = x.shape();
  TG_CHECK(ShapeError, xs.size() == 1 || xs.size() == 2, fn, ": input has shape ", to_string(xs),
           "; expected (batch, input_size) or (input_size,)");
  unbatched = xs.size() == 1;
  const std::size_t B = unbatched ? 1 : xs[0], I = xs.back();
  TG_CHECK(ValueError, B > 0, fn, ": input of shape ", to_string(xs), " has no examples (batch size 0)");
  const std::size_t G = gate_count(mode);
  const Shape& whh = w_hh.shape();
  TG_CHECK(ShapeError, whh.size() == 2 && whh[0] == G * whh[1] && whh[1] > 0, fn, ": weight_hh has shape ",
           to_string(whh), "; expected (", G, "·hidden_size, hidden_size)");
  const std::size_t H = whh[1];
  const Shape& wih = w_ih.shape();
  TG_CHECK(ShapeError, wih.size() == 2 && wih[0] == G * H && wih[1] == I, fn, ": input has shape ", to_string(xs),
           " with ", I, " features, but weight_ih has shape ", to_string(wih), " (expected (", G * H, ", ", I, "))");
  TG_CHECK(ValueError, b_ih.defined() == b_hh.defined(), fn, ": give both biases (bias_ih and bias_hh) or neither");
  if (b_ih.defined()) {
    expect_shape(fn, "bias_ih", b_ih, {G * H});
    expect_shape(fn, "bias_hh", b_hh, {G * H});
  }
  const Shape state = unbatched ? Shape{H} : Shape{B, H};
  if (h.defined()) expect_shape(fn, "hx", h, state);
  if (c.defined()) expect_shape(fn, "cx", c, state);
  dm.mode = mode;
  dm.steps = 1;
  dm.B = B;
  dm.I = I;
  dm.H = H;
  dm.D = 1;
  dm.bias = b_ih.defined();
  dm.has_h0 = h.defined();
  dm.has_c0 = c.defined();
  static thread_local std::vector<Var<T>> inputs;
  inputs.assign({x, w_ih, w_hh});
  if (dm.bias) {
    inputs.push_back(b_ih);
    inputs.push_back(b_hh);
  }
  if (h.defined()) inputs.push_back(h);
  if (c.defined()) inputs.push_back(c);
  return layer_op<T>(dm, inputs);
}

}  // namespace detail

template <class T>
RNNResult<T> rnn(RNNMode mode, const Var<T>& input, const std::vector<Var<T>>& weights, const Var<T>& h0,
                 const Var<T>& c0, const RNNFuncOptions& options, Rng* rng) {
  return detail::rnn_impl(to_string(mode), mode, input, weights, h0, c0, options, rng);
}

namespace {
// Row `row` (of B x H) of a cell's packed result, shaped as the state.
template <class T>
Var<T> cell_state(const char* name, const Var<T>& P, std::size_t row, const Dims& dm, bool unbatched) {
  std::vector<Piece>& pieces = scratch_pieces();
  pieces.push_back({0, row * dm.BH(), 0, 0, 0, dm.BH(), 1});
  Op<T> op(name, {P});
  return detail::gather(op, unbatched ? Shape{dm.H} : Shape{dm.B, dm.H}, pieces);
}
}  // namespace

template <class T>
std::pair<Var<T>, Var<T>> lstm_cell(const Var<T>& x, const Var<T>& h, const Var<T>& c, const Var<T>& w_ih,
                                    const Var<T>& w_hh, const Var<T>& b_ih, const Var<T>& b_hh) {
  Dims dm;
  bool unbatched = false;
  const Var<T> P = detail::cell_impl("lstm_cell", RNNMode::lstm, x, h, c, w_ih, w_hh, b_ih, b_hh, dm, unbatched);
  return {cell_state<T>("lstm_cell_h", P, 1, dm, unbatched), cell_state<T>("lstm_cell_c", P, 2, dm, unbatched)};
}

template <class T>
Var<T> gru_cell(const Var<T>& x, const Var<T>& h, const Var<T>& w_ih, const Var<T>& w_hh, const Var<T>& b_ih,
                const Var<T>& b_hh) {
  Dims dm;
  bool unbatched = false;
  const Var<T> P = detail::cell_impl("gru_cell", RNNMode::gru, x, h, Var<T>(), w_ih, w_hh, b_ih, b_hh, dm, unbatched);
  return cell_state<T>("gru_cell_h", P, 1, dm, unbatched);
}

template <class T>
Var<T> rnn_tanh_cell(const Var<T>& x, const Var<T>& h, const Var<T>& w_ih, const Var<T>& w_hh, const Var<T>& b_ih,
                     const Var<T>& b_hh) {
  Dims dm;
  bool unbatched = false;
  const Var<T> P =
      detail::cell_impl("rnn_tanh_cell", RNNMode::rnn_tanh, x, h, Var<T>(), w_ih, w_hh, b_ih, b_hh, dm, unbatched);
  return cell_state<T>("rnn_tanh_cell_h", P, 1, dm, unbatched);
}

template <class T>
Var<T> rnn_relu_cell(const Var<T>& x, const Var<T>& h, const Var<T>& w_ih, const Var<T>& w_hh, const Var<T>& b_ih,
                     const Var<T>& b_hh) {
  Dims dm;
  bool unbatched = false;
  const Var<T> P =
      detail::cell_impl("rnn_relu_cell", RNNMode::rnn_relu, x, h, Var<T>(), w_ih, w_hh, b_ih, b_hh, dm, unbatched);
  return cell_state<T>("rnn_relu_cell_h", P, 1, dm, unbatched);
}

#define TAPEGRAD_SECTION(T)                                                                                          \
  template RNNResult<T> rnn(RNNMode, const Var<T>&, const std::vector<Var<T>>&, const Var<T>&, const Var<T>&,        \
                            const RNNFuncOptions&, Rng*);                                                                \
  template RNNResult<T> detail::rnn_impl(const char*, RNNMode, const Var<T>&, const std::vector<Var<T>>&,            \
                                         const Var<T>&, const Var<T>&, const RNNFuncOptions&, Rng*);                     \
  template std::pair<Var<T>, Var<T>> lstm_cell(const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&,           \
                                               const Var<T>&, const Var<T>&, const Var<T>&);                         \
  template Var<T> gru_cell(const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&); \
  template Var<T> rnn_tanh_cell(const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&,           \
                                const Var<T>&);                                                                      \
  template Var<T> rnn_relu_cell(const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&,           \
                                const Var<T>&);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad
