#include "tapegrad/io/checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "io/internal.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/io/npz.hpp"

namespace tapegrad {

namespace {

bool has_prefix(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// The module's parameters with their names, as named_parameters() returns them.
template <class T>
using NamedParameters = decltype(std::declval<const nn::Module<T>&>().named_parameters());

// What a checkpoint holds of a module: its parameters, then its buffers (running statistics),
// each by name, as a PyTorch state_dict.
template <class T>
NamedParameters<T> named_state(const nn::Module<T>& module) {
  NamedParameters<T> all = module.named_parameters();
  for (auto& entry : module.named_buffers()) all.push_back(std::move(entry));
  return all;
}

// Matches `state` against the module's parameters `params`. Returns, for each parameter, its
// source array (null where there is a problem), and appends every problem to `problems`.
template <class T>
std::vector<const Array<T>*> match(const NamedParameters<T>& params, const StateDict<T>& state,
                                   std::vector<std::string>& problems) {
  std::map<std::string, std::vector<std::size_t>> by_name;
  for (std::size_t k = 0; k < state.size(); ++k) by_name[state[k].first].push_back(k);
  std::vector<const Array<T>*> sources;
  for (const auto& [name, p] : params) {
    const auto it = by_name.find(name);
    const Array<T>* src = nullptr;
    if (it == by_name.end()) {
      problems.push_back("missing '" + name + "' " + to_string(p.shape()));
    } else if (it->second.size() > 1) {
      problems.push_back("'" + name + "' appears " + std::to_string(it->second.size()) + " times");
    } else if (state[it->second[0]].second.shape() != p.shape()) {
      problems.push_back("'" + name + "' has shape " + to_string(state[it->second[0]].second.shape()) +
                         ", the module's is " + to_string(p.shape()));
    } else {
      src = &state[it->second[0]].second;
    }
    sources.push_back(src);
  }
  for (const auto& entry : by_name) {
    // Not a structured binding: a lambda capturing one is C++20, and clang rejects it in C++17.
    const std::string& name = entry.first;
    const bool known = std::any_of(params.begin(), params.end(), [&](const auto& np) { return np.first == name; });
    if (!known) problems.push_back("unexpected '" + name + "' " + to_string(state[entry.second[0]].second.shape()));
  }
  return sources;
}

// Copies every source into its parameter (after match() found no problem). Allocates nothing,
// so it cannot fail half-way.
template <class T>
void assign_all(const NamedParameters<T>& params, const std::vector<const Array<T>*>& sources) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    // Copy into the existing buffer: anything holding the parameter's storage stays valid.
    Parameter<T> p = params[i].second;
    std::copy(sources[i]->begin(), sources[i]->end(), p.mutable_value().begin());
  }
}

// The name of the step count in a checkpoint: "optimizer.step", an int64 0-d array.
const std::string kStepKey = std::string(kOptimizerPrefix) + "step";
// The prefix of the parameter groups' entries: optimizer.param_groups.<g>.<name>.
const std::string kGroupsKey = std::string(kOptimizerPrefix) + "param_groups.";

// Splits "param_groups.<g>.<name>" (the optimizer prefix removed) into g and name.
bool group_key(const std::string& key, std::size_t& group, std::string& name) {
  const std::string prefix = "param_groups.";
  if (!has_prefix(key, prefix)) return false;
  const std::size_t dot = key.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size() || dot + 1 == key.size()) return false;
  const std::string digits = key.substr(prefix.size(), dot - prefix.size());
  if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return false;
  group = std::size_t(std::stoul(digits));
  name = key.substr(dot + 1);
  return true;
}

// A step count read from a checkpoint: a non-negative integer below 2^63, exactly. Checkpoints
// written before the count was an int64 hold it as a float; one that is an exact integer in
// range still loads. Anything else is a problem, listed with the others.
struct StepEntry {
  bool found = false;
  std::uint64_t value = 0;
  std::string problem;
};

StepEntry step_from(const io::io_detail::NpyScalar& s) {
  StepEntry out;
  out.found = true;
  constexpr std::uint64_t kMax = std::uint64_t(std::numeric_limits<std::int64_t>::max());
  if (s.is_float) {
    // 2^63 is exact in double; a finite integral value below it converts without overflow.
    if (std::isfinite(s.value) && s.value >= 0 && std::floor(s.value) == s.value && s.value < 9223372036854775808.0) {
      out.value = std::uint64_t(s.value);
    } else {
      out.problem = detail::concat("'step' must be a non-negative integer below 2^63, got ", s.value);
    }
  } else if (s.negative || s.magnitude > kMax) {
    out.problem = detail::concat("'step' must be a non-negative integer below 2^63, got ", s.negative ? "-" : "",
                                 s.magnitude);
  } else {
    out.value = s.magnitude;
  }
  return out;
}

[[noreturn]] void report(const std::string& what, const std::vector<std::string>& problems) {
  std::string message = detail::concat(what, ": ", problems.size(), problems.size() == 1 ? " problem: " : " problems: ");
  for (std::size_t k = 0; k < problems.size(); ++k) message += (k ? "; " : "") + problems[k];
  throw ValueError(message + " (nothing was changed)");
}

// Splits a checkpoint into the module's entries and the optimizer's (prefix removed).
template <class T>
void split(StateDict<T>&& all, StateDict<T>& module_part, StateDict<T>& optimizer_part) {
  const std::string prefix = kOptimizerPrefix;
  for (auto& [name, a] : all) {
    if (has_prefix(name, prefix)) {
      optimizer_part.emplace_back(name.substr(prefix.size()), std::move(a));
    } else {
      module_part.emplace_back(std::move(name), std::move(a));
    }
  }
}

}  // namespace

template <class T>
StateDict<T> state_dict(const nn::Module<T>& module) {
  StateDict<T> out;
  for (const auto& [name, p] : named_state(module)) out.emplace_back(name, p.value());
  return out;
}

template <class T>
void load_state_dict(nn::Module<T>& module, const StateDict<T>& state, const std::string& what) {
  std::vector<std::string> problems;
  const auto params = named_state(module);
  const auto sources = match<T>(params, state, problems);
  if (!problems.empty()) report(what, problems);
  assign_all<T>(params, sources);
}

template <class T>
void save(const nn::Module<T>& module, const std::string& path) {
  io::write_npz(path, state_dict(module));
}

template <class T>
void save(const nn::Module<T>& module, const optim::Optimizer<T>& optimizer, const std::string& path) {
  const auto params = named_state(module);
  for (const auto& np : params) {
    TG_CHECK(ValueError, !has_prefix(np.first, kOptimizerPrefix), "save: ", path, ": the parameter name '", np.first,
             "' collides with the optimizer's prefix '", kOptimizerPrefix, "'");
  }
  const optim::OptimizerState<T> state = optimizer.state_dict();
  TG_CHECK(ValueError, state.step <= std::uint64_t(std::numeric_limits<std::int64_t>::max()), "save: ", path,
           ": the step count ", state.step, " does not fit in the checkpoint's int64");
  // The module's parameters, then the step count as an int64 (exact at any count; a float
  // would round past 2^24), then the optimizer's buffers.
  std::vector<std::pair<std::string, std::string>> files;
  files.reserve(params.size() + 1 + state.buffers.size());
  for (const auto& [name, p] : params) files.emplace_back(name, io::io_detail::npy_bytes(p.value()));
  files.emplace_back(kStepKey, io::io_detail::npy_int64_bytes(std::int64_t(state.step)));
  for (const auto& [name, a] : state.buffers) files.emplace_back(kOptimizerPrefix + name, io::io_detail::npy_bytes(a));
  // The parameter groups: each group's parameter positions, and its hyperparameters as float64
  // (exact whatever T is), e.g. optimizer.param_groups.1.weight_decay.
  for (std::size_t g = 0; g < state.param_groups.size(); ++g) {
    const std::string prefix = kGroupsKey + std::to_string(g) + ".";
    const auto& group = state.param_groups[g];
    Array<double> positions = Array<double>::from_shape({group.params.size()});
    std::copy(group.params.begin(), group.params.end(), positions.begin());
    files.emplace_back(prefix + "params", io::io_detail::npy_bytes(positions));
    for (const auto& [name, v] : group.hyperparameters) {
      files.emplace_back(prefix + name, io::io_detail::npy_bytes(Array<double>(v)));
    }
  }
  std::set<std::string> names;
  for (const auto& f : files) {
    TG_CHECK(ValueError, names.insert(f.first).second, "save: ", path, ": the name '", f.first, "' appears twice");
  }
  io::io_detail::write_npz_files(path, files, false);
}

template <class T>
void load(nn::Module<T>& module, const std::string& path, const io::LoadOptions& options) {
  io::io_detail::out_of_memory_is_io_error(path, [&] {
    StateDict<T> module_part, optimizer_part;
    // The optimizer's entries are read too (and dropped): they are checked as any entry is.
    split(io::read_npz<T>(path, options), module_part, optimizer_part);
    load_state_dict(module, module_part, path);
  });
}

