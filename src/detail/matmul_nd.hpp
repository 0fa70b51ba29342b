#pragma once
// Matrix products of N-d operands (private; used by matmul, bmm and linear in src/ops.cpp):
// torch.matmul's shape rules, and the products as 2-D GEMM calls through kernels::gemm.
//
// A 1-D a is a row (1, k) and a 1-D b a column (k, 1), whose extent of 1 the result drops. When b
// has no batch dims, a's batch dims fold into the rows of one GEMM (x·W for a (batch, seq, in)
// input is one (batch·seq, in) @ (in, out) product), with the operands viewed as matrices in
// place: no copy. Otherwise the batch dims broadcast and each batch is one GEMM on copies of its
// slices in buffers the tape keeps (kernels::gemm takes whole 2-D arrays), so a batched product
// costs one extra pass over its operands and result.
#include <algorithm>
#include <cstring>

#include "detail/strided.hpp"
#include "tapegrad/kernels.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad::detail {

/// An array viewed as a (rows, cols) matrix for one product: its shape is rewritten in place and
/// restored by the destructor. Nothing is copied or allocated (for ranks up to 4), and the data
/// does not move; an array of that shape already is left as it is. The op owns the array for the call (values on a
/// tape belong to one thread), which is what makes the rewrite safe.
template <class T>
class MatrixView {
 public:
  /// An inactive view (`active` false) leaves the array as it is.
  MatrixView(const Array<T>& a, std::size_t rows, std::size_t cols, bool active = true)
      : a_(const_cast<Array<T>&>(a)) {
    if (active && (a_.dimension() != 2 || a_.shape()[0] != rows || a_.shape()[1] != cols)) {
      saved_ = a_.shape();
      reshaped_ = true;
      a_.reshape({rows, cols});
    }
  }
  ~MatrixView() {
    if (reshaped_) a_.reshape(saved_);
  }
  MatrixView(const MatrixView&) = delete;
  MatrixView& operator=(const MatrixView&) = delete;
  Array<T>& operator*() const noexcept { return a_; }

 private:
  Array<T>& a_;
  Shape saved_;
  bool reshaped_ = false;
};

/// The product of the extents of all dims but the last: the rows of a (..., cols) array.
inline std::size_t leading(const Shape& s) {
  std::size_t r = 1;
  for (std::size_t d = 0; d + 1 < s.size(); ++d) r *= s[d];
  return r;
}

/// The shapes of `a @ b` under torch.matmul's rules.
struct MatmulShapes {
  std::size_t m = 1, k = 1, n = 1;  // each product: (m, k) @ (k, n)
  bool a_vec = false, b_vec = false;
  bool fold = false;               // b has no batch dims: one GEMM of (rows of a) x k
  std::size_t rows = 1;            // fold: a's batch extents times m
  Shape batch, out;                // the broadcast batch dims; the result's shape
  Shape a_batch, b_batch;          // each operand's batch dims, padded with 1s to batch's rank
  std::size_t batches = 1;
};

