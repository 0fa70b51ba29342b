// embedding: one op, whose backward adds each output row's gradient to its table row.
#include "tapegrad/embedding.hpp"

#include <algorithm>
#include <cmath>

#include "instantiate.hpp"

namespace tapegrad {

template <class T>
Var<T> embedding(const Var<T>& input, const Var<T>& weight, std::optional<std::int64_t> padding_idx) {
  Op<T> op("embedding", {input, weight});
  const Array<T>& ids = op.input(0);
  const Array<T>& w = op.input(1);
  TG_CHECK(ShapeError, w.dimension() == 2, "embedding: weight must be 2-D (num_embeddings, embedding_dim), got ",
           to_string(w.shape()));
  const std::size_t rows = w.shape()[0], dim = w.shape()[1];
  std::int64_t pad = -1;  // none
  if (padding_idx) {
    const std::int64_t p = *padding_idx, r = std::int64_t(rows);
    TG_CHECK(ValueError, p >= -r && p < r, "embedding: padding_idx ", p, " is outside [", -r, ", ", r,
             ") for a weight of shape ", to_string(w.shape()));
    pad = p < 0 ? p + r : p;
  }
  // The indices, checked, into the entry's own integer buffer (kept across steps).
  IndexArray& idx = op.save_indices(0, {ids.size()});
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const T v = ids.data()[i];
    TG_CHECK(ValueError, std::floor(v) == v && v >= T(0) && double(v) < double(rows), "embedding: index ", i, " is ",
             v, ", outside [0, ", rows, ") (the rows of weight ", to_string(w.shape()), ")");
    idx.data()[i] = std::int64_t(v);
  }
  Shape out_shape(ids.dimension() + 1);
  std::copy(ids.shape().begin(), ids.shape().end(), out_shape.begin());
  out_shape.back() = dim;
  Array<T>& y = op.output(out_shape);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const T* row = w.data() + std::size_t(idx.data()[i]) * dim;
    std::copy(row, row + dim, y.data() + i * dim);
  }
  op.save_scalar(0, double(pad));
  return op.finish([](Backward<T>& b) {
    if (!b.needs_grad(1)) return;  // the indices get no gradient
    const IndexArray& idx = b.saved_indices(0);
    const std::int64_t pad = std::int64_t(b.scalar(0));
    const std::size_t dim = b.input(1).shape()[1];
    const T* g = b.grad_out().data();
    auto t = b.grad_target(1);
    T* d = t.grad.data();
    if (!t.add) std::fill(d, d + t.grad.size(), T(0));
    for (std::size_t i = 0; i < idx.size(); ++i) {
      const std::int64_t r = idx.data()[i];
      if (r == pad) continue;
      T* row = d + std::size_t(r) * dim;
      const T* gi = g + i * dim;
      for (std::size_t k = 0; k < dim; ++k) row[k] += gi[k];
    }
  });
}

#define TAPEGRAD_SECTION(T) template Var<T> embedding(const Var<T>&, const Var<T>&, std::optional<std::int64_t>);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad
