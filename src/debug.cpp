// Anomaly mode, labels and tape printing. The tape reads the thread-local flags on every op
// through the private debug_hooks.hpp.
#include "tapegrad/debug.hpp"

#include <cmath>
#include <iomanip>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <tuple>

#include "debug_hooks.hpp"
#include "instantiate.hpp"

namespace tapegrad {

bool anomaly_enabled() noexcept { return detail::t_anomaly; }
AnomalyGuard::AnomalyGuard(bool on) noexcept : previous_(detail::t_anomaly) { detail::t_anomaly = on; }
AnomalyGuard::~AnomalyGuard() { detail::t_anomaly = previous_; }

// ---- labels -------------------------------------------------------------------------------------

namespace {
struct SiteLess {
  bool operator()(const detail::Site& a, const detail::Site& b) const {
    return std::tie(a.label, a.file, a.line) < std::tie(b.label, b.file, b.line);
  }
};

// Each distinct (path, file, line) once, for the life of the program: tape entries keep a pointer.
const detail::Site* intern(detail::Site site) {
  static std::mutex mutex;
  static std::set<detail::Site, SiteLess> sites;  // std::set never moves its elements
  std::lock_guard<std::mutex> lock(mutex);
  return &*sites.insert(std::move(site)).first;
}
}  // namespace

Label::Label(const std::string& name, const char* file, int line) : previous_(detail::t_site) {
  detail::Site site;
  site.label = previous_ ? previous_->label + "/" + name : name;
  site.file = file ? file : "";
  site.line = line;
  site_ = intern(std::move(site));
  detail::t_site = site_;
}

Label::~Label() { detail::t_site = previous_; }

std::string current_label() {
  const detail::Site* s = detail::t_site;
  return s ? s->label : std::string();
}

// ---- anomaly checks -------------------------------------------------------------------------------

namespace {

using detail::TapeAccess;

// A parameter an op read may have been destroyed since: only a live one is looked at.
template <class T>
bool alive(const detail::InputRef<T>& ref) {
  return !ref.is_parameter() ||
         detail::handle_slot(ref.slot).stamp.load(std::memory_order_relaxed) == ref.stamp;
}

// Index of the first NaN or Inf of `a`, or a.size() if every element is finite.
template <class T>
std::size_t first_nonfinite(const Array<T>& a) {
  const T* p = a.data();
  const std::size_t n = a.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(p[i])) return i;
  }
  return n;
}

std::string where(const detail::Site* site, std::uint32_t index) {
  std::string s = "tape entry #" + std::to_string(index) + ", ";
  if (!site) return s + "recorded outside any tapegrad::Label";
  s += "label '" + site->label + "'";
  if (!site->file.empty()) s += " at " + site->file + ":" + std::to_string(site->line);
  return s;
}

// "#2 'sigmoid' (4, 1), parameter (1, 1) holding nan"
template <class T>
std::string describe_inputs(const Tape<T>& tape, const detail::Entry<T>& e) {
  if (e.inputs.empty()) return "no recorded inputs";
  std::ostringstream out;
  out << "inputs: ";
  for (std::size_t k = 0; k < e.inputs.size(); ++k) {
    const auto& ref = e.inputs[k];
    if (k) out << ", ";
    if (!alive(ref)) {
      out << "destroyed parameter";
      continue;
    }
    const Node<T>& n = *ref.node;
    if (ref.is_parameter()) {
      out << "parameter ";
    } else {
      out << '#' << ref.index << " '" << TapeAccess::entry(tape, ref.index).op << "' ";
    }
    out << to_string(n.value.shape());
    const std::size_t bad = first_nonfinite(n.value);
    if (bad < n.value.size()) out << " holding " << n.value.data()[bad] << " at element " << bad;
  }
  return out.str();
}

}  // namespace

namespace detail {

template <class T>
void check_forward_anomaly(const Tape<T>& tape, std::uint32_t index) {
  const Entry<T>& e = TapeAccess::entry(tape, index);
  const Array<T>& v = e.out.value;
  const std::size_t bad = first_nonfinite(v);
  if (bad == v.size()) return;
  throw AnomalyError(concat("anomaly in forward: '", e.op, "' (", where(e.site, index), ") produced ", v.data()[bad],
                            " at element ", bad, " of its output of shape ", to_string(v.shape()), "; ",
                            describe_inputs(tape, e)));
}

template <class T>
void check_backward_anomaly(const Tape<T>& tape, std::uint32_t index) {
  const Entry<T>& e = TapeAccess::entry(tape, index);
  for (std::size_t k = 0; k < e.inputs.size(); ++k) {
    const Node<T>& n = *e.inputs[k].node;  // alive: backward checked it before the rule ran
    if (!n.requires_grad || !n.has_grad) continue;
    const std::size_t bad = first_nonfinite(n.grad);
    if (bad == n.grad.size()) continue;
    const std::size_t bad_out = first_nonfinite(e.out.grad);
    throw AnomalyError(concat("anomaly in backward: the backward of '", e.op, "' (", where(e.site, index),
                              ") produced ", n.grad.data()[bad], " at element ", bad, " of the gradient of its input ",
                              k, " of shape ", to_string(n.grad.shape()), " (the gradient flowing into it is ",
                              bad_out == e.out.grad.size() ? "finite" : "not finite", "); ",
                              describe_inputs(tape, e)));
  }
}

}  // namespace detail

// ---- tape inspection ------------------------------------------------------------------------------

namespace {

template <class T>
const char* dtype_name() {
  return sizeof(T) == 4 ? "float32" : "float64";
}

template <class T>
std::size_t entry_bytes(const detail::Entry<T>& e) {
  std::size_t n = e.out.value.size() + e.out.grad.size();
  for (const auto& s : e.saved) n += s->size();
  return n * sizeof(T);
}

template <class T>
std::map<const Node<T>*, std::string> name_map(const ParameterNames<T>& names) {
  std::map<const Node<T>*, std::string> m;
  for (const auto& [name, p] : names) {
    if (p.defined()) m.emplace(TapeAccess::node(p), name);
  }
  return m;
}

template <class T>
std::string param_name(const std::map<const Node<T>*, std::string>& names, const Node<T>* node) {
  auto it = names.find(node);
  if (it != names.end()) return it->second;
  std::ostringstream out;
  out << "param@" << static_cast<const void*>(node);
  return out.str();
}

std::string site_text(const detail::Site* site) {
  if (!site) return "";
  std::string s = site->label;
  if (!site->file.empty()) {
    const auto slash = site->file.find_last_of('/');
    s += " (" + (slash == std::string::npos ? site->file : site->file.substr(slash + 1)) + ":" +
         std::to_string(site->line) + ")";
  }
  return s;
}

// DOT strings are double-quoted; escape what would end them.
std::string dot_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

template <class T>
std::string tape_to_string(const Tape<T>& tape, const ParameterNames<T>& names) {
  const auto pnames = name_map(names);
  std::ostringstream out;
  out << "tape (" << dtype_name<T>() << "): " << tape.size() << " entries, " << tape.bytes_in_use()
      << " bytes in use, " << tape.bytes_pooled() << " bytes pooled\n";
  out << std::setw(6) << "#" << "  " << std::left << std::setw(16) << "op" << std::setw(14) << "shape"
      << std::setw(6) << "grad" << std::right << std::setw(10) << "bytes" << "  " << std::left << std::setw(40)
      << "inputs" << "  label" << std::right << '\n';
  for (std::uint32_t i = 0; i < tape.size(); ++i) {
    const auto& e = TapeAccess::entry(tape, i);
    std::string inputs;
    for (std::size_t k = 0; k < e.inputs.size(); ++k) {
      if (k) inputs += ", ";
      const auto& ref = e.inputs[k];
      if (!ref.is_parameter()) {
        inputs += "#" + std::to_string(ref.index);
      } else if (!alive(ref)) {
        inputs += "destroyed parameter";
      } else {
        inputs += param_name(pnames, static_cast<const Node<T>*>(ref.node)) + " " + to_string(ref.node->value.shape());
      }
    }
    if (e.inputs.empty()) inputs = "-";
    out << std::setw(6) << i << "  " << std::left << std::setw(16) << e.op << std::setw(14)
        << to_string(e.out.value.shape()) << std::setw(6) << (e.out.requires_grad ? "yes" : "no") << std::right
        << std::setw(10) << entry_bytes(e) << "  " << std::left << std::setw(40) << inputs << "  " << site_text(e.site)
        << std::right << '\n';
  }
  return out.str();
}

template <class T>
std::string tape_to_dot(const Tape<T>& tape, const ParameterNames<T>& names) {
  const auto pnames = name_map(names);
  std::ostringstream out;
  out << "digraph tape {\n"
      << "  label=\"tape (" << dtype_name<T>() << "): " << tape.size() << " entries, " << tape.bytes_in_use()
      << " bytes in use\";\n"
      << "  labelloc=t;\n  rankdir=TB;\n"
      << "  node [fontname=\"Helvetica\", fontsize=10];\n  edge [color=\"#555555\"];\n";
  // Parameters: one ellipse each, numbered in order of first use.
  std::map<const Node<T>*, std::size_t> params;
  for (std::uint32_t i = 0; i < tape.size(); ++i) {
    const auto& e = TapeAccess::entry(tape, i);
    for (const auto& ref : e.inputs) {
      const Node<T>* p = ref.is_parameter() && alive(ref) ? ref.node : nullptr;
      if (p && params.emplace(p, params.size()).second) {
        out << "  p" << params[p] << " [shape=ellipse, style=filled, fillcolor=\"#ffe9a8\", label=\""
            << dot_escape(param_name(pnames, p)) << "\\n" << to_string(p->value.shape()) << "\"];\n";
      }
    }
  }
  // Entries, grouped into one cluster per label.
  std::map<const detail::Site*, std::vector<std::uint32_t>> by_site;
  for (std::uint32_t i = 0; i < tape.size(); ++i) by_site[TapeAccess::entry(tape, i).site].push_back(i);
  std::size_t cluster = 0;
  for (const auto& [site, indices] : by_site) {
    const std::string indent = site ? "    " : "  ";
    if (site) {
      out << "  subgraph cluster_" << cluster++ << " {\n    label=\"" << dot_escape(site_text(site))
          << "\";\n    style=dashed;\n";
    }
    for (std::uint32_t i : indices) {
      const auto& e = TapeAccess::entry(tape, i);
      out << indent << "e" << i << " [shape=box, style=" << (e.out.requires_grad ? "filled" : "solid")
          << ", fillcolor=\"#cfe3ff\", label=\"#" << i << " " << dot_escape(e.op) << "\\n"
          << to_string(e.out.value.shape()) << "\\n" << entry_bytes(e) << " B\"];\n";
    }
    if (site) out << "  }\n";
  }
  for (std::uint32_t i = 0; i < tape.size(); ++i) {
    const auto& e = TapeAccess::entry(tape, i);
    for (const auto& ref : e.inputs) {
      if (ref.is_parameter()) {
        if (alive(ref)) out << "  p" << params[ref.node] << " -> e" << i << ";\n";
      } else {
        out << "  e" << ref.index << " -> e" << i << ";\n";
      }
    }
  }
  out << "}\n";
  return out.str();
}

#define TAPEGRAD_SECTION(T)                                                     \
  template void detail::check_forward_anomaly(const Tape<T>&, std::uint32_t);  \
  template void detail::check_backward_anomaly(const Tape<T>&, std::uint32_t); \
  template std::string tape_to_string(const Tape<T>&, const ParameterNames<T>&); \
  template std::string tape_to_dot(const Tape<T>&, const ParameterNames<T>&);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad
