#pragma once
/// A pair of sizes, one per spatial dimension (height, width), as libtorch's ExpandingArray<2>:
/// `3` means (3, 3) and `{3, 5}` means (3, 5). The kernel sizes, strides, paddings and dilations
/// of convolutions and pooling (tapegrad/conv.hpp, tapegrad/pooling.hpp). Kept signed, so that a
/// negative value is reported by the op that receives it instead of wrapping around.
#include <cstdint>
#include <string>
#include <type_traits>

namespace tapegrad {

struct Size2 {
  /// (0, 0): for an optional argument, "not given" (e.g. a pooling stride, which then defaults to
  /// the kernel size).
  constexpr Size2() = default;
  /// (v, v).
  template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
  constexpr Size2(I v) : h(std::int64_t(v)), w(std::int64_t(v)) {}  // NOLINT: implicit, as ExpandingArray
  /// (h, w).
  template <class I, class J, class = std::enable_if_t<std::is_integral_v<I> && std::is_integral_v<J>>>
  constexpr Size2(I h_, J w_) : h(std::int64_t(h_)), w(std::int64_t(w_)) {}

  std::int64_t h = 0, w = 0;

  constexpr bool operator==(const Size2& o) const noexcept { return h == o.h && w == o.w; }
  constexpr bool operator!=(const Size2& o) const noexcept { return !(*this == o); }
};

/// "(3, 5)", as shapes are written in messages.
inline std::string to_string(const Size2& s) { return "(" + std::to_string(s.h) + ", " + std::to_string(s.w) + ")"; }

}  // namespace tapegrad
