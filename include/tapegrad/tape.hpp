#pragma once
/// Layer 2: the tape. A Wengert list of the ops run so far; `backward()` walks it in reverse.
///
///     tapegrad::Tape<float> tape;
///     tapegrad::Parameter<float> w(Array<float>{{0.5f}, {-1.f}});   // (2, 1)
///     auto x = tape.constant(Array<float>{{1.f, 2.f}});             // (1, 2)
///     auto loss = tapegrad::sum(tapegrad::matmul(x, w));
///     tape.backward(loss);        // w.grad() == {{1}, {2}}; the tape is now cleared
///
/// Ownership: parameters own their value and gradient and outlive every tape; everything an op
/// computes lives in the tape until `backward()` or `clear()` frees it. A `Var` is a small
/// handle (tape, index, generation) that is checked on every use, so a handle into a cleared
/// tape is reported, never read.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapegrad/array.hpp"
#include "tapegrad/error.hpp"

namespace tapegrad {

template <class T>
class Tape;
template <class T>
class Var;
template <class T>
class Parameter;
template <class T>
class Backward;

/// A value and its gradient. Parameters own one; each tape entry holds one.
template <class T>
struct Node {
  Array<T> value = empty_array<T>();
  Array<T> grad = empty_array<T>();  ///< meaningful only when `has_grad`; otherwise zero
  bool requires_grad = false;  ///< a parameter, or computed from one while grad mode was on
  bool has_grad = false;       ///< lets the first contribution assign instead of add to zeros
};

namespace detail {
/// The gradient of a leaf, materialised as zeros if nothing has flowed into it yet.
template <class T>
Array<T>& leaf_grad(Node<T>& n) {
  if (!n.has_grad) {
    if (n.grad.shape() != n.value.shape()) n.grad.resize(n.value.shape());
    n.grad.fill(T(0));
    n.has_grad = true;
  }
  return n.grad;
}
}  // namespace detail

/// Grad mode: thread-local, on by default. Switch it off with NoGradGuard.
bool grad_enabled() noexcept;

/// RAII: inside its scope ops record no backward rule, so their results are constants.
///
///     { tapegrad::NoGradGuard no_grad; auto p = model.forward(x); }   // evaluation only
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
/// Cheap to copy (24 bytes, no reference count). Checked on every use: a handle into a
/// cleared tape throws StateError instead of reading freed memory.
template <class T>
class Var {
 public:
  Var() = default;

  /// The value. Throws StateError for a handle into a cleared tape.
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

  bool defined() const noexcept { return tape_ != nullptr || param_ != nullptr; }
  bool is_parameter() const noexcept { return param_ != nullptr; }
  /// The tape this value is recorded on, or nullptr for a parameter not bound to a tape.
  Tape<T>* tape() const noexcept { return tape_; }
  /// Position on the tape (meaningless for parameters).
  std::uint32_t index() const noexcept { return index_; }

  /// Shorthand for `tape()->backward(*this)`.
  void backward() const;

  /// The node behind the handle, after checking the handle is still valid.
  Node<T>& node() const;  // inline, below Tape: the check is two compares on every value access

 protected:
  friend class Tape<T>;
  Var(Tape<T>* tape, Node<T>* param, std::uint32_t index, std::uint32_t generation)
      : tape_(tape), param_(param), index_(index), generation_(generation) {}
  [[noreturn]] void invalid() const;  // throws the StateError that explains why the handle is dead

  Tape<T>* tape_ = nullptr;
  Node<T>* param_ = nullptr;
  std::uint32_t index_ = 0;
  std::uint32_t generation_ = 0;
};

/// A leaf that owns its value and gradient and outlives every tape.
///
/// Copies are handles to the same parameter (as in libtorch), so a module's member and the
/// registry entry seen through `parameters()` can never diverge.
///
///     tapegrad::Parameter<float> b(xt::zeros<float>({1, 4}));
///     b.value()(0, 0) = 1.f;   // changes every copy of the handle
///
/// A parameter is also a `Var`, so it is passed to ops directly: `linear(x, weight, bias)`.
template <class T>
class Parameter : public Var<T> {
 public:
  Parameter() = default;  ///< an undefined handle; `defined()` is false
  explicit Parameter(Array<T> value) : node_(std::make_shared<Node<T>>()) {
    node_->value = std::move(value);
    node_->requires_grad = true;
    this->param_ = node_.get();
  }

  const Shape& shape() const { return node().value.shape(); }
  Array<T>& value() { return node().value; }
  const Array<T>& value() const { return node().value; }

  /// The accumulated gradient, shaped as the value (zeros if nothing flowed into it yet).
  Array<T>& grad() const { return detail::leaf_grad(node()); }
  /// Resets the gradient to zero (lazily: the next backward assigns instead of adding).
  void zero_grad() const noexcept {
    if (node_) node_->has_grad = false;
  }

  bool requires_grad() const { return node().requires_grad; }
  /// Freezes (false) or unfreezes the parameter; a frozen one receives no gradient.
  void set_requires_grad(bool on) { node().requires_grad = on; }

  /// The node behind the handle.
  Node<T>& node() const {
    TG_CHECK(StateError, node_ != nullptr, "Parameter: use of an undefined (default-constructed) parameter");
    return *node_;
  }
  /// True when both handles refer to the same parameter.
  bool same(const Parameter& other) const noexcept { return node_ == other.node_; }

 private:
  std::shared_ptr<Node<T>> node_;
};

/// The signature of a backward rule: a plain function (a lambda that captures nothing).
/// What a rule needs beyond inputs, output and gradient it saves through the op's `Op`.
template <class T>
using BackwardFn = void (*)(Backward<T>&);

/// Most inputs an op can have.
inline constexpr std::size_t kMaxInputs = 4;
/// Extra arrays and scalars an op can save for its backward rule.
inline constexpr std::size_t kMaxSaved = 2;

namespace detail {
struct Site;  // where an op was recorded: the innermost Label (tapegrad/debug.hpp)

/// Which node an op read: a parameter's (by address) or a tape entry's (by index).
template <class T>
struct InputRef {
  Node<T>* param = nullptr;
  std::uint32_t index = 0;
};

template <class T>
struct Entry {
  const char* op = "";
  BackwardFn<T> backward = nullptr;  // null for constants and for ops recorded without grad
  std::uint8_t n_inputs = 0;
  InputRef<T> inputs[kMaxInputs];
  Node<T> out;
  Array<T> saved[kMaxSaved] = {empty_array<T>(), empty_array<T>()};
  double scalars[kMaxSaved] = {0, 0};
  const Site* site = nullptr;  // the Label active when the op was recorded, if any
};

/// Buffers returned by a cleared tape, reused by the next step. Keyed by element count:
/// resizing an xtensor array to another shape of the same size does not reallocate.
template <class T>
class BufferPool {
 public:
  Array<T> acquire(const Shape& shape);
  void release(Array<T>& a);
  std::size_t bytes_held() const noexcept { return bytes_; }

 private:
  std::vector<std::pair<std::size_t, std::vector<Array<T>>>> free_;
  std::size_t bytes_ = 0;
};
}  // namespace detail

/// Options for `Tape::backward`.
struct BackwardOptions {
  /// Keep the tape after backward, for a second backward through the same values.
  bool keep_graph = false;
};

/// The tape: records ops in execution order and replays them in reverse in `backward()`.
///
/// Not thread-safe: use one tape per thread. The tape must outlive the handles into it.
template <class T>
class Tape {
 public:
  Tape();  // out of line: the buffers' initialisers are compiled once, in tape.cpp
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  /// Records a constant (an input or a target): it carries no gradient. Copies `value` into a
  /// buffer of the tape's pool. The rvalue overload copies nothing: it swaps `value` with the
  /// buffer this entry held last step, so a loop that moves the same-shaped batch in each step
  /// (`tape.constant(std::move(batch.features))`, see DataLoader) neither copies nor allocates;
  /// `value` is left holding that old buffer (a valid array of unspecified contents).
  Var<T> constant(const Array<T>& value);
  Var<T> constant(Array<T>&& value);
  /// A handle to `p` bound to this tape, for ops whose inputs are all parameters.
  Var<T> param(const Parameter<T>& p) { return Var<T>(this, &p.node(), 0, generation_); }

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
  /// Incremented by each clear(); a handle remembers the generation it was made in.
  std::uint32_t generation() const noexcept { return generation_; }
  /// The op name of entry `i`.
  const char* op_name(std::size_t i) const;
  /// Bytes held by recorded values and gradients, and by the pool of free buffers.
  std::size_t bytes_in_use() const noexcept;
  std::size_t bytes_pooled() const noexcept;
  /// Clears the tape and returns every kept buffer to the system (the next steps allocate again).
  void release_memory();

