#include "detail/gather.hpp"

#include <algorithm>

#include "instantiate.hpp"

namespace tapegrad::detail {

std::vector<Piece>& scratch_pieces() {
  static thread_local std::vector<Piece> pieces;
  pieces.clear();
  return pieces;
}

namespace {

constexpr std::size_t kFields = 8;  // per piece in the saved index array; the scale apart

template <class T>
void gather_backward(Backward<T>& b) {
  const IndexArray& spec = b.saved_indices(0);
  const Array<T>& scales = b.saved(0);
  const std::size_t n = spec.shape()[0];
  const T* g = b.grad_out().data();
  for (std::size_t k = 0; k < b.n_inputs(); ++k) {
    if (!b.needs_grad(k)) continue;
    auto t = b.grad_target(k);
    if (!t.add) t.grad.fill(T(0));
    T* out = t.grad.data();
    for (std::size_t p = 0; p < n; ++p) {
      const std::int64_t* q = spec.data() + p * kFields;
      if (std::size_t(q[0]) != k) continue;
      const std::size_t src = std::size_t(q[1]), ss = std::size_t(q[2]), dst = std::size_t(q[3]),
                        ds = std::size_t(q[4]), len = std::size_t(q[5]), count = std::size_t(q[6]);
      const T scale = scales.data()[p];
      for (std::size_t j = 0; j < count; ++j) {
        T* o = out + src + j * ss;
        const T* gi = g + dst + j * ds;
        if (scale == T(1)) {
          for (std::size_t i = 0; i < len; ++i) o[i] += gi[i];
        } else {
          for (std::size_t i = 0; i < len; ++i) o[i] += scale * gi[i];
        }
      }
    }
  }
}

}  // namespace

template <class T>
Var<T> gather(Op<T>& op, const Shape& shape, const std::vector<Piece>& pieces) {
  Array<T>& y = op.output(shape);
  IndexArray& spec = op.save_indices(0, {pieces.size(), kFields});
  Array<T>& scales = op.save(0, {pieces.size()});
  bool add = false;
  std::size_t covered = 0;
  for (std::size_t p = 0; p < pieces.size(); ++p) {
    const Piece& q = pieces[p];
    std::int64_t* row = spec.data() + p * kFields;
    row[0] = std::int64_t(q.input);
    row[1] = std::int64_t(q.src);
    row[2] = std::int64_t(q.src_stride);
    row[3] = std::int64_t(q.dst);
    row[4] = std::int64_t(q.dst_stride);
    row[5] = std::int64_t(q.len);
    row[6] = std::int64_t(q.count);
    row[7] = 0;
    scales.data()[p] = T(q.scale);
    add = add || q.scale != 1;
    covered += q.len * q.count;
  }
  // Pieces that cover more than the output overlap; fewer leave elements to zero.
  add = add || covered > y.size();
  if (add || covered < y.size()) y.fill(T(0));
  for (const Piece& q : pieces) {
    const T* src = op.input(q.input).data() + q.src;
    T* dst = y.data() + q.dst;
    const T scale = T(q.scale);
    for (std::size_t j = 0; j < q.count; ++j) {
      const T* s = src + j * q.src_stride;
      T* d = dst + j * q.dst_stride;
      if (!add) {
        std::copy(s, s + q.len, d);
      } else {
        for (std::size_t i = 0; i < q.len; ++i) d[i] += scale * s[i];
      }
    }
  }
  return op.finish(gather_backward<T>);
}

#define TAPEGRAD_SECTION(T) template Var<T> gather(Op<T>&, const Shape&, const std::vector<Piece>&);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad::detail
