// The fused attention op (detail::attention_core) and scaled_dot_product_attention on it.
#include "tapegrad/attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "detail/attention_core.hpp"
#include "detail/fastmath.hpp"
#include "instantiate.hpp"
#include "tapegrad/kernels.hpp"

namespace tapegrad {

namespace detail {

namespace {

#define TG_R __restrict

// Small products of one (batch, head): plain loops along rows of C, which vectorise (16 floats
// at a time with AVX-512 in the float clones); above kTiny multiply-adds, kernels::gemm.
constexpr std::size_t kTiny = std::size_t(1) << 16;

// C[m x n] (= or +=) alpha · A[m x k] · B[k x n]. For the widths attention heads and short
// sequences have (N = 16, 32, 64: one to four AVX-512 vectors), a row of C stays in registers
// over the whole k loop; other widths go through memory.
template <class T, std::size_t N>
TAPEGRAD_ALWAYS_INLINE inline void nn_fixed(bool add, std::size_t m, std::size_t k, T alpha, const T* TG_R a,
                                            std::size_t lda, const T* TG_R b, std::size_t ldb, T* TG_R c,
                                            std::size_t ldc) {
  for (std::size_t i = 0; i < m; ++i) {
    T acc[N];
    T* TG_R ci = c + i * ldc;
    for (std::size_t j = 0; j < N; ++j) acc[j] = add ? ci[j] : T(0);
    for (std::size_t p = 0; p < k; ++p) {
      const T s = alpha * a[i * lda + p];
      const T* TG_R bp = b + p * ldb;
      for (std::size_t j = 0; j < N; ++j) acc[j] += s * bp[j];
    }
    for (std::size_t j = 0; j < N; ++j) ci[j] = acc[j];
  }
}

template <class T>
TAPEGRAD_ALWAYS_INLINE inline void tiny_nn(bool add, std::size_t m, std::size_t n, std::size_t k, T alpha,
                                           const T* TG_R a, std::size_t lda, const T* TG_R b, std::size_t ldb,
                                           T* TG_R c, std::size_t ldc) {
  switch (n) {
    case 16: return nn_fixed<T, 16>(add, m, k, alpha, a, lda, b, ldb, c, ldc);
    case 32: return nn_fixed<T, 32>(add, m, k, alpha, a, lda, b, ldb, c, ldc);
    case 64: return nn_fixed<T, 64>(add, m, k, alpha, a, lda, b, ldb, c, ldc);
    default: break;
  }
  for (std::size_t i = 0; i < m; ++i) {
    T* TG_R ci = c + i * ldc;
    if (!add) std::fill(ci, ci + n, T(0));
    for (std::size_t p = 0; p < k; ++p) {
      const T s = alpha * a[i * lda + p];
      const T* TG_R bp = b + p * ldb;
      for (std::size_t j = 0; j < n; ++j) ci[j] += s * bp[j];
    }
  }
}

// C[m x N] += alpha · A[k x m]ᵀ · B[k x N], a row of C in registers.
template <class T, std::size_t N>
TAPEGRAD_ALWAYS_INLINE inline void tn_fixed(std::size_t m, std::size_t k, T alpha, const T* TG_R a, std::size_t lda,
                                            const T* TG_R b, std::size_t ldb, T* TG_R c, std::size_t ldc) {
  for (std::size_t i = 0; i < m; ++i) {
    T acc[N];
    T* TG_R ci = c + i * ldc;
    for (std::size_t j = 0; j < N; ++j) acc[j] = ci[j];
    for (std::size_t p = 0; p < k; ++p) {
      const T s = alpha * a[p * lda + i];
      const T* TG_R bp = b + p * ldb;
      for (std::size_t j = 0; j < N; ++j) acc[j] += s * bp[j];
    }
    for (std::size_t j = 0; j < N; ++j) ci[j] = acc[j];
  }
}

// C[m x n] += alpha · A[k x m]ᵀ · B[k x n].
template <class T>
TAPEGRAD_ALWAYS_INLINE inline void tiny_tn(std::size_t m, std::size_t n, std::size_t k, T alpha, const T* TG_R a,
                                           std::size_t lda, const T* TG_R b, std::size_t ldb, T* TG_R c,
                                           std::size_t ldc) {
  switch (n) {
    case 16: return tn_fixed<T, 16>(m, k, alpha, a, lda, b, ldb, c, ldc);
    case 32: return tn_fixed<T, 32>(m, k, alpha, a, lda, b, ldb, c, ldc);
    case 64: return tn_fixed<T, 64>(m, k, alpha, a, lda, b, ldb, c, ldc);
    default: break;
  }
  for (std::size_t p = 0; p < k; ++p) {
    const T* TG_R bp = b + p * ldb;
    for (std::size_t i = 0; i < m; ++i) {
      const T s = alpha * a[p * lda + i];
      T* TG_R ci = c + i * ldc;
      for (std::size_t j = 0; j < n; ++j) ci[j] += s * bp[j];
    }
  }
}

// dst[j * rows + i] = src[i * ld + j]: rows x cols into cols x rows.
template <class T>
TAPEGRAD_ALWAYS_INLINE inline void transpose_into(const T* TG_R src, std::size_t ld, std::size_t rows, std::size_t cols,
                                                  T* TG_R dst) {
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) dst[j * rows + i] = src[i * ld + j];
  }
}

// A row of scores into attention weights: exp(x − max) / Σ. A row whose every score is -inf
// becomes zeros (PyTorch: NaN).
template <class T>
TAPEGRAD_ALWAYS_INLINE inline void softmax_row(T* TG_R x, std::size_t n) {
  T mx = -std::numeric_limits<T>::infinity();
  for (std::size_t j = 0; j < n; ++j) mx = std::max(mx, x[j]);
  if (mx == -std::numeric_limits<T>::infinity()) {
    std::fill(x, x + n, T(0));
    return;
  }
  T sum = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const T e = FastMath<T>::exp(x[j] - mx);
    x[j] = e;
    sum += e;
  }
  const T inv = T(1) / sum;
  for (std::size_t j = 0; j < n; ++j) x[j] *= inv;
}

// dS = P ⊙ (dP − Σ_j dP ⊙ P), in place over dP.
template <class T>
TAPEGRAD_ALWAYS_INLINE inline void softmax_backward_row(const T* TG_R p, T* TG_R dp, std::size_t n) {
  T dot = 0;
  for (std::size_t j = 0; j < n; ++j) dot += dp[j] * p[j];
  for (std::size_t j = 0; j < n; ++j) dp[j] = p[j] * (dp[j] - dot);
}

#define TG_KERNELS(T, CLONES)                                                                                       \
  CLONES void k_tiny_nn(bool add, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda, \
                        const T* b, std::size_t ldb, T* c, std::size_t ldc) {                                       \
    tiny_nn<T>(add, m, n, k, alpha, a, lda, b, ldb, c, ldc);                                                        \
  }                                                                                                                 \
  CLONES void k_tiny_tn(std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,          \
                        const T* b, std::size_t ldb, T* c, std::size_t ldc) {                                       \
    tiny_tn<T>(m, n, k, alpha, a, lda, b, ldb, c, ldc);                                                             \
  }                                                                                                                 \
  CLONES void k_transpose(const T* src, std::size_t ld, std::size_t rows, std::size_t cols, T* dst) {               \
    transpose_into<T>(src, ld, rows, cols, dst);                                                                    \
  }                                                                                                                 \
  CLONES void k_softmax_rows(T* x, std::size_t rows, std::size_t n) {                                               \
    for (std::size_t i = 0; i < rows; ++i) softmax_row<T>(x + i * n, n);                                            \
  }                                                                                                                 \
  CLONES void k_softmax_backward_rows(const T* p, T* dp, std::size_t rows, std::size_t n) {                         \
    for (std::size_t i = 0; i < rows; ++i) softmax_backward_row<T>(p + i * n, dp + i * n, n);                       \
  }
TG_KERNELS(float, TAPEGRAD_VECTOR_CLONES)
TG_KERNELS(double, )
#undef TG_KERNELS

// C = alpha · A · op(B) over one (batch, head), small or not. tb: B is n x k.
template <class T>
void product_nt(std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda, const T* b,
                std::size_t ldb, T* c, std::size_t ldc, T* scratch) {
  if (m * n * k <= kTiny) {
    k_transpose(b, ldb, n, k, scratch);  // B (n x k) -> Bᵀ (k x n)
    k_tiny_nn(false, m, n, k, alpha, a, lda, scratch, n, c, ldc);
  } else {
    kernels::gemm(false, true, m, n, k, alpha, a, lda, b, ldb, T(0), c, ldc);
  }
}
// C += alpha · A · B.
template <class T>
void product_nn_add(std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda, const T* b,
                    std::size_t ldb, T* c, std::size_t ldc, bool add) {
  if (m * n * k <= kTiny) {
    k_tiny_nn(add, m, n, k, alpha, a, lda, b, ldb, c, ldc);
  } else {
    kernels::gemm(false, false, m, n, k, alpha, a, lda, b, ldb, T(add), c, ldc);
  }
}
// C += alpha · Aᵀ · B, A k x m.
template <class T>
void product_tn_add(std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda, const T* b,
                    std::size_t ldb, T* c, std::size_t ldc) {
  if (m * n * k <= kTiny) {
    k_tiny_tn(m, n, k, alpha, a, lda, b, ldb, c, ldc);
  } else {
    kernels::gemm(true, false, m, n, k, alpha, a, lda, b, ldb, T(1), c, ldc);
  }
}

// Runs f(part, begin, end) over [0, n) in at most num_threads() parts of at least `grain` items;
// `part` indexes per-part scratch.
template <class F>
void for_parts(std::size_t n, std::size_t grain, std::size_t parts, const F& f) {
  if (parts <= 1) {
    f(std::size_t(0), std::size_t(0), n);
    return;
  }
  struct Job {
    const F* f;
    std::size_t n, parts;
  };
  const Job job{&f, n, parts};
  (void)grain;
  run_parallel(int(parts), [](const void* context, int part) noexcept {
    const Job& j = *static_cast<const Job*>(context);
    const std::size_t p = std::size_t(part);
    const std::size_t begin = j.n * p / j.parts, end = j.n * (p + 1) / j.parts;
    if (begin < end) (*j.f)(p, begin, end);
  }, &job);
}

std::size_t parts_for(std::size_t n, std::size_t work_per_item) {
  // At least ~64k multiply-adds per part: below that, waking a thread costs what it saves.
  const std::size_t grain = std::max<std::size_t>(1, (std::size_t(1) << 16) / std::max<std::size_t>(work_per_item, 1));
  return std::max<std::size_t>(1, std::min<std::size_t>(std::size_t(num_threads()), n / grain));
}

// ---- the spec in the entry's scalars ----------------------------------------------------------

template <class T>
void save_spec(Op<T>& op, const AttnSpec& s) {
  std::size_t i = 0;
  const auto put = [&](double v) { op.save_scalar(i++, v); };
  for (std::size_t v : {s.batch, s.heads, s.L, s.S, s.E, s.Ev}) put(double(v));
  for (const AttnOperand* o : {&s.q, &s.k, &s.v, &s.o}) {
    for (std::size_t v : {o->source, o->offset, o->batch_stride, o->head_stride, o->row_stride}) put(double(v));
  }
  put(s.causal);
  put(s.weights);
  put(s.scale);
  put(s.dropout);
}

template <class T>
AttnSpec load_spec(const Backward<T>& b) {
  AttnSpec s;
  std::size_t i = 0;
  const auto get = [&] { return b.scalar(i++); };
  for (std::size_t* v : {&s.batch, &s.heads, &s.L, &s.S, &s.E, &s.Ev}) *v = std::size_t(get());
  for (AttnOperand* o : {&s.q, &s.k, &s.v, &s.o}) {
    for (std::size_t* v : {&o->source, &o->offset, &o->batch_stride, &o->head_stride, &o->row_stride}) {
      *v = std::size_t(get());
    }
  }
  s.causal = get() != 0;
  s.weights = get() != 0;
  s.scale = get();
  s.dropout = get();
  return s;
}

std::size_t at(const AttnOperand& o, std::size_t n, std::size_t heads) {
  return o.offset + (n / heads) * o.batch_stride + (n % heads) * o.head_stride;
}

template <class T>
void attention_backward(Backward<T>& b);

}  // namespace

template <class T>
Var<T> attention_core(const char* name, const Var<T>* sources, std::size_t n_sources, const AttnSpec& spec,
                      const Shape& out_shape, const AttnMaskRef<T>* masks, std::size_t n_masks, Rng* rng) {
  TG_ASSERT(n_sources >= 1 && n_sources <= 3, "attention_core: 1 to 3 sources");
  Op<T> op = n_sources == 1   ? Op<T>(name, {sources[0]})
             : n_sources == 2 ? Op<T>(name, {sources[0], sources[1]})
                              : Op<T>(name, {sources[0], sources[1], sources[2]});
  save_spec(op, spec);
  const std::size_t N = spec.batch * spec.heads, L = spec.L, S = spec.S, E = spec.E, Ev = spec.Ev, LS = L * S;
  const std::size_t out_size = numel(out_shape);
  Array<T>& y = spec.weights ? op.output({out_size + N * LS}) : op.output(out_shape);
  Array<T>& P = op.save(0, {N, L, S});
  Array<T>* M = spec.dropout > 0 ? &op.save(1, {N, L, S}) : nullptr;
  if (M) {  // the dropout mask, drawn in order (the same seed gives the same mask)
    const double p = spec.dropout;
    const T keep = T(1 / (1 - p));
    for (auto& m : *M) m = rng->uniform01() < p ? T(0) : keep;
  }
  const std::size_t parts = parts_for(N, L * S * (E + Ev));
  Array<T>& scratch = op.save(2, {parts, std::max(E, Ev) * S + LS});
  const T* src[3] = {op.input(0).data(), n_sources > 1 ? op.input(1).data() : nullptr,
                     n_sources > 2 ? op.input(2).data() : nullptr};
  const T neg_inf = -std::numeric_limits<T>::infinity();
  const T scale = T(spec.scale);
  const std::size_t H = spec.heads;
  for_parts(N, 1, parts, [&](std::size_t part, std::size_t n0, std::size_t n1) {
    T* kt = scratch.data() + part * scratch.shape()[1];
    T* pd = kt + std::max(E, Ev) * S;
    for (std::size_t n = n0; n < n1; ++n) {
      const std::size_t bb = n / H, hh = n % H;
      const T* q = src[spec.q.source] + at(spec.q, n, H);
      const T* k = src[spec.k.source] + at(spec.k, n, H);
      const T* v = src[spec.v.source] + at(spec.v, n, H);
      T* o = y.data() + at(spec.o, n, H);
      T* Pn = P.data() + n * LS;
      product_nt<T>(L, S, E, scale, q, spec.q.row_stride, k, spec.k.row_stride, Pn, S, kt);
      for (std::size_t m = 0; m < n_masks; ++m) {
        const AttnMaskRef<T>& mk = masks[m];
        const std::size_t base = bb * mk.batch_stride + hh * mk.head_stride;
        for (std::size_t i = 0; i < L; ++i) {
          T* row = Pn + i * S;
          const std::size_t r = base + i * mk.row_stride;
          if (mk.additive) {
            for (std::size_t j = 0; j < S; ++j) row[j] += mk.additive[r + j * mk.col_stride];
          } else {
            for (std::size_t j = 0; j < S; ++j) {
              if (mk.boolean[r + j * mk.col_stride] == mk.block_value) row[j] = neg_inf;
            }
          }
        }
      }
      if (spec.causal) {
        for (std::size_t i = 0; i < L; ++i) std::fill(Pn + i * S + std::min(S, i + 1), Pn + (i + 1) * S, neg_inf);
      }
      k_softmax_rows(Pn, L, S);
      const T* weights = Pn;
      if (M) {
        const T* Mn = M->data() + n * LS;
        for (std::size_t i = 0; i < LS; ++i) pd[i] = Pn[i] * Mn[i];
        weights = pd;
      }
      if (spec.weights) std::copy(weights, weights + LS, y.data() + out_size + n * LS);
      product_nn_add<T>(L, Ev, S, T(1), weights, S, v, spec.v.row_stride, o, spec.o.row_stride, false);
    }
  });
  return op.finish(attention_backward<T>);
}

namespace {

template <class T>
void attention_backward(Backward<T>& b) {
  const AttnSpec spec = load_spec(b);
  const std::size_t N = spec.batch * spec.heads, L = spec.L, S = spec.S, E = spec.E, Ev = spec.Ev, LS = L * S;
  const std::size_t H = spec.heads;
  const Array<T>& P = b.saved(0);
  const Array<T>* M = spec.dropout > 0 ? &b.saved(1) : nullptr;
  const T* go = b.grad_out().data();
  const std::size_t out_size = spec.weights ? b.output().size() - N * LS : 0;
  // Each source's gradient: zeros first (when this is its first contribution), then every
  // product adds into its block (the q, k and v blocks may share a source).
  T* grad[3] = {nullptr, nullptr, nullptr};
  const T* src[3] = {nullptr, nullptr, nullptr};
  for (std::size_t s = 0; s < b.n_inputs(); ++s) {
    src[s] = b.input(s).data();
    if (!b.needs_grad(s)) continue;
    auto t = b.grad_target(s);
    if (!t.add) t.grad.fill(T(0));
    grad[s] = t.grad.data();
  }
  const bool dq = grad[spec.q.source] != nullptr, dk = grad[spec.k.source] != nullptr,
             dv = grad[spec.v.source] != nullptr;
  const std::size_t parts = parts_for(N, L * S * (2 * E + 2 * Ev));
  const std::size_t per_part = std::max(E, Ev) * S + 2 * LS;
  Array<T>& scratch = b.scratch({parts, per_part});
  const T scale = T(spec.scale);
  for_parts(N, 1, parts, [&](std::size_t part, std::size_t n0, std::size_t n1) {
    T* vt = scratch.data() + part * per_part;
    T* dp = vt + std::max(E, Ev) * S;
    T* pd = dp + LS;
    for (std::size_t n = n0; n < n1; ++n) {
      const std::size_t qo = at(spec.q, n, H), ko = at(spec.k, n, H), vo = at(spec.v, n, H);
      const T* q = src[spec.q.source] + qo;
      const T* k = src[spec.k.source] + ko;
      const T* v = src[spec.v.source] + vo;
      const T* dO = go + at(spec.o, n, H);
      const T* Pn = P.data() + n * LS;
      const T* Mn = M ? M->data() + n * LS : nullptr;
      const T* weights = Pn;
      if (Mn) {
        for (std::size_t i = 0; i < LS; ++i) pd[i] = Pn[i] * Mn[i];
        weights = pd;
      }
      // dPd = dO vᵀ (+ the gradient of the returned weights)
      product_nt<T>(L, S, Ev, T(1), dO, spec.o.row_stride, v, spec.v.row_stride, dp, S, vt);
      if (spec.weights) {
        const T* gw = go + out_size + n * LS;
        for (std::size_t i = 0; i < LS; ++i) dp[i] += gw[i];
      }
      if (dv) {  // dV += Pdᵀ dO
        product_tn_add<T>(S, Ev, L, T(1), weights, S, dO, spec.o.row_stride, grad[spec.v.source] + vo,
                          spec.v.row_stride);
      }
      if (!dq && !dk) continue;
      if (Mn) {
        for (std::size_t i = 0; i < LS; ++i) dp[i] *= Mn[i];
      }
      k_softmax_backward_rows(Pn, dp, L, S);  // dp is now dS
      if (dq) {  // dQ += scale dS k
        product_nn_add<T>(L, E, S, scale, dp, S, k, spec.k.row_stride, grad[spec.q.source] + qo, spec.q.row_stride,
                          true);
      }
      if (dk) {  // dK += scale dSᵀ q
        product_tn_add<T>(S, E, L, scale, dp, S, q, spec.q.row_stride, grad[spec.k.source] + ko, spec.k.row_stride);
      }
    }
  });
}

}  // namespace

#define TAPEGRAD_SECTION(T)                                                                                        \
  template Var<T> attention_core(const char*, const Var<T>*, std::size_t, const AttnSpec&, const Shape&,           \
                                 const AttnMaskRef<T>*, std::size_t, Rng*);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace detail

// ---- scaled_dot_product_attention -------------------------------------------------------------

template <class T>
Var<T> scaled_dot_product_attention(const Var<T>& query, const Var<T>& key, const Var<T>& value,
                                    const AttentionMask<detail::scalar_t<T>>& attn_mask, double dropout_p,
                                    bool is_causal, std::optional<double> scale, Rng* rng) {
  const char* fn = "scaled_dot_product_attention";
  const Shape& qs = query.shape();
  const Shape& ks = key.shape();
  const Shape& vs = value.shape();
  const std::size_t r = qs.size();
  TG_CHECK(ShapeError, r >= 2 && ks.size() == r && vs.size() == r, fn, ": query ", to_string(qs), ", key ",
           to_string(ks), " and value ", to_string(vs), " must have the same rank, at least 2");
  bool lead_ok = true;
  for (std::size_t d = 0; d + 2 < r; ++d) lead_ok = lead_ok && qs[d] == ks[d] && qs[d] == vs[d];
  TG_CHECK(ShapeError, lead_ok, fn, ": query ", to_string(qs), ", key ", to_string(ks), " and value ", to_string(vs),
           " differ in their leading dimensions");
  const std::size_t L = qs[r - 2], E = qs[r - 1], S = ks[r - 2], Ev = vs[r - 1];
  TG_CHECK(ShapeError, ks[r - 1] == E, fn, ": query ", to_string(qs), " and key ", to_string(ks),
           " differ in their last dimension (", E, " vs ", ks[r - 1], ")");
  TG_CHECK(ShapeError, vs[r - 2] == S, fn, ": key ", to_string(ks), " and value ", to_string(vs),
           " differ in their sequence length (", S, " vs ", vs[r - 2], ")");
  TG_CHECK(ValueError, dropout_p >= 0 && dropout_p < 1, fn, ": dropout_p must be in [0, 1), got ", dropout_p);
  TG_CHECK(ValueError, dropout_p == 0 || rng != nullptr, fn, ": dropout_p ", dropout_p, " needs an Rng");
  TG_CHECK(ValueError, !(is_causal && !attn_mask.empty()), fn,
           ": give either attn_mask or is_causal, not both (as PyTorch)");
  const double sc = scale ? *scale : 1.0 / std::sqrt(double(E));
  TG_CHECK(ValueError, std::isfinite(sc), fn, ": scale must be finite, got ", sc);

  // Leading dimensions as (batch, heads): heads is the last of them, batch the product of the
  // others, so that masks over (B, h, L, S) broadcast with two strides.
  detail::AttnSpec spec;
  spec.heads = r >= 3 ? qs[r - 3] : 1;
  spec.batch = 1;
  for (std::size_t d = 0; d + 3 < r; ++d) spec.batch *= qs[d];
  spec.L = L;
  spec.S = S;
  spec.E = E;
  spec.Ev = Ev;
  spec.causal = is_causal;
  spec.scale = sc;
  spec.dropout = dropout_p;
  spec.q = {0, 0, spec.heads * L * E, L * E, E};
  spec.k = {1, 0, spec.heads * S * E, S * E, E};
  spec.v = {2, 0, spec.heads * S * Ev, S * Ev, Ev};
  spec.o = {0, 0, spec.heads * L * Ev, L * Ev, Ev};
  Shape out = qs;
  out[r - 1] = Ev;

  detail::AttnMaskRef<T> mask;
  std::size_t n_masks = 0;
  if (!attn_mask.empty()) {
    const Shape& ms = attn_mask.shape();
    const std::size_t mr = ms.size();
    // The mask's extent along score dimension d (right-aligned), 1 where it has none.
    const auto ext = [&](std::size_t d) -> std::size_t { return d + mr >= r ? ms[d + mr - r] : 1; };
    const auto stride = [&](std::size_t d) -> std::size_t {
      std::size_t s = 1;
      for (std::size_t e = d + 1; e < r; ++e) s *= ext(e);
      return ext(d) == 1 ? 0 : s;
    };
    bool ok = mr <= r;
    // Each dimension broadcasts (1) or matches; the batch group (all but the last leading
    // dimension) is all 1 or all matching.
    bool batch_ones = true, batch_full = true;
    for (std::size_t d = 0; ok && d < r; ++d) {
      const std::size_t want = d == r - 1 ? S : qs[d];
      ok = ext(d) == 1 || ext(d) == want;
      if (d + 3 < r) {
        batch_ones = batch_ones && ext(d) == 1;
        batch_full = batch_full && ext(d) == want;
      }
    }
    ok = ok && (batch_ones || batch_full);
    TG_CHECK(ShapeError, ok, fn, ": attn_mask ", to_string(ms), " does not broadcast to the scores (",
             [&] {
               Shape sh = qs;
               sh[r - 1] = S;
               return to_string(sh);
             }(),
             ")");
    mask.row_stride = stride(r - 2);
    mask.col_stride = stride(r - 1);
    mask.head_stride = r >= 3 ? stride(r - 3) : 0;
    mask.batch_stride = r >= 4 && !batch_ones ? stride(r - 4) : 0;
    if (attn_mask.boolean()) {
      mask.boolean = attn_mask.boolean()->data();
      mask.block_value = false;  // true = take part
    } else {
      mask.additive = attn_mask.additive()->data();
    }
    n_masks = 1;
  }
  const Var<T> sources[3] = {query, key, value};
  return detail::attention_core<T>("scaled_dot_product_attention", sources, 3, spec, out, &mask, n_masks, rng);
}

#define TAPEGRAD_SECTION(T)                                                                                         \
  template Var<T> scaled_dot_product_attention(const Var<T>&, const Var<T>&, const Var<T>&,                         \
                                               const AttentionMask<detail::scalar_t<T>>&, double, bool,             \
                                               std::optional<double>, Rng*);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad
