#include "tapegrad/tape.hpp"

#include <algorithm>

#include "tapegrad/debug.hpp"

namespace tapegrad {

// ---- grad mode ----------------------------------------------------------------------------

// Every op reads the thread-local modes (grad, anomaly, label). Under -fPIC the default TLS
// model reaches them through a call to __tls_get_addr, which also makes each op's functions
// save and restore registers; initial-exec is a load from %fs. Its one limit, a library loaded
// with dlopen() needs room in the static TLS block, is met: these are 16 bytes, and glibc keeps
// spare room for exactly this.
#if defined(__GNUC__) || defined(__clang__)
#define TAPEGRAD_TLS_FAST __attribute__((tls_model("initial-exec")))
#else
#define TAPEGRAD_TLS_FAST
#endif

namespace {
TAPEGRAD_TLS_FAST thread_local bool t_grad_enabled = true;
}

bool grad_enabled() noexcept { return t_grad_enabled; }
NoGradGuard::NoGradGuard() noexcept : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

// ---- anomaly mode and labels (tapegrad/debug.hpp): here, next to the hooks that read them ----

namespace {
TAPEGRAD_TLS_FAST thread_local bool t_anomaly = false;
TAPEGRAD_TLS_FAST thread_local const detail::Site* t_site = nullptr;
}  // namespace

bool anomaly_enabled() noexcept { return t_anomaly; }
AnomalyGuard::AnomalyGuard(bool on) noexcept : previous_(t_anomaly) { t_anomaly = on; }
AnomalyGuard::~AnomalyGuard() { t_anomaly = previous_; }
const detail::Site* detail::current_site() noexcept { return t_site; }
void detail::set_current_site(const Site* site) noexcept { t_site = site; }

// ---- buffer pool --------------------------------------------------------------------------

namespace detail {

template <class T>
Array<T> BufferPool<T>::acquire(const Shape& shape) {
  const std::size_t n = numel(shape);
  for (auto& [size, list] : free_) {
    if (size == n && !list.empty()) {
      Array<T> a = std::move(list.back());
      list.pop_back();
      bytes_ -= n * sizeof(T);
      a.resize(shape);  // same element count: no reallocation
      return a;
    }
  }
  return Array<T>(shape);
}

template <class T>
void BufferPool<T>::release(Array<T>& a) {
  const std::size_t n = a.size();
  if (n == 0 || a.data() == nullptr) return;
  auto it = std::find_if(free_.begin(), free_.end(), [n](const auto& p) { return p.first == n; });
  if (it == free_.end()) {
    free_.emplace_back(n, std::vector<Array<T>>{});
    it = free_.end() - 1;
  }
  it->second.push_back(std::move(a));
  a = empty_array<T>();
  bytes_ += n * sizeof(T);
}

}  // namespace detail

// ---- Var ----------------------------------------------------------------------------------

template <class T>
void Var<T>::invalid() const {
  TG_CHECK(StateError, tape_ != nullptr, "use of an undefined Var (default-constructed handle)");
  tape_->check(*this, "Var");
  throw InternalError("internal error: Var::invalid on a live handle");
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
  if (param_) return detail::leaf_grad(*param_);
  Node<T>& n = node();  // validates the handle first
  (void)n;
  throw StateError(detail::concat("grad: the output of '", tape_->op_name(index_),
                                  "' is not a leaf; only parameters keep their gradient after backward()"));
}

template <class T>
void Var<T>::backward() const {
  TG_CHECK(StateError, tape_ != nullptr,
           "backward: this value is a parameter not bound to a tape; there is nothing to differentiate");
  tape_->backward(*this);
}

// ---- Tape ---------------------------------------------------------------------------------

template <class T>
Tape<T>::Tape() = default;

template <class T>
void Tape<T>::invalid(const Var<T>& v, const char* op) const {
  TG_CHECK(StateError, v.tape_ != nullptr, op, ": an input is an undefined Var (default-constructed handle)");
  TG_CHECK(StateError, v.tape_ == this, op, ": an input is recorded on another tape");
  TG_ASSERT(v.generation_ != generation_, "Tape::invalid on a live handle");
  TG_CHECK(StateError, v.generation_ != freed_by_backward_, op,
           ": this value was freed by backward(), which clears the tape; to run backward twice, "
           "pass BackwardOptions{true} (keep_graph) to the first one");
  throw StateError(detail::concat(op, ": handle to a value of a cleared tape (recorded in generation ",
                                  v.generation_, ", the tape is at generation ", generation_,
                                  "); values do not outlive Tape::clear()"));
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
  chunks_.push_back(std::make_unique<detail::Entry<T>[]>(kChunk));
}

template <class T>
std::uint32_t Tape<T>::push(const char* op) {
  // Growing is rare (once per 256 entries, kept across clear()): out of line, so that this
  // path, taken by every op, stays a few instructions.
  if (size_ == chunks_.size() * kChunk) grow();
  detail::Entry<T>& e = entry(size_);
  e.op = op;
  e.site = t_site;  // the innermost Label, for printing and anomaly messages
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
const char* Tape<T>::op_name(std::size_t i) const {
  TG_CHECK(ValueError, i < size_, "Tape::op_name: index ", i, " out of range (size ", size_, ")");
  return entry(static_cast<std::uint32_t>(i)).op;
}

template <class T>
std::size_t Tape<T>::bytes_in_use() const noexcept {
  std::size_t bytes = 0;
  for (std::uint32_t i = 0; i < size_; ++i) {
    const auto& e = entry(i);
    bytes += e.out.value.size() + e.out.grad.size();
    for (const auto& s : e.saved) bytes += s.size();
  }
  return bytes * sizeof(T);
}

template <class T>
void Tape<T>::reset(detail::Entry<T>& e) {
  // The buffers stay with the entry for the next op recorded here (see fit()).
  e.backward = nullptr;
  e.n_inputs = 0;
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
  ++generation_;
}

template <class T>
void Tape<T>::release_memory() {
  clear();
  for (auto& chunk : chunks_) {
    for (std::uint32_t j = 0; j < kChunk; ++j) {
      detail::Entry<T>& e = chunk[j];
      e.out.value = empty_array<T>();
      e.out.grad = empty_array<T>();
      for (auto& s : e.saved) s = empty_array<T>();
    }
  }
  for (auto& s : scratch_) s = empty_array<T>();
  pool_ = detail::BufferPool<T>();
}

template <class T>
std::size_t Tape<T>::bytes_pooled() const noexcept {
  // The free pool, plus the buffers that cleared entries and the scratch space keep for reuse.
  std::size_t n = 0;
  for (std::size_t c = 0; c < chunks_.size(); ++c) {
    for (std::uint32_t j = 0; j < kChunk; ++j) {
      if (c * kChunk + j < size_) continue;
      const detail::Entry<T>& e = chunks_[c][j];
      n += e.out.value.size() + e.out.grad.size();
      for (const auto& s : e.saved) n += s.size();
    }
  }
  for (const auto& s : scratch_) n += s.size();
  return pool_.bytes_held() + n * sizeof(T);
}

template <class T>
void Tape<T>::backward(const Var<T>& root, BackwardOptions options) {
  run_backward(root, nullptr, options);
}

template <class T>
void Tape<T>::backward(const Var<T>& root, const Array<T>& seed, BackwardOptions options) {
  run_backward(root, &seed, options);
}

template <class T>
void Tape<T>::run_backward(const Var<T>& root, const Array<T>* seed, BackwardOptions options) {
  check(root, "backward");
  TG_CHECK(StateError, !root.param_, "backward: the root is a parameter, not a value computed on this tape");
  Node<T>& r = entry(root.index_).out;
  TG_CHECK(StateError, r.requires_grad, "backward: the value '", entry(root.index_).op,
           "' does not depend on any parameter that requires a gradient (or was computed under NoGradGuard)");
  if (seed) {
    TG_CHECK(ShapeError, seed->shape() == r.value.shape(), "backward: seed gradient of shape ",
             to_string(seed->shape()), " for a value of shape ", to_string(r.value.shape()));
  } else {
    TG_CHECK(StateError, r.value.size() == 1, "backward: the value '", entry(root.index_).op,
             "' has shape ", to_string(r.value.shape()),
             "; backward() without a seed needs a one-element value (pass a seed gradient)");
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
    Backward<T> ctx(*this, e);
    e.backward(ctx);
    if (t_anomaly) detail::check_backward_anomaly(*this, i);
  }

  if (!options.keep_graph) {
    clear();
    freed_by_backward_ = generation_ - 1;
  }
}

// ---- Op -----------------------------------------------------------------------------------

template <class T>
Op<T>::Op(const char* name, std::initializer_list<Var<T>> inputs) : name_(name) {
  TG_CHECK(ValueError, inputs.size() <= kMaxInputs, name, ": ", inputs.size(), " inputs; an op takes at most ",
           kMaxInputs);
  for (const Var<T>& v : inputs) {
    if (v.tape()) {
      tape_ = v.tape();
      break;
    }
  }
  TG_CHECK(StateError, tape_ != nullptr, name,
           ": no input is on a tape (all are parameters); bind one with tape.param(p)");
  // The entry first, then one pass over the inputs that checks each handle once and writes
  // it into the entry; a bad handle pops the entry again, so a failed op leaves no trace.
  index_ = tape_->push(name);
  entry_ = &tape_->entry(index_);
  detail::Entry<T>& e = *entry_;
  bool any_requires = false;
  std::uint8_t k = 0;
  for (const Var<T>& v : inputs) {
    if (!v.is_parameter() && !tape_->live(v)) {
      tape_->pop();
      tape_->check(v, name);  // throws the StateError that explains the handle
    }
    Node<T>* n = v.is_parameter() ? &v.node() : &tape_->entry(v.index()).out;
    inputs_[k] = n;
    any_requires = any_requires || n->requires_grad;
    e.inputs[k].param = v.is_parameter() ? n : nullptr;
    e.inputs[k].index = v.index();
    ++k;
  }
  const bool record = any_requires && t_grad_enabled;
  e.out.requires_grad = record;
  // Anomaly mode names the inputs even of ops that record no rule; otherwise a constant keeps none.
  e.n_inputs = record || t_anomaly ? k : 0;
}

template <class T>
Op<T>::~Op() {
  if (!finished_ && tape_ != nullptr && tape_->size() == std::size_t(index_) + 1) tape_->pop();
}

template <class T>
Array<T>& Op<T>::output(const Shape& shape) {
  detail::Entry<T>& e = entry();
  tape_->fit(e.out.value, shape);
  has_output_ = true;
  return e.out.value;
}

template <class T>
Array<T>& Op<T>::save(std::size_t i, const Shape& shape) {
  TG_ASSERT(i < kMaxSaved, name_, ": saved buffer index ", i, " >= ", kMaxSaved);
  detail::Entry<T>& e = entry();
  tape_->fit(e.saved[i], shape);
  return e.saved[i];
}

template <class T>
void Op<T>::save_scalar(std::size_t i, double value) {
  TG_ASSERT(i < kMaxSaved, name_, ": saved scalar index ", i, " >= ", kMaxSaved);
  entry().scalars[i] = value;
}

template <class T>
Var<T> Op<T>::finish_with(BackwardFn<T> rule) {
  TG_ASSERT(has_output_, name_, ": finish() called before output()");
  detail::Entry<T>& e = entry();
  if (e.out.requires_grad) e.backward = rule;
  if (t_anomaly) detail::check_forward_anomaly(*tape_, index_);  // throws before finished_: ~Op pops
  finished_ = true;
  return tape_->handle(index_);
}

// ---- Backward -----------------------------------------------------------------------------

template <class T>
void Backward<T>::check_shape(std::size_t i, const Shape& got) const {
  const Shape& want = node(i).value.shape();
  TG_CHECK(InternalError, same_shape(got, want), "backward of '", e_.op, "': gradient for input ", i, " has shape ",
           to_string(got), " but the input has shape ", to_string(want));
}

template <class T>
Array<T>& Backward<T>::scratch(const Shape& shape) {
  TG_ASSERT(n_scratch_ < 4, "backward of '", e_.op, "': more than 4 scratch buffers");
  Array<T>& s = tape_.scratch_[n_scratch_++];
  tape_.fit(s, shape);
  return s;
}

template <class T>
Backward<T>::~Backward() = default;

#define TAPEGRAD_INSTANTIATE(T)         \
  template class detail::BufferPool<T>; \
  template class Var<T>;                \
  template class Tape<T>;               \
  template class Op<T>;                 \
  template class Backward<T>;
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad
