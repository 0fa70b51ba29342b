#pragma once
// One op that builds its output from strided blocks of its inputs, and adds its gradient back
// into them: how the fused sequence ops hand out the several results of one tape entry (the
// output sequence, h_n and c_n of an RNN layer; the output and the attention weights of an
// attention). A tape entry has one output, so such an op packs its results into one array, and
// these copies read them out, each with a backward that adds into the packed gradient.
// Private to the library (src/detail/gather.cpp).
#include <cstddef>
#include <vector>

#include "tapegrad/tape.hpp"

namespace tapegrad::detail {

/// `count` blocks of `len` elements: block j of input `input`, starting at src + j·src_stride,
/// goes to the output at dst + j·dst_stride, times `scale`.
struct Piece {
  std::size_t input, src, src_stride, dst, dst_stride, len, count;
  double scale = 1;
};

/// The list of pieces of the calling thread, emptied: filled by the caller and passed to
/// gather(), it keeps its capacity, so that a steady loop allocates nothing.
std::vector<Piece>& scratch_pieces();

/// An op named `name` whose output, shaped `shape`, is the pieces of `op`'s inputs. Pieces that
/// overlap in the output, or scale by anything but 1, are added (the output starts at zero);
/// otherwise copied. Elements no piece writes are 0. Backward adds each piece's gradient,
/// times its scale, into its input's gradient (zero elsewhere).
template <class T>
Var<T> gather(Op<T>& op, const Shape& shape, const std::vector<Piece>& pieces);

}  // namespace tapegrad::detail
