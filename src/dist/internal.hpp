#pragma once
// Private helpers of tapegrad::mpi: checked MPI calls, MPI datatypes, errors raised on every rank,
// and the one place that touches a parameter's gradient state.
#include <mpi.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "tapegrad/dist/environment.hpp"
#include "tapegrad/optim/optimizer.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad::dist::detail {

// Throws MpiError naming `call` unless `rc` is MPI_SUCCESS. (The default error handler,
// MPI_ERRORS_ARE_FATAL, aborts the job before this sees an error; an application that installs
// MPI_ERRORS_RETURN gets an exception instead.)
void check_mpi(int rc, const char* call);
#define TG_MPI(call) ::tapegrad::dist::detail::check_mpi((call), #call)

template <class T>
MPI_Datatype mpi_type();
template <>
inline MPI_Datatype mpi_type<float>() {
  return MPI_FLOAT;
}
template <>
inline MPI_Datatype mpi_type<double>() {
  return MPI_DOUBLE;
}
template <>
inline MPI_Datatype mpi_type<std::uint64_t>() {
  return MPI_UINT64_T;
}

// MPI counts are ints: these split longer buffers into pieces of at most 2^30 elements.
template <class T>
void broadcast(const Environment& env, T* data, std::size_t n, int root) {
  constexpr std::size_t kMax = std::size_t(1) << 30;
  for (std::size_t done = 0; done < n; done += kMax) {
    TG_MPI(MPI_Bcast(data + done, int(std::min(kMax, n - done)), mpi_type<T>(), root, env.comm()));
  }
}
template <class T>
void all_reduce_in_place(const Environment& env, T* data, std::size_t n) {
  constexpr std::size_t kMax = std::size_t(1) << 30;
  for (std::size_t done = 0; done < n; done += kMax) {
    TG_MPI(MPI_Allreduce(MPI_IN_PLACE, data + done, int(std::min(kMax, n - done)), mpi_type<T>(), MPI_SUM,
                         env.comm()));
  }
}

// Collective: every rank passes the problem it found ("" for none). If any rank found one,
// every rank throws the error of the lowest such rank (its kind and its message, which names
// the rank when the job has several), so no rank goes on into a collective the others skip.
enum class ErrorKind : int { none = 0, error, value, shape, state, io, mismatch, mpi };
void raise_if_any(const Environment& env, ErrorKind kind, const std::string& message);
// Runs `fn` on rank `root` only; if it throws a tapegrad::Error (or std::exception), every rank
// throws it (raise_if_any). Collective.
void on_root(const Environment& env, int root, const std::function<void()>& fn);
// Throws on this rank the error raise_if_any transports.
[[noreturn]] void throw_kind(ErrorKind kind, const std::string& message);

// ---- A parameter's gradient state -----------------------------------------------------------
// The only place tapegrad::mpi reads or writes a parameter's gradient.

// True when `p` received a gradient since its last zero_grad(): reading it changes nothing.
template <class T>
bool grad_is_set(const Parameter<T>& p) {
  return p.has_grad();
}
// The gradient, for reading; only called when grad_is_set(p).
template <class T>
const Array<T>& read_grad(const Parameter<T>& p) {
  return p.grad();
}
// The gradient, for writing: shaped like the value, zeros if it was not set, and from now on set.
template <class T>
Array<T>& write_grad(Parameter<T>& p) {
  return p.mutable_grad();
}

// broadcast_optimizer_state in two halves, for dist::load: the check before root reads the file,
// the values after (src/dist/parameters.cpp).
template <class T>
void check_same_optimizer(const Environment& env, const optim::Optimizer<T>& optimizer);
template <class T>
void broadcast_optimizer_values(const Environment& env, optim::Optimizer<T>& optimizer, int root);

}  // namespace tapegrad::dist::detail