  // -- for ops (see Op) --------------------------------------------------------------------
  detail::Entry<T>& entry(std::uint32_t i) { return chunks_[i >> kChunkBits][i & (kChunk - 1)]; }
  const detail::Entry<T>& entry(std::uint32_t i) const {
    return chunks_[i >> kChunkBits][i & (kChunk - 1)];
  }
  Node<T>& resolve(const detail::InputRef<T>& ref) { return ref.param ? *ref.param : entry(ref.index).out; }
  void release(Array<T>& a) { pool_.release(a); }
  Array<T> acquire(const Shape& shape) { return pool_.acquire(shape); }
  /// Shapes `a` as `shape`, contents unspecified. A buffer that already has that many elements
  /// is reshaped in place (the common case: a steady loop records the same ops with the same
  /// shapes each step, and each entry keeps its buffers across clear()); any other goes back to
  /// the pool and one of the right size is taken from it.
  void fit(Array<T>& a, const Shape& shape) {
    if (!same_shape(a.shape(), shape)) refit(a, shape);  // the steady loop never leaves this line
  }
  std::uint32_t push(const char* op);
  /// Removes the last entry (an op that failed before finishing).
  void pop();
  Var<T> handle(std::uint32_t i) { return Var<T>(this, nullptr, i, generation_); }
  /// Throws StateError if `v` is not a live value of this tape; `op` names the caller.
  void check(const Var<T>& v, const char* op) const {
    if (v.param_ == nullptr && !live(v)) invalid(v, op);
  }
  /// True when `v` is a live entry of this tape (not a parameter).
  bool live(const Var<T>& v) const noexcept { return v.tape_ == this && v.generation_ == generation_; }

 private:
  void reset(detail::Entry<T>& e);
  void refit(Array<T>& a, const Shape& shape);
  void grow();
  [[noreturn]] void invalid(const Var<T>& v, const char* op) const;
  void run_backward(const Var<T>& root, const Array<T>* seed, BackwardOptions options);

  friend class Backward<T>;
  // Entries live in fixed-size chunks that are kept across clear(): references to an entry's
  // arrays stay valid while later ops are recorded, and a steady loop allocates nothing. A
  // cleared entry keeps its buffers (value, grad, saved) for the op recorded at the same
  // position next step, so a steady loop moves no arrays in or out of the pool either.
  static constexpr std::uint32_t kChunkBits = 8;
  static constexpr std::uint32_t kChunk = 1u << kChunkBits;
  std::vector<std::unique_ptr<detail::Entry<T>[]>> chunks_;
  std::uint32_t size_ = 0;
  detail::BufferPool<T> pool_;
  std::uint32_t generation_ = 1;
  std::uint32_t freed_by_backward_ = 0;  // the generation the last backward() cleared
  bool grads_dirty_ = false;  // a backward ran since the last clear(): entries may have has_grad set
  Array<T> scratch_[4] = {empty_array<T>(), empty_array<T>(), empty_array<T>(), empty_array<T>()};  // Backward::scratch
};

template <class T>
inline Node<T>& Var<T>::node() const {
  if (param_) return *param_;
  if (tape_ == nullptr || !tape_->live(*this)) invalid();
  return tape_->entry(index_).out;
}

/// Defines an op: used by every built-in op, and by user code for custom ops. Name the op,
/// give its inputs, compute into `output(shape)`, and finish with a backward rule.
///
///     template <class T>
///     Var<T> softplus(const Var<T>& x) {
///       Op<T> op("softplus", {x});
///       Array<T>& y = op.output(x.shape());
///       xt::noalias(y) = xt::log1p(xt::exp(x.value()));
///       return op.finish([](Backward<T>& b) {
///         b.accumulate(0, b.grad_out() / (1 + xt::exp(-b.input(0))));
///       });
///     }
///
/// When grad mode is off or no input requires a gradient, `finish` records the output as a
/// constant and drops the rule.
template <class T>
class Op {
 public:
  Op(const char* name, std::initializer_list<Var<T>> inputs);
  /// An op that throws before `finish` leaves no trace: its entry is removed from the tape.
  ~Op();
  Op(const Op&) = delete;
  Op& operator=(const Op&) = delete;