namespace {
template <class T>
void load_with_optimizer(nn::Module<T>& module, optim::Optimizer<T>& optimizer, const std::string& path,
                         const io::LoadOptions& options) {
  StepEntry step;
  // Hyperparameters of the groups, read exactly (as doubles) whatever T is.
  std::vector<std::pair<std::string, double>> scalars;
  // The step count is read exactly, whatever its dtype, rather than converted to T.
  const auto take_step = [&step, &scalars](const std::string& name, const io::io_detail::NpyHeader& header,
                                           io::io_detail::Reader& in) {
    if (!header.shape.empty()) return false;  // a misshapen step is reported below
    if (name == kStepKey) {
      step = step_from(io::io_detail::read_npy_scalar(in, header));
      return true;
    }
    if (!has_prefix(name, kGroupsKey)) return false;
    const io::io_detail::NpyScalar v = io::io_detail::read_npy_scalar(in, header);
    scalars.emplace_back(name.substr(std::string(kOptimizerPrefix).size()),
                         v.is_float ? v.value : (v.negative ? -double(v.magnitude) : double(v.magnitude)));
    return true;
  };
  StateDict<T> module_part, optimizer_part;
  split(io::io_detail::read_npz_entries<T>(path, options, take_step), module_part, optimizer_part);

  std::vector<std::string> problems;
  const auto params = named_state(module);
  const auto sources = match<T>(params, module_part, problems);
  optim::OptimizerState<T> state;
  state.step = step.value;
  std::map<std::size_t, optim::ParamGroupState> groups;
  std::set<std::size_t> with_params;
  std::size_t g = 0;
  std::string key;
  for (auto& [name, a] : optimizer_part) {
    if (name == "step") {  // not 0-d, so not taken above
      problems.push_back("optimizer: 'step' has shape " + to_string(a.shape()) + ", expected ()");
      step.found = true;
    } else if (group_key(name, g, key) && key == "params" && a.dimension() == 1) {
      for (const T v : a) {
        if (!(v >= T(0) && std::floor(v) == v)) {
          problems.push_back(detail::concat("optimizer: '", name, "' holds ", v, ", not a parameter position"));
          break;
        }
        groups[g].params.push_back(std::size_t(v));
      }
      with_params.insert(g);
    } else if (has_prefix(name, "param_groups.")) {
      problems.push_back("optimizer: unexpected '" + name + "' " + to_string(a.shape()));
    } else {
      state.buffers.emplace_back(std::move(name), std::move(a));
    }
  }
  for (const auto& [name, v] : scalars) {
    if (group_key(name, g, key) && key != "params") {
      groups[g].hyperparameters.emplace_back(key, v);
    } else {
      problems.push_back("optimizer: unexpected '" + name + "' ()");
    }
  }
  for (const auto& [index, group] : groups) {
    if (index != state.param_groups.size()) {
      problems.push_back(detail::concat("optimizer: parameter group ", state.param_groups.size(), " is missing"));
      break;
    }
    if (!with_params.count(index)) {
      problems.push_back(detail::concat("optimizer: missing 'param_groups.", index, ".params'"));
    }
    state.param_groups.push_back(group);
  }
  if (!step.found) problems.push_back("optimizer: missing 'step'");
  if (!step.problem.empty()) problems.push_back("optimizer: " + step.problem);
  for (const auto& p : optimizer.state_problems(state)) problems.push_back("optimizer: " + p);
  // Nothing is changed unless everything loads: the module and the optimizer are both checked
  // above. load_state_dict checks again before changing the optimizer, and the module's
  // assignment after it copies into buffers of the checked shapes (it cannot fail).
  if (!problems.empty()) report(path, problems);
  optimizer.load_state_dict(state);
  assign_all<T>(params, sources);
}
}  // namespace

template <class T>
void load(nn::Module<T>& module, optim::Optimizer<T>& optimizer, const std::string& path,
          const io::LoadOptions& options) {
  // Running out of memory anywhere here happens before anything is changed.
  io::io_detail::out_of_memory_is_io_error(path, [&] { load_with_optimizer(module, optimizer, path, options); });
}

#define TAPEGRAD_INSTANTIATE(T)                                                                  \
  template StateDict<T> state_dict<T>(const nn::Module<T>&);                                     \
  template void load_state_dict<T>(nn::Module<T>&, const StateDict<T>&, const std::string&);     \
  template void save<T>(const nn::Module<T>&, const std::string&);                               \
  template void save<T>(const nn::Module<T>&, const optim::Optimizer<T>&, const std::string&);   \
  template void load<T>(nn::Module<T>&, const std::string&, const io::LoadOptions&);             \
  template void load<T>(nn::Module<T>&, optim::Optimizer<T>&, const std::string&, const io::LoadOptions&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad
