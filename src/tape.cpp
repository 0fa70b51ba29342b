#include "tapegrad/tape.hpp"

#include <algorithm>
#include <mutex>

#include "debug_hooks.hpp"
#include "instantiate.hpp"

namespace tapegrad {

// ---- grad mode ----------------------------------------------------------------------------

namespace {
TAPEGRAD_TLS_FAST thread_local bool t_grad_enabled = true;
}
// Defined here, where every op reads them, not in debug.cpp, which sets them: an extern
// thread_local is reached through a wrapper call, a local one with a single load.
TAPEGRAD_TLS_FAST thread_local bool detail::t_anomaly = false;
TAPEGRAD_TLS_FAST thread_local const detail::Site* detail::t_site = nullptr;

bool grad_enabled() noexcept { return t_grad_enabled; }
NoGradGuard::NoGradGuard() noexcept : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

// ---- Var ----------------------------------------------------------------------------------

template <class T>
void Var<T>::invalid(const char* op) const {
  TG_CHECK(StateError, slot_ != 0, op, ": use of an undefined Var (a default-constructed handle)");
  const detail::HandleSlot& s = detail::handle_slot(slot_);
  const std::uint64_t now = s.stamp.load(std::memory_order_relaxed);
  // The slot may have a new owner by now: only a handle at least as young as the owner's first
  // stamp may look at it.
  const bool same_owner = stamp_ >= s.born.load(std::memory_order_relaxed) && s.target.load() != nullptr;
  TG_CHECK(StateError, index_ != kParameter || (same_owner && stamp_ == now), op,
           ": the parameter behind this handle was destroyed");
  TG_CHECK(StateError, same_owner, op, ": the tape this value was recorded on was destroyed");
  const auto& tape = *static_cast<const Tape<T>*>(s.target.load(std::memory_order_relaxed));
  TG_CHECK(StateError, stamp_ != tape.freed_by_backward_, op,
           ": this value was freed by backward(), which clears the tape; to run backward twice, "
           "pass BackwardOptions{true} (keep_graph) to the first one");
  TG_CHECK(StateError, stamp_ != now, op, ": handle to entry ", index_, " of a tape that holds ", tape.size(),
           " entries");
  throw StateError(detail::concat(op, ": handle to a value of a cleared tape (recorded in generation ", stamp_,
                                  ", the tape is at generation ", now, "); values do not outlive Tape::clear()"));
}

template <class T>
Tape<T>* Var<T>::tape() const {
  if (index_ == kParameter && slot_ != 0) return nullptr;
  node();  // throws for a dead handle
  return static_cast<Tape<T>*>(detail::handle_slot(slot_).target.load(std::memory_order_relaxed));
}

template <class T>
T Var<T>::item() const {
  const Array<T>& v = value();
  TG_CHECK(ValueError, v.size() == 1, "item: the value has shape ", to_string(v.shape()),
           ", not exactly one element");
  return *v.data();
}

template <class T>
const Array<T>& Var<T>::grad() const {
  Node<T>& n = node();  // validates the handle first
  if (index_ == kParameter) return detail::read_grad(n);
  Tape<T>& t = *tape();
  TG_CHECK(StateError, t.entry(index_).alias != nullptr, "grad: the output of '", t.op_name(index_),
           "' is not a leaf; only parameters keep their gradient after backward()");
  return detail::read_grad(n);  // a bound parameter
}

template <class T>
void Var<T>::backward() const {
  TG_CHECK(StateError, slot_ != 0, "backward: called on an undefined Var (a default-constructed handle)");
  Tape<T>* t = tape();
  TG_CHECK(StateError, t != nullptr,
           "backward: this value is a parameter, not a value computed on a tape; there is nothing to differentiate");
  t->backward(*this);
}

// ---- Tape ---------------------------------------------------------------------------------

template <class T>
Tape<T>::Tape() : slot_(detail::acquire_slot(this)), stamp_(detail::handle_slot(slot_).stamp.load()) {}

template <class T>
Tape<T>::~Tape() {
  detail::release_slot(slot_);
}

template <class T>
void Tape<T>::refit(Array<T>& a, const Shape& shape) {
  // Same element count: reshape in place (no reallocation). Otherwise swap through the pool.
  if (a.size() == numel(shape)) {
    a.resize(shape);
    return;
  }
  pool_.release(a);
  a = pool_.acquire(shape);
}

template <class T>
void Tape<T>::grow() {
  TG_CHECK(StateError, chunks_.size() < (std::size_t(1) << (32 - kChunkBits)) - 1,
           "Tape: more than 2^32 - 2^8 entries recorded without clear()");
  chunks_.push_back(std::make_unique<detail::Entry<T>[]>(kChunk));
}

template <class T>
std::uint32_t Tape<T>::push(const char* op) {
  // Growing is rare (once per 256 entries, kept across clear()): out of line, so that this
  // path, taken by every op, stays a few instructions.
  if (size_ == chunks_.size() * kChunk) grow();
  detail::Entry<T>& e = entry(size_);
  e.op = op;
  e.site = detail::t_site;  // the innermost Label, for printing and anomaly messages
  return size_++;
}

template <class T>
Var<T> Tape<T>::constant(Array<T>&& value) {
  const std::uint32_t i = push("constant");
  std::swap(entry(i).out.value, value);
  return handle(i);
}

template <class T>
Var<T> Tape<T>::constant(const Array<T>& value) {
  const std::uint32_t i = push("constant");
  Array<T>& out = entry(i).out.value;
  fit(out, value.shape());
  std::copy(value.data(), value.data() + value.size(), out.data());
  return handle(i);
}

template <class T>
Var<T> Tape<T>::bind(const Parameter<T>& p) {
  Node<T>& n = p.node();  // checks the parameter is alive
  const std::uint32_t i = push("parameter");
  detail::Entry<T>& e = entry(i);
  e.alias = &n;
  e.inputs.push_back({&n, Var<T>::kParameter, p.slot_, p.stamp_, n.version});
  return handle(i);
}

template <class T>
void Tape<T>::on_another_tape(const char* op, std::size_t k) {
  throw StateError(detail::concat(op, ": input ", k, " is recorded on another tape"));
}

// A bound parameter is read, and checked in backward, as the parameter itself.
template <class T>
detail::InputRef<T> Tape<T>::bound(const detail::Entry<T>& src, const char* op, std::size_t k) {
  detail::InputRef<T> ref = src.inputs[0];
  TG_CHECK(StateError, detail::handle_slot(ref.slot).stamp.load(std::memory_order_relaxed) == ref.stamp, op,
           ": input ", k, " is a bound parameter that was destroyed");
  ref.version = ref.node->version;
  return ref;
}

template <class T>
const char* Tape<T>::op_name(std::size_t i) const {
  TG_CHECK(ValueError, i < size_, "Tape::op_name: index ", i, " out of range (size ", size_, ")");
  return entry(static_cast<std::uint32_t>(i)).op;
}

namespace {
template <class T>
std::size_t buffer_elements(const detail::Entry<T>& e) {
  std::size_t n = e.out.value.size() + e.out.grad.size();
  for (const auto& s : e.saved) n += s->size();
  return n;
}
}  // namespace

template <class T>
std::size_t Tape<T>::bytes_in_use() const noexcept {
  std::size_t n = 0, indices = 0;
  for (std::uint32_t i = 0; i < size_; ++i) {
    n += buffer_elements(entry(i));
    for (const auto& s : entry(i).saved_indices) indices += s->size();
  }
  return n * sizeof(T) + indices * sizeof(std::int64_t);
}

template <class T>
std::size_t Tape<T>::bytes_pooled() const noexcept {
  // The free pool, plus the buffers that cleared entries and the scratch space keep for reuse.
  std::size_t n = 0;
  for (std::size_t i = size_; i < chunks_.size() * kChunk; ++i) n += buffer_elements(entry(std::uint32_t(i)));
  for (const auto& s : scratch_) n += s->size();
  return pool_.bytes_held() + n * sizeof(T);
}

template <class T>
std::size_t Tape<T>::bytes_of_entries() const noexcept {
  return chunks_.size() * kChunk * sizeof(detail::Entry<T>);
}

template <class T>
void Tape<T>::reset(detail::Entry<T>& e) {
  // The buffers stay with the entry for the next op recorded here (see fit()).
  e.backward = nullptr;
  e.alias = nullptr;
  e.inputs.clear();
  e.out.requires_grad = false;
  e.out.has_grad = false;
}

template <class T>
void Tape<T>::pop() {
  TG_ASSERT(size_ > 0, "pop on an empty tape");
  reset(entry(--size_));
}

template <class T>
void Tape<T>::clear() {
  for (std::uint32_t i = 0; i < size_; ++i) reset(entry(i));
  size_ = 0;
  grads_dirty_ = false;
  stamp_ = detail::bump_stamp(slot_);
}

template <class T>
void Tape<T>::release_memory() {
  clear();
  chunks_.clear();
  chunks_.shrink_to_fit();
  scratch_.clear();
  scratch_.shrink_to_fit();
  pool_ = detail::BufferPool<T>();
}

template <class T>
void Tape<T>::backward(const Var<T>& root, BackwardOptions options) {
  run_backward(root, nullptr, options);
}

template <class T>
void Tape<T>::backward(const Var<T>& root, const Array<T>& seed, BackwardOptions options) {
  run_backward(root, &seed, options);
}

namespace {
// Before a rule reads a parameter or writes its gradient: the parameter must be alive and hold
// the value the op read (a value replaced since, even by one of another shape, would be read
// past its end by the rule).
template <class T>
void check_parameter(const detail::InputRef<T>& ref, const char* op) {
  const detail::HandleSlot& s = detail::handle_slot(ref.slot);
  TG_CHECK(StateError, s.stamp.load(std::memory_order_relaxed) == ref.stamp, "backward of '", op,
           "': a parameter it read was destroyed before backward()");
  TG_CHECK(StateError, ref.node->version == ref.version, "backward of '", op,
           "': a parameter it read was modified (mutable_value()) after the op and before backward() ",
           "(version ", ref.version, " when read, now ", ref.node->version,
           "); run the forward again after changing parameters");
}
}  // namespace

template <class T>
void Tape<T>::run_backward(const Var<T>& root, const Array<T>* seed, BackwardOptions options) {
  TG_CHECK(StateError, root.defined(), "backward: called on an undefined Var (a default-constructed handle)");
  TG_CHECK(StateError, !root.is_parameter(),
           "backward: the root is a parameter, not a value computed on a tape; there is nothing to differentiate");
  Node<T>& r = root.node();  // checks the handle
  TG_CHECK(StateError, root.tape() == this, "backward: the root is recorded on another tape");
  const char* name = entry(root.index_).op;
  TG_CHECK(StateError, r.requires_grad && entry(root.index_).alias == nullptr, "backward: the value '", name,
           "' does not depend on any parameter that requires a gradient (or was computed under NoGradGuard)");
  if (seed) {
    TG_CHECK(ShapeError, same_shape(seed->shape(), r.value.shape()), "backward: seed gradient of shape ",
             to_string(seed->shape()), " for a value of shape ", to_string(r.value.shape()));
  } else {
    TG_CHECK(StateError, r.value.size() == 1, "backward: the value '", name, "' has shape ",
             to_string(r.value.shape()), "; backward() without a seed needs a one-element value (pass a seed gradient)");
  }

  // Every parameter a rule will read must be alive and unchanged: checked before any rule runs,
  // so that a backward that fails leaves every gradient as it was.
  for (std::uint32_t i = 0; i <= root.index_; ++i) {
    const detail::Entry<T>& e = entry(i);
    if (e.backward == nullptr) continue;
    for (const auto& ref : e.inputs) {
      if (ref.is_parameter()) check_parameter(ref, e.op);
    }
  }

  // A kept tape (keep_graph, or a rule that threw) may hold gradients of an earlier backward:
  // start from zero. clear() resets every entry, so a fresh tape needs no pass here.
  if (grads_dirty_) {
    for (std::uint32_t i = 0; i <= root.index_; ++i) entry(i).out.has_grad = false;
  }
  grads_dirty_ = true;

  fit(r.grad, r.value.shape());
  if (seed) {
    std::copy(seed->data(), seed->data() + seed->size(), r.grad.data());
  } else {
    r.grad.fill(T(1));
  }
  r.has_grad = true;

  // Reverse execution order is a topological order: no sort, no recursion.
  for (std::uint32_t i = root.index_ + 1; i-- > 0;) {
    detail::Entry<T>& e = entry(i);
    if (e.backward == nullptr || !e.out.has_grad) continue;  // constant, or no gradient reached it
    Backward<T> b(*this, e);
    e.backward(b);
    if (detail::t_anomaly) detail::check_backward_anomaly(*this, i);
  }

  if (!options.keep_graph) {
    const std::uint64_t cleared = generation();
    clear();
    freed_by_backward_ = cleared;
  }
}

// ---- Op -----------------------------------------------------------------------------------

template <class T>
Op<T>::Op(const char* name, const Var<T>* inputs, std::size_t n) : name_(name) {
  // The tape is the first input's that is not a parameter.
  for (std::size_t k = 0; k < n && tape_ == nullptr; ++k) {
    const Var<T>& v = inputs[k];
    if (v.slot_ == 0 || v.index_ == Var<T>::kParameter) continue;
    const detail::HandleSlot& s = detail::handle_slot(v.slot_);
    if (s.stamp.load(std::memory_order_relaxed) != v.stamp_) v.invalid(name);
    tape_ = static_cast<Tape<T>*>(s.target.load(std::memory_order_relaxed));
  }
  if (tape_ == nullptr) {
    for (std::size_t k = 0; k < n; ++k) {
      if (!inputs[k].defined()) inputs[k].invalid(name);
    }
    TG_CHECK(ValueError, n > 0, name, ": an op needs at least one input");
    throw StateError(detail::concat(name, ": no input is on a tape (all are parameters); bind one with tape.bind(p)"));
  }
  // The entry first, then one pass over the inputs that checks each handle once and writes it
  // into the entry; a bad handle pops the entry again, so a failed op leaves no trace.
  index_ = tape_->push(name);
  entry_ = &tape_->entry(index_);
  try {
    bool any_requires = false;
    detail::ReusedVector<detail::InputRef<T>>& refs = entry_->inputs;
    refs.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
      refs[k] = tape_->input_ref(inputs[k], name, k);
      any_requires = any_requires || refs[k].node->requires_grad;
    }
    entry_->out.requires_grad = any_requires && t_grad_enabled;
  } catch (...) {
    tape_->pop();
    throw;
  }
}

template <class T>
Op<T>::~Op() {
  if (!finished_ && tape_ != nullptr && tape_->size() == std::size_t(index_) + 1) tape_->pop();
}

template <class T>
Array<T>& Op<T>::output(const Shape& shape) {
  tape_->fit(entry_->out.value, shape);
  has_output_ = true;
  return entry_->out.value;
}

namespace {
// The i-th slot of an entry's owned buffers, created on first use and kept across steps.
template <class A>
A& slot_of(std::vector<std::unique_ptr<A>>& list, std::size_t i) {
  while (list.size() <= i) list.push_back(std::make_unique<A>(A::from_shape({0})));
  return *list[i];
}
}  // namespace

template <class T>
Array<T>& Op<T>::save(std::size_t i, const Shape& shape) {
  Array<T>& a = slot_of(entry_->saved, i);
  tape_->fit(a, shape);
  return a;
}

template <class T>
IndexArray& Op<T>::save_indices(std::size_t i, const Shape& shape) {
  IndexArray& a = slot_of(entry_->saved_indices, i);
  if (!same_shape(a.shape(), shape)) a.resize(shape);
  return a;
}

template <class T>
Var<T> Op<T>::finish_with(BackwardFn<T> rule) {
  TG_ASSERT(has_output_, name_, ": finish() called before output()");
  detail::Entry<T>& e = *entry_;
  if (e.out.requires_grad) {
    e.backward = rule;
  } else if (!detail::t_anomaly) {
    e.inputs.clear();  // a constant keeps no inputs (anomaly mode names them in its messages)
  }
  if (detail::t_anomaly) detail::check_forward_anomaly(*tape_, index_);  // throws before finished_: ~Op pops
  finished_ = true;
  return tape_->handle(index_);
}

// ---- Backward -----------------------------------------------------------------------------

template <class T>
void Backward<T>::no_grad_wanted(std::size_t i) const {
  throw InternalError(detail::concat("backward of '", e_.op, "': grad_target(", i,
                                     ") for an input that needs no gradient (check needs_grad first)"));
}

template <class T>
void Backward<T>::check_shape(std::size_t i, const Shape& got) const {
  const Shape& want = node(i).value.shape();
  TG_CHECK(InternalError, same_shape(got, want), "backward of '", e_.op, "': gradient for input ", i, " has shape ",
           to_string(got), " but the input has shape ", to_string(want));
}

template <class T>
Array<T>& Backward<T>::scratch(const Shape& shape) {
  Array<T>& s = slot_of(tape_.scratch_, n_scratch_++);
  tape_.fit(s, shape);
  return s;
}

#define TAPEGRAD_TAPE(T)                \
  template class Var<T>;                \
  template class Tape<T>;               \
  template class Op<T>;                 \
  template class Backward<T>;
TAPEGRAD_INSTANTIATE(TAPEGRAD_TAPE)

}  // namespace tapegrad