inline MatmulShapes matmul_shapes(const char* op, const Shape& a, const Shape& b) {
  TG_CHECK(ShapeError, !a.empty() && !b.empty(), op, ": both operands need at least 1 dim, got shapes ",
           to_string(a), " and ", to_string(b));
  MatmulShapes s;
  s.a_vec = a.size() == 1;
  s.b_vec = b.size() == 1;
  s.m = s.a_vec ? 1 : a[a.size() - 2];
  s.k = a.back();
  const std::size_t kb = s.b_vec ? b[0] : b[b.size() - 2];
  s.n = s.b_vec ? 1 : b.back();
  TG_CHECK(ShapeError, s.k == kb, op, ": ", to_string(a), " @ ", to_string(b), " — inner dimensions differ (", s.k,
           " vs ", kb, ")");
  const std::size_t ra = s.a_vec ? 0 : a.size() - 2, rb = s.b_vec ? 0 : b.size() - 2;
  const Shape abatch(a.begin(), a.begin() + std::ptrdiff_t(ra)), bbatch(b.begin(), b.begin() + std::ptrdiff_t(rb));
  s.fold = rb == 0;
  if (s.fold) {
    s.batch = abatch;
    s.rows = numel(abatch) * s.m;
  } else {
    const std::size_t r = std::max(ra, rb);
    s.batch = Shape(r, 1);
    s.a_batch = Shape(r, 1);
    s.b_batch = Shape(r, 1);
    for (std::size_t d = 0; d < r; ++d) {
      const std::size_t da = d < r - ra ? 1 : abatch[d - (r - ra)], db = d < r - rb ? 1 : bbatch[d - (r - rb)];
      TG_CHECK(ShapeError, da == db || da == 1 || db == 1, op, ": ", to_string(a), " @ ", to_string(b),
               " — batch dimensions ", to_string(abatch), " and ", to_string(bbatch), " do not broadcast");
      s.a_batch[d] = da;
      s.b_batch[d] = db;
      s.batch[d] = da == 1 ? db : da;
    }
    s.batches = numel(s.batch);
  }
  s.out = s.batch;
  if (!s.a_vec) s.out.push_back(s.m);
  if (!s.b_vec) s.out.push_back(s.n);
  return s;
}

/// f(t, ia, ib) for each batch t of the result and the batches of a and b it reads (their batch
/// dims broadcast; a with no batch dims is batch 0 throughout).
template <class F>
void for_each_batch(const MatmulShapes& s, F&& f) {
  const std::size_t r = s.batch.size();
  std::size_t idx[kMaxDims] = {};
  std::ptrdiff_t sa[kMaxDims], sb[kMaxDims];
  std::ptrdiff_t st_a = 1, st_b = 1;
  for (std::size_t d = r; d-- > 0;) {
    sa[d] = s.a_batch[d] == 1 ? 0 : st_a;
    sb[d] = s.b_batch[d] == 1 ? 0 : st_b;
    st_a *= std::ptrdiff_t(s.a_batch[d]);
    st_b *= std::ptrdiff_t(s.b_batch[d]);
  }
  std::ptrdiff_t ia = 0, ib = 0;
  for (std::size_t t = 0; t < s.batches; ++t) {
    f(t, std::size_t(ia), std::size_t(ib));
    for (std::size_t d = r; d-- > 0;) {
      ia += sa[d];
      ib += sb[d];
      if (++idx[d] < s.batch[d]) break;
      ia -= sa[d] * std::ptrdiff_t(s.batch[d]);
      ib -= sb[d] * std::ptrdiff_t(s.batch[d]);
      idx[d] = 0;
    }
  }
}

/// A (rows, cols) buffer holding a copy of the `index`-th rows·cols block of `src`.
template <class T>
const Array<T>& block(Array<T>& buffer, const Array<T>& src, std::size_t index) {
  const std::size_t n = buffer.size();
  if (n > 0) std::memcpy(buffer.data(), src.data() + index * n, n * sizeof(T));
  return buffer;
}

/// dst's `index`-th block (+)= buffer.
template <class T>
void add_block(const Array<T>& buffer, Array<T>& dst, std::size_t index, bool add) {
  const std::size_t n = buffer.size();
  T* d = dst.data() + index * n;
  const T* s = buffer.data();
  if (add) {
    for (std::size_t i = 0; i < n; ++i) d[i] += s[i];
  } else if (n > 0) {
    std::memcpy(d, s, n * sizeof(T));
  }
}

template <class T>
void matmul_backward(Backward<T>& b) {
  const MatmulShapes s = matmul_shapes(b.op(), b.input(0).shape(), b.input(1).shape());
  const Array<T>& g = b.grad_out();
  if (s.fold) {  // as the 2-D product, on the folded views
    const MatrixView<T> gv(g, s.rows, s.n);
    if (b.needs_grad(0)) {  // dA = G · Bᵀ
      auto t = b.grad_target(0);
      const MatrixView<T> dav(t.grad, s.rows, s.k), bv(b.input(1), s.k, s.n);
      kernels::gemm(false, true, T(1), *gv, *bv, T(t.add), *dav);
    }
    if (b.needs_grad(1)) {  // dB = Aᵀ · G
      auto t = b.grad_target(1);
      const MatrixView<T> dbv(t.grad, s.k, s.n), av(b.input(0), s.rows, s.k);
      kernels::gemm(true, false, T(1), *av, *gv, T(t.add), *dbv);
    }
    return;
  }
  const bool a_batched = !s.a_vec && b.input(0).dimension() > 2;
  Array<T>& gt = b.scratch({s.m, s.n});
  Array<T>& bt = b.scratch({s.k, s.n});
  Array<T>& at = b.scratch({s.m, s.k});
  if (b.needs_grad(0)) {  // dA_t (+)= G_t · B_tᵀ, summed over the batches that broadcast A_t
    auto t = b.grad_target(0);
    if (a_batched) {
      Array<T>& d = b.scratch({s.m, s.k});
      if (!t.add) t.grad.fill(T(0));
      for_each_batch(s, [&](std::size_t i, std::size_t ia, std::size_t ib) {
        kernels::gemm(false, true, T(1), block(gt, g, i), block(bt, b.input(1), ib), T(0), d);
        add_block(d, t.grad, ia, true);
      });
    } else {
      const MatrixView<T> dav(t.grad, s.m, s.k);
      bool add = t.add;
      for_each_batch(s, [&](std::size_t i, std::size_t, std::size_t ib) {
        kernels::gemm(false, true, T(1), block(gt, g, i), block(bt, b.input(1), ib), T(add), *dav);
        add = true;
      });
    }
  }
  if (b.needs_grad(1)) {  // dB_t (+)= A_tᵀ · G_t, summed over the batches that broadcast B_t
    auto t = b.grad_target(1);
    Array<T>& d = b.scratch({s.k, s.n});
    if (!t.add) t.grad.fill(T(0));
    const MatrixView<T> av(b.input(0), s.m, s.k, !a_batched);
    for_each_batch(s, [&](std::size_t i, std::size_t ia, std::size_t ib) {
      const Array<T>& a_t = a_batched ? block(at, b.input(0), ia) : *av;
      kernels::gemm(true, false, T(1), a_t, block(gt, g, i), T(0), d);
      add_block(d, t.grad, ib, true);
    });
  }
}

/// matmul and bmm of operands that are not both 2-D: the op's inputs are (a, b).
template <class T>
Var<T> matmul_nd(Op<T>& op) {
  const Array<T>& a = op.input(0);
  const Array<T>& b = op.input(1);
  const MatmulShapes s = matmul_shapes(op.name(), a.shape(), b.shape());
  Array<T>& y = op.output(s.out);
  if (s.a_vec && s.b_vec) {  // a dot product (a and b may be one array: no views)
    T total = 0;
    for (std::size_t i = 0; i < s.k; ++i) total += a.data()[i] * b.data()[i];
    y() = total;
  } else if (s.fold) {
    const MatrixView<T> av(a, s.rows, s.k), bv(b, s.k, s.n), yv(y, s.rows, s.n);
    kernels::gemm(false, false, T(1), *av, *bv, T(0), *yv);
  } else {
    const bool a_batched = !s.a_vec && a.dimension() > 2;
    Array<T>& at = op.save(0, {s.m, s.k});
    Array<T>& bt = op.save(1, {s.k, s.n});
    Array<T>& yt = op.save(2, {s.m, s.n});
    const MatrixView<T> av(a, s.m, s.k, !a_batched);
    for_each_batch(s, [&](std::size_t i, std::size_t ia, std::size_t ib) {
      kernels::gemm(false, false, T(1), a_batched ? block(at, a, ia) : *av, block(bt, b, ib), T(0), yt);
      add_block(yt, y, i, false);
    });
  }
  return op.finish(matmul_backward<T>);
}

}  // namespace tapegrad::detail
