#pragma once
/// Debugging: anomaly mode, labels, and tape inspection (text and Graphviz DOT).
///
///     tapegrad::AnomalyGuard anomaly;                 // NaN/Inf now raise AnomalyError
///     {
///       tapegrad::Label label("loss");                // ops recorded here are labelled "loss"
///       loss = tapegrad::bce(tapegrad::sigmoid(z), y);
///     }
///     std::cout << tapegrad::tape_to_string(tape, model.named_parameters());
///     std::ofstream("tape.dot") << tapegrad::tape_to_dot(tape, model.named_parameters());
///
/// Anomaly mode is thread-local and off by default; when off, its hooks cost one thread-local
/// load per op and per backward step.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/tape.hpp"

namespace tapegrad {

// -- anomaly mode ------------------------------------------------------------------------------

/// True while an AnomalyGuard is active on this thread.
bool anomaly_enabled() noexcept;

/// RAII: inside its scope (on this thread), the first op whose output holds NaN or Inf, or whose
/// backward rule writes NaN or Inf into an input's gradient, throws AnomalyError naming the op,
/// its tape entry, its Label (name, file and line) and its input shapes. As
/// `torch.autograd.detect_anomaly`, but in forward too. Each op's output and gradients are scanned,
/// so it costs a pass over memory per op: use it to find a NaN, not to train.
///
/// A forward anomaly leaves the tape as before the op (the failing entry is removed). A backward
/// anomaly stops backward and keeps the tape for inspection (tape_to_string); gradients already
/// accumulated into parameters stay: zero them before the next step.
///
/// Optimizer steps are checked too: a step that makes a parameter NaN or Inf throws AnomalyError
/// naming the optimizer and the parameter's index, and is undone (parameters, optimizer state
/// and step count as before it; see optim::Optimizer::update_parameter).
///
///     { tapegrad::AnomalyGuard anomaly; train_one_step(); }
class AnomalyGuard {
 public:
  explicit AnomalyGuard(bool on = true) noexcept;
  ~AnomalyGuard();
  AnomalyGuard(const AnomalyGuard&) = delete;
  AnomalyGuard& operator=(const AnomalyGuard&) = delete;

 private:
  bool previous_;
};

namespace detail {
/// Where ops were recorded: a label path ("model/encoder") and the file and line of the
/// innermost Label. Interned: each distinct site is stored once and lives until the program ends,
/// so tape entries can point to it after the Label's scope has closed.
struct Site {
  std::string label;
  std::string file;
  int line = 0;
};
}  // namespace detail

// -- labels ------------------------------------------------------------------------------------

/// RAII: names the ops recorded in its scope (on this thread), for anomaly messages and tape
/// printing. Labels nest into paths ("model/layer1"). With g++ and clang the file and line of the
/// Label's construction are captured too.
///
///     { tapegrad::Label label("encoder"); h = encoder.forward(x); }
class Label {
 public:
#if defined(__GNUC__) || defined(__clang__)
  explicit Label(const std::string& name, const char* file = __builtin_FILE(), int line = __builtin_LINE());
#else
  explicit Label(const std::string& name, const char* file = "", int line = 0);
#endif
  ~Label();
  Label(const Label&) = delete;
  Label& operator=(const Label&) = delete;

  /// The full path of this label ("model/layer1").
  const std::string& path() const noexcept { return site_->label; }

 private:
  const detail::Site* previous_;
  const detail::Site* site_;
};

/// The path of the innermost active Label on this thread, or "" if there is none.
std::string current_label();

// -- tape inspection ---------------------------------------------------------------------------

/// Parameter names for printing: what Module::named_parameters() returns. A parameter missing
/// from the list prints as "param@<address>".
template <class T>
using ParameterNames = std::vector<std::pair<std::string, Parameter<T>>>;

/// The tape as a text table, one line per entry: index, op, output shape, whether it requires a
/// gradient, bytes it holds (value, gradient and saved buffers), its inputs and its label; then
/// the totals (Tape::bytes_in_use and the pooled bytes).
///
///     std::cout << tapegrad::tape_to_string(tape, model.named_parameters());
template <class T>
std::string tape_to_string(const Tape<T>& tape, const ParameterNames<T>& names = {});

/// The tape as a Graphviz DOT digraph: one box per entry (op, shape, bytes; filled when it
/// requires a gradient), one ellipse per parameter read, edges from inputs to ops. Render with
/// `dot -Tsvg tape.dot -o tape.svg`.
template <class T>
std::string tape_to_dot(const Tape<T>& tape, const ParameterNames<T>& names = {});

}  // namespace tapegrad
