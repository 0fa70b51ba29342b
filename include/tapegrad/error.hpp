#pragma once
/// Errors: every failure the library reports is a `tapegrad::Error`, of one of four kinds.
///
///     try { auto y = tapegrad::matmul(a, b); }
///     catch (const tapegrad::ShapeError& e) { std::cerr << e.what() << '\n'; }
///
/// The library never prints and never exits; it throws, after leaving every object it
/// touched as it was.
#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>

namespace tapegrad {

/// Base of every error tapegrad throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
/// Arrays whose shapes do not fit the op (the message names the op and every shape).
class ShapeError : public Error {
 public:
  using Error::Error;
};
/// An argument with a bad value: a learning rate <= 0, a label out of range, an empty batch.
class ValueError : public Error {
 public:
  using Error::Error;
};
/// An object used in a state that does not allow it: a handle into a cleared tape, a second
/// backward without keeping the tape, the gradient of a non-leaf.
class StateError : public Error {
 public:
  using Error::Error;
};
/// A file that is missing, unreadable, truncated or malformed (the message names the file).
class IoError : public Error {
 public:
  using Error::Error;
};
/// Anomaly mode (AnomalyGuard) found NaN or Inf in an op's output or in a gradient it computed;
/// the message names the op, where it was recorded (label, file:line) and its input shapes.
class AnomalyError : public ValueError {
 public:
  using ValueError::ValueError;
};
/// A broken internal invariant: a bug in tapegrad or in a user-defined op's backward rule.
class InternalError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace detail

}  // namespace tapegrad

/// Throws `Kind` (an error type, qualified as needed where it is used) with the concatenated
/// message when `cond` is false:
///
///     TG_CHECK(tapegrad::ShapeError, tapegrad::same_shape(a.shape(), b.shape()), "my_op: ",
///              tapegrad::to_string(a.shape()), " vs ", tapegrad::to_string(b.shape()));
#define TG_CHECK(Kind, cond, ...)                                         \
  do {                                                                    \
    if (!(cond)) throw Kind(::tapegrad::detail::concat(__VA_ARGS__));     \
  } while (false)

/// An invariant that only a bug can break.
#define TG_ASSERT(cond, ...) TG_CHECK(::tapegrad::InternalError, cond, "internal error: ", __VA_ARGS__)