  const char* name() const noexcept { return name_; }
  Tape<T>& tape() const noexcept { return *tape_; }
  /// True when the op will record a backward rule.
  bool recording() const noexcept { return entry().out.requires_grad; }
  /// The value of input `i`, checked once by the constructor (cheaper than `Var::value()`).
  const Array<T>& input(std::size_t i) const noexcept { return inputs_[i]->value; }
  /// The output buffer, shaped `shape`, contents unspecified: the op fills it.
  Array<T>& output(const Shape& shape);
  /// An extra buffer saved for the backward rule (`Backward::saved(i)`), contents unspecified.
  Array<T>& save(std::size_t i, const Shape& shape);
  /// A scalar saved for the backward rule (`Backward::scalar(i)`).
  void save_scalar(std::size_t i, double value);

  /// Records `rule` (a lambda that captures nothing) and returns the output's handle.
  template <class Rule>
  Var<T> finish(Rule rule) {
    static_assert(std::is_convertible_v<Rule, BackwardFn<T>>,
                  "a backward rule must capture nothing: save what it needs with Op::save()");
    return finish_with(static_cast<BackwardFn<T>>(rule));
  }

 private:
  Var<T> finish_with(BackwardFn<T> rule);
  detail::Entry<T>& entry() const { return *entry_; }

  const char* name_;
  Tape<T>* tape_ = nullptr;
  detail::Entry<T>* entry_ = nullptr;  // entries never move (chunks are kept), so this stays valid
  Node<T>* inputs_[kMaxInputs];  // set by the constructor for every input
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
  Backward(Tape<T>& tape, detail::Entry<T>& e) : tape_(tape), e_(e) {
    // Resolved once: a rule asks for each input's node several times (needs_grad, input,
    // grad_target, mark_written).
    for (std::size_t i = 0; i < e.n_inputs; ++i) nodes_[i] = &tape.resolve(e.inputs[i]);
  }

  const char* op() const noexcept { return e_.op; }
  const Array<T>& output() const noexcept { return e_.out.value; }
  const Array<T>& grad_out() const noexcept { return e_.out.grad; }
  std::size_t n_inputs() const noexcept { return e_.n_inputs; }
  const Array<T>& input(std::size_t i) const { return node(i).value; }
  /// True when input `i` wants a gradient; rules skip the work for the others.
  bool needs_grad(std::size_t i) const { return node(i).requires_grad; }
  Array<T>& saved(std::size_t i) const { return e_.saved[i]; }
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
  /// buffer of input `i`, shaped as the input, and whether to add to it (`add`) or overwrite
  /// it. After writing, the rule must call `mark_written(i)`.
  struct Target {
    Array<T>& grad;
    bool add;
  };
  Target grad_target(std::size_t i) {
    Node<T>& n = node(i);
    if (!n.has_grad) prepare(n);
    return {n.grad, n.has_grad};
  }
  void mark_written(std::size_t i) { node(i).has_grad = true; }

  /// A scratch buffer from the tape's pool (at most 4 per rule), valid until the rule returns.
  Array<T>& scratch(const Shape& shape);
  ~Backward();

 private:
  Node<T>& node(std::size_t i) const { return *nodes_[i]; }
  // Shapes n.grad as n.value: a tape node takes a buffer from the pool; a parameter whose value
  // was replaced by one of another shape resizes its own.
  void prepare(Node<T>& n) { tape_.fit(n.grad, n.value.shape()); }
  void check_shape(std::size_t i, const Shape& got) const;
  template <class S>
  void check_shape(std::size_t i, const S& got) const {
    check_shape(i, Shape(got.begin(), got.end()));
  }

  Tape<T>& tape_;
  detail::Entry<T>& e_;
  Node<T>* nodes_[kMaxInputs] = {};
  std::size_t n_scratch_ = 0;
};

}  // namespace tapegrad
