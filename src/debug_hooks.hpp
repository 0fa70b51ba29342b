#pragma once
// What the tape reads from the debugging layer on every op: the anomaly flag, the innermost
// Label, and the anomaly checks. Private, so that the tape does not include tapegrad/debug.hpp
// (which includes the tape); defined in src/debug.cpp.
#include <cstdint>

#include "tapegrad/tape.hpp"

// Every op reads the thread-local modes (grad, anomaly, label). Under -fPIC the default TLS
// model reaches them through a call to __tls_get_addr, which also makes each op's functions
// save and restore registers; initial-exec is a load from %fs. Its one limit, a library loaded
// with dlopen() needs room in the static TLS block, is met: these are a few bytes, and glibc
// keeps spare room for exactly this.
#if defined(__GNUC__) || defined(__clang__)
#define TAPEGRAD_TLS_FAST __attribute__((tls_model("initial-exec")))
#else
#define TAPEGRAD_TLS_FAST
#endif

namespace tapegrad::detail {

struct Site;
extern TAPEGRAD_TLS_FAST thread_local bool t_anomaly;
extern TAPEGRAD_TLS_FAST thread_local const Site* t_site;

/// Throw AnomalyError if entry `index`'s output (forward) or the gradients its rule just wrote
/// (backward) hold NaN or Inf. Called only while anomaly mode is on.
template <class T>
void check_forward_anomaly(const Tape<T>& tape, std::uint32_t index);
template <class T>
void check_backward_anomaly(const Tape<T>& tape, std::uint32_t index);

/// The debugging layer's read access to a tape (entries are private to the tape).
struct TapeAccess {
  template <class T>
  static const Entry<T>& entry(const Tape<T>& tape, std::uint32_t i) {
    return tape.entry(i);
  }
  template <class T>
  static const Node<T>* node(const Parameter<T>& p) {
    return p.defined() ? &p.node() : nullptr;
  }
};

}  // namespace tapegrad::detail
