#pragma once
/// Layer 2: the tape. A Wengert list of the ops run so far; `backward()` walks it in reverse.
///
///     tapegrad::Tape<float> tape;
///     tapegrad::Parameter<float> w(tapegrad::column({0.5f, -1.f}));   // (2, 1)
///     auto x = tape.constant(tapegrad::row({1.f, 2.f}));              // (1, 2)
///     auto loss = tapegrad::sum(tapegrad::matmul(x, w));
///     tape.backward(loss);        // w.grad() == {{1}, {2}}; the tape is now cleared
///
/// Ownership: parameters own their value and gradient and outlive every tape; everything an op
/// computes lives in the tape until `backward()` or `clear()` frees it. A `Var` is a small
/// handle checked on every use: a handle into a cleared or destroyed tape, or to a destroyed
/// parameter, is reported with a StateError, never read.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapegrad/array.hpp"
#include "tapegrad/buffers.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/handles.hpp"

namespace tapegrad {

template <class T>
class Tape;
template <class T>
class Var;
template <class T>
class Parameter;
template <class T>
class Op;
template <class T>
class Backward;

namespace detail {
struct TapeAccess;  // the debugging layer's read access to a tape's entries (src/debug.cpp)

}  // namespace detail

/// A value and its gradient. Parameters own one; each tape entry holds one.
template <class T>
struct Node {
  Array<T> value = empty_array<T>();
  Array<T> grad = empty_array<T>();  ///< meaningful only when `has_grad`
  bool requires_grad = false;  ///< a parameter, or computed from one while grad mode was on
  bool has_grad = false;       ///< lets the first contribution assign instead of add to zeros
  std::uint64_t version = 0;   ///< parameters: bumped by every write access to the value
};

/// Grad mode: thread-local, on by default. Switch it off with NoGradGuard.
bool grad_enabled() noexcept;

/// RAII: inside its scope ops record no backward rule, so their results are constants. They are
/// still values on the tape, kept until `clear()`: an evaluation loop clears the tape per batch.
///
///     tapegrad::NoGradGuard no_grad;
///     for (auto& batch : loader) {
///       auto logits = model.forward(tape.constant(std::move(batch.features)));
///       correct += tapegrad::accuracy(logits.value(), batch.targets) * batch.size();
///       tape.clear();   // the tape holds every value recorded on it until cleared
///     }
class NoGradGuard {
 public:
  NoGradGuard() noexcept;
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

/// A handle to a value used in ops: an entry of a tape, or a parameter.
///
/// Cheap to copy (16 bytes, no reference count). Checked on every use: a handle into a cleared
/// or destroyed tape, or to a destroyed parameter, throws StateError instead of reading freed
/// memory.
template <class T>
class Var {
 public:
  Var() = default;

  /// The value. Throws StateError for a dead handle.
  const Array<T>& value() const { return node().value; }
  const Shape& shape() const { return value().shape(); }
  std::size_t size() const { return value().size(); }
  /// The single element of a one-element value (e.g. a loss).
  T item() const;
  /// True for a parameter, or a value computed from one while grad mode was on.
  bool requires_grad() const { return node().requires_grad; }
  /// The gradient of a parameter. Throws StateError for any other value: the gradients of
  /// intermediate values live only during backward().
  const Array<T>& grad() const;

  bool defined() const noexcept { return slot_ != 0; }
  bool is_parameter() const noexcept { return defined() && index_ == kParameter; }
  /// The tape this value is recorded on; nullptr for a parameter. Throws StateError for a dead
  /// handle.
  Tape<T>* tape() const;
  /// Position on the tape (meaningless for parameters).
  std::uint32_t index() const noexcept { return index_; }

  /// Shorthand for `tape()->backward(*this)`.
  void backward() const;

 protected:
  friend class Tape<T>;
  friend class Op<T>;
  friend struct detail::TapeAccess;
  static constexpr std::uint32_t kParameter = 0xffffffffu;
  Var(std::uint32_t slot, std::uint32_t index, std::uint64_t stamp) : slot_(slot), index_(index), stamp_(stamp) {}
  /// The node behind the handle, after checking the handle is still valid.
  Node<T>& node() const;
  [[noreturn]] void invalid(const char* op) const;  // throws the StateError that explains why

  std::uint32_t slot_ = 0;  // 0: undefined
  std::uint32_t index_ = 0;
  std::uint64_t stamp_ = 0;
};

namespace detail {
/// A parameter's node and the slot its handles name.
template <class T>
struct ParameterState : Node<T> {
  ParameterState() : slot(acquire_slot(this)) {}
  ~ParameterState() { release_slot(slot); }
  ParameterState(const ParameterState&) = delete;
  ParameterState& operator=(const ParameterState&) = delete;
  std::uint32_t slot;
};
}  // namespace detail

/// A leaf that owns its value and gradient and outlives every tape.
///
/// Copies are handles to the same parameter (as in libtorch), so a module's member and the
/// registry entry seen through `parameters()` can never diverge.
///
///     tapegrad::Parameter<float> b(xt::zeros<float>({1, 4}));
///     b.mutable_value()(0, 0) = 1.f;   // changes every copy of the handle
///
/// A parameter is also a `Var`, so it is passed to ops directly: `linear(x, weight, bias)`.
/// Reading is free of side effects; writing goes through `mutable_value()` and `mutable_grad()`.
template <class T>
class Parameter : public Var<T> {
 public:
  Parameter() = default;  ///< an undefined handle; `defined()` is false
  explicit Parameter(Array<T> value) : state_(std::make_shared<detail::ParameterState<T>>()) {
    state_->value = std::move(value);
    state_->requires_grad = true;
    this->slot_ = state_->slot;
    this->index_ = Var<T>::kParameter;
    this->stamp_ = detail::handle_slot(state_->slot).stamp.load(std::memory_order_relaxed);
  }

  const Shape& shape() const { return state().value.shape(); }
  const Array<T>& value() const { return state().value; }
  /// The value, for writing. Counts as a modification: a backward through an op that read the
  /// parameter before this call throws StateError (its saved inputs no longer match), as
  /// PyTorch's "modified by an inplace operation".
  Array<T>& mutable_value() {
    ++state().version;
    return state().value;
  }
  /// How many times the value was handed out for writing.
  std::uint64_t version() const { return state().version; }

  /// The accumulated gradient, shaped as the value; zeros if nothing flowed into it since
  /// `zero_grad()` (reading it changes nothing: `has_grad()` stays false).
  const Array<T>& grad() const;
  /// True when a gradient flowed into the parameter (or was written) since `zero_grad()`;
  /// optimizers skip parameters without one, as PyTorch skips `grad is None`.
  bool has_grad() const { return state().has_grad; }
  /// The gradient, for writing (zeros if there was none); from now on `has_grad()` is true.
  Array<T>& mutable_grad();
  /// Resets the gradient to zero (lazily: the next backward assigns instead of adding).
  void zero_grad() const noexcept {
    if (state_) state_->has_grad = false;
  }

  bool requires_grad() const { return state().requires_grad; }
  /// Freezes (false) or unfreezes the parameter; a frozen one receives no gradient.
  void set_requires_grad(bool on) { state().requires_grad = on; }

  /// True when both handles refer to the same parameter.
  bool same(const Parameter& other) const noexcept { return state_ == other.state_; }
  /// The parameter's identity: equal for handles to the same parameter (null if undefined).
  const void* id() const noexcept { return state_.get(); }

 private:
  detail::ParameterState<T>& state() const {
    if (state_ == nullptr) undefined();
    return *state_;
  }
  [[noreturn]] static void undefined() {
    throw StateError("Parameter: use of an undefined (default-constructed) parameter");
  }
  std::shared_ptr<detail::ParameterState<T>> state_;
};

/// The signature of a backward rule: a plain function (a lambda that captures nothing).
/// What a rule needs beyond inputs, output and gradient it saves through the op's `Op`.
template <class T>
using BackwardFn = void (*)(Backward<T>&);

namespace detail {
struct Site;  // where an op was recorded: the innermost Label (tapegrad/debug.hpp)

/// An op's input: the node it read, and how to check that node is still the one it read.
template <class T>
struct InputRef {
  Node<T>* node = nullptr;
  std::uint32_t index = 0;  // the tape entry, or Var::kParameter
  std::uint32_t slot = 0;   // parameters: the slot and stamp that prove the node alive,
  std::uint64_t stamp = 0;  // and the version of the value the op read
  std::uint64_t version = 0;
  bool is_parameter() const noexcept { return index == 0xffffffffu; }
};

/// One recorded op. Entries are reused, position by position, from step to step, and every
/// container here keeps its capacity and buffers across clear(): a steady loop allocates nothing.
template <class T>
struct Entry {
  const char* op = "";
  BackwardFn<T> backward = nullptr;  // null for constants and for ops recorded without grad
  Node<T> out;
  Node<T>* alias = nullptr;  // Tape::bind: the entry stands for this parameter's node
  ReusedVector<InputRef<T>> inputs;
  // Owned one by one, so that a reference from Op::save() survives later save() calls.
  std::vector<std::unique_ptr<Array<T>>> saved;
  std::vector<std::unique_ptr<IndexArray>> saved_indices;
  std::vector<double> scalars;
  const Site* site = nullptr;  // the Label active when the op was recorded, if any
};

}  // namespace detail

/// Options for `Tape::backward`.
struct BackwardOptions {
  /// Keep the tape after backward, for a second backward through the same values.
  bool keep_graph = false;
};

/// The tape: records ops in execution order and replays them in reverse in `backward()`.
///
/// Not thread-safe: use one tape per thread. Handles into a tape are checked, so a tape may be
/// destroyed before them: using one afterwards throws StateError.
template <class T>
class Tape {
 public:
  Tape();
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  /// Records a constant (an input or a target): it carries no gradient. Copies `value` into a
  /// buffer of the tape's pool. The rvalue overload copies nothing: it swaps `value` with the
  /// buffer this entry held last step, so a loop that moves the same-shaped batch in each step
  /// (`tape.constant(std::move(batch.features))`, see DataLoader) neither copies nor allocates;
  /// `value` is left holding that old buffer (a valid array of unspecified contents).
  Var<T> constant(const Array<T>& value);
  Var<T> constant(Array<T>&& value);
  /// A handle on this tape that stands for `p` (no copy): for ops whose inputs are all
  /// parameters, which otherwise would not know which tape to record on.
  Var<T> bind(const Parameter<T>& p);

  /// Runs backward from a one-element value (the loss) with seed gradient 1, then clears the
  /// tape unless `options.keep_graph`. Throws StateError for a value with more than one
  /// element: use the overload with a seed.
  void backward(const Var<T>& root, BackwardOptions options = {});
  /// Runs backward from `root` with an explicit seed gradient shaped like `root`.
  void backward(const Var<T>& root, const Array<T>& seed, BackwardOptions options = {});

  /// Frees every value on the tape: handles become invalid, and the buffers are kept for reuse
  /// (each entry keeps its own for the op recorded at its position next step; others go to the
  /// pool), so memory stays flat over any number of steps. `release_memory()` gives it back.
  void clear();

  /// Number of recorded entries.
  std::size_t size() const noexcept { return size_; }
  /// Changes with each clear(); a handle remembers the generation it was made in.
  std::uint64_t generation() const noexcept { return stamp_; }
  /// The op name of entry `i`.
  const char* op_name(std::size_t i) const;
  /// Bytes held by the values, gradients and saved buffers of the recorded entries.
  std::size_t bytes_in_use() const noexcept;
  /// Bytes kept for reuse: buffers of cleared entries, the free pool and scratch space.
  std::size_t bytes_pooled() const noexcept;
  /// Bytes of the entry table itself (it grows with the longest tape recorded since the last
  /// release_memory(), and is kept across clear()).
  std::size_t bytes_of_entries() const noexcept;
  /// Clears the tape and returns every kept buffer and entry to the system (the next steps
  /// allocate again).
  void release_memory();

 private:
  friend class Var<T>;
  friend class Op<T>;
  friend class Backward<T>;
  friend struct detail::TapeAccess;

  detail::Entry<T>& entry(std::uint32_t i) { return chunks_[i >> kChunkBits][i & (kChunk - 1)]; }
  const detail::Entry<T>& entry(std::uint32_t i) const { return chunks_[i >> kChunkBits][i & (kChunk - 1)]; }
  Node<T>& node_at(std::uint32_t i) {
    detail::Entry<T>& e = entry(i);
    return e.alias ? *e.alias : e.out;
  }
  /// Shapes `a` as `shape`, contents unspecified. A buffer that already has that many elements
  /// is reshaped in place (the common case: a steady loop records the same ops with the same
  /// shapes each step, and each entry keeps its buffers across clear()); any other goes back to
  /// the pool and one of the right size is taken from it.
  TAPEGRAD_ALWAYS_INLINE void fit(Array<T>& a, const Shape& shape) {
    if (!same_shape(a.shape(), shape)) refit(a, shape);  // the steady loop never leaves this line
  }
  void refit(Array<T>& a, const Shape& shape);
  std::uint32_t push(const char* op);
  void pop();  // removes the last entry (an op that failed before finishing)
  void reset(detail::Entry<T>& e);
  void grow();
  Var<T> handle(std::uint32_t i) const { return Var<T>(slot_, i, generation()); }
  /// Checks input `k` of op `op` and says where it reads from: inline, since every op input
  /// goes through it.
  TAPEGRAD_ALWAYS_INLINE detail::InputRef<T> input_ref(const Var<T>& v, const char* op, std::size_t k) {
    const detail::HandleSlot& s = detail::handle_slot(v.slot_);
    if (s.stamp.load(std::memory_order_relaxed) != v.stamp_) v.invalid(op);
    if (v.index_ == Var<T>::kParameter) {
      auto* n = static_cast<Node<T>*>(s.target.load(std::memory_order_relaxed));
      return {n, v.index_, v.slot_, v.stamp_, n->version};
    }
    if (v.slot_ != slot_) on_another_tape(op, k);
    if (v.index_ >= size_) v.invalid(op);
    detail::Entry<T>& src = entry(v.index_);
    return src.alias ? bound(src, op, k) : detail::InputRef<T>{&src.out, v.index_, 0, 0, 0};
  }
  [[noreturn]] static void on_another_tape(const char* op, std::size_t k);
  static detail::InputRef<T> bound(const detail::Entry<T>& src, const char* op, std::size_t k);
  void run_backward(const Var<T>& root, const Array<T>* seed, BackwardOptions options);

  // Entries live in fixed-size chunks that are kept across clear(): references to an entry's
  // arrays stay valid while later ops are recorded, and a steady loop allocates nothing. A
  // cleared entry keeps its buffers (value, grad, saved) for the op recorded at the same
  // position next step, so a steady loop moves no arrays in or out of the pool either.
  static constexpr std::uint32_t kChunkBits = 8;
  static constexpr std::uint32_t kChunk = 1u << kChunkBits;
  std::vector<std::unique_ptr<detail::Entry<T>[]>> chunks_;
  std::uint32_t size_ = 0;
  std::uint32_t slot_;
  std::uint64_t stamp_;  // the slot's current stamp; only this tape changes it
  detail::BufferPool<T> pool_;
  std::uint64_t freed_by_backward_ = 0;  // the generation the last backward() cleared
  bool grads_dirty_ = false;  // a backward ran since the last clear(): entries may have has_grad set
  std::vector<std::unique_ptr<Array<T>>> scratch_;  // Backward::scratch
};

// Every value access goes through here.
template <class T>
TAPEGRAD_ALWAYS_INLINE inline Node<T>& Var<T>::node() const {
  detail::HandleSlot& s = detail::handle_slot(slot_);
  if (s.stamp.load(std::memory_order_relaxed) != stamp_) invalid("Var");
  void* target = s.target.load(std::memory_order_relaxed);
  if (index_ == kParameter) return *static_cast<Node<T>*>(target);
  Tape<T>& tape = *static_cast<Tape<T>*>(target);
  if (index_ >= tape.size_) invalid("Var");
  return tape.node_at(index_);
}

namespace detail {
/// A leaf's gradient for reading: zeros when none has flowed in, without counting as one.
template <class T>
const Array<T>& read_grad(Node<T>& n) {
  if (!n.has_grad) {
    if (!same_shape(n.grad.shape(), n.value.shape())) n.grad.resize(n.value.shape());
    n.grad.fill(T(0));
  }
  return n.grad;
}
}  // namespace detail

template <class T>
const Array<T>& Parameter<T>::grad() const {
  return detail::read_grad<T>(state());
}

template <class T>
Array<T>& Parameter<T>::mutable_grad() {
  detail::ParameterState<T>& n = state();
  detail::read_grad<T>(n);
  n.has_grad = true;
  return n.grad;
}

/// Defines an op: used by every built-in op, and by user code for custom ops. Name the op,
/// give its inputs, compute into `output(shape)`, and finish with a backward rule.
///
///     template <class T>
///     tapegrad::Var<T> softplus(const tapegrad::Var<T>& x) {
///       tapegrad::Op<T> op("softplus", {x});
///       tapegrad::Array<T>& y = op.output(x.shape());
///       xt::noalias(y) = xt::log1p(xt::exp(x.value()));
///       return op.finish([](tapegrad::Backward<T>& b) {
///         b.accumulate(0, b.grad_out() / (T(1) + xt::exp(-b.input(0))));
///       });
///     }
///
/// When grad mode is off or no input requires a gradient, `finish` records the output as a
/// constant and drops the rule. An op that throws before `finish` leaves no trace.
template <class T>
class Op {
 public:
  Op(const char* name, std::initializer_list<Var<T>> inputs) : Op(name, inputs.begin(), inputs.size()) {}
  /// Any number of inputs (cat, stack).
  Op(const char* name, const std::vector<Var<T>>& inputs) : Op(name, inputs.data(), inputs.size()) {}
  ~Op();
  Op(const Op&) = delete;
  Op& operator=(const Op&) = delete;

  const char* name() const noexcept { return name_; }
  Tape<T>& tape() const noexcept { return *tape_; }
  /// True when the op will record a backward rule.
  bool recording() const noexcept { return entry_->out.requires_grad; }
  std::size_t n_inputs() const noexcept { return entry_->inputs.size(); }
  /// The value of input `i`, checked once by the constructor (cheaper than `Var::value()`).
  const Array<T>& input(std::size_t i) const noexcept { return entry_->inputs[i].node->value; }
  /// The output buffer, shaped `shape`, contents unspecified: the op fills it.
  Array<T>& output(const Shape& shape);
  /// Extra buffer `i` saved for the backward rule (`Backward::saved(i)`), contents unspecified.
  /// References to earlier saved buffers stay valid.
  Array<T>& save(std::size_t i, const Shape& shape);
  /// Integer buffer `i` for the backward rule (`Backward::saved_indices(i)`): arg-max positions,
  /// lookup indices.
  IndexArray& save_indices(std::size_t i, const Shape& shape);
  /// Scalar `i` for the backward rule (`Backward::scalar(i)`): axes, strides, factors.
  void save_scalar(std::size_t i, double value) {
    std::vector<double>& s = entry_->scalars;
    if (i >= s.size()) s.resize(i + 1);  // once per entry: the vector keeps its size across steps
    s[i] = value;
  }

  /// Records `rule` (a lambda that captures nothing) and returns the output's handle.
  template <class Rule>
  Var<T> finish(Rule rule) {
    static_assert(std::is_convertible_v<Rule, BackwardFn<T>>,
                  "a backward rule must capture nothing: save what it needs with Op::save()");
    return finish_with(static_cast<BackwardFn<T>>(rule));
  }

 private:
  Op(const char* name, const Var<T>* inputs, std::size_t n);
  Var<T> finish_with(BackwardFn<T> rule);

  const char* name_;
  Tape<T>* tape_ = nullptr;
  detail::Entry<T>* entry_ = nullptr;  // entries never move (chunks are kept), so this stays valid
  std::uint32_t index_ = 0;
  bool has_output_ = false;
  bool finished_ = false;
};

/// What a backward rule sees: the output, its gradient, the inputs and what the op saved.
/// Gradients flow only through `accumulate` or `grad_target`, which check shapes and add
/// (fan-out) or assign (first contribution).
template <class T>
class Backward {
 public:
  const char* op() const noexcept { return e_.op; }
  const Array<T>& output() const noexcept { return e_.out.value; }
  const Array<T>& grad_out() const noexcept { return e_.out.grad; }
  std::size_t n_inputs() const noexcept { return e_.inputs.size(); }
  const Array<T>& input(std::size_t i) const { return node(i).value; }
  /// True when input `i` wants a gradient; rules skip the work for the others.
  bool needs_grad(std::size_t i) const { return node(i).requires_grad; }
  Array<T>& saved(std::size_t i) const { return *e_.saved[i]; }
  const IndexArray& saved_indices(std::size_t i) const { return *e_.saved_indices[i]; }
  double scalar(std::size_t i) const { return e_.scalars[i]; }

  /// Adds `g` to input `i`'s gradient (no-op if it needs none). `g` must have the input's shape.
  template <class E>
  void accumulate(std::size_t i, const E& g) {
    Node<T>& n = node(i);
    if (!n.requires_grad) return;
    check_shape(i, g.shape());
    if (n.has_grad) {
      xt::noalias(n.grad) += g;
    } else {
      prepare(n);
      xt::noalias(n.grad) = g;
      n.has_grad = true;
    }
  }

  /// For kernels that write gradients themselves (e.g. BLAS with beta = 0 or 1): the gradient
  /// buffer of input `i` (which must need a gradient), shaped as the input, and whether to add
  /// to it (`add`) or overwrite it. Handing it out counts it as written: the rule must write
  /// every element.
  struct Target {
    Array<T>& grad;
    bool add;
  };
  TAPEGRAD_ALWAYS_INLINE Target grad_target(std::size_t i) {
    Node<T>& n = node(i);
    if (!n.requires_grad) no_grad_wanted(i);
    const bool add = n.has_grad;
    if (!add) prepare(n);
    n.has_grad = true;
    return {n.grad, add};
  }

  /// A scratch buffer from the tape (any number per rule), valid until the rule returns.
  Array<T>& scratch(const Shape& shape);

 private:
  friend class Tape<T>;
  Backward(Tape<T>& tape, detail::Entry<T>& e) : tape_(tape), e_(e) {}
  Node<T>& node(std::size_t i) const { return *e_.inputs[i].node; }
  // Shapes n.grad as n.value: a tape node takes a buffer from the pool; a parameter's own
  // buffer is resized once (its value's shape cannot change under a recorded op: see version).
  TAPEGRAD_ALWAYS_INLINE void prepare(Node<T>& n) { tape_.fit(n.grad, n.value.shape()); }
  void check_shape(std::size_t i, const Shape& got) const;
  [[noreturn]] void no_grad_wanted(std::size_t i) const;
  template <class S>
  void check_shape(std::size_t i, const S& got) const {
    check_shape(i, Shape(got.begin(), got.end()));
  }

  Tape<T>& tape_;
  detail::Entry<T>& e_;
  std::size_t n_scratch_ = 0;
};

}  // namespace tapegrad
