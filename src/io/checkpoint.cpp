#include "tapegrad/io/checkpoint.hpp"

#include <algorithm>
#include <map>
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
    std::copy(sources[i]->begin(), sources[i]->end(), p.value().begin());
  }
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
  for (const auto& [name, p] : module.named_parameters()) out.emplace_back(name, p.value());
  return out;
}

template <class T>
void load_state_dict(nn::Module<T>& module, const StateDict<T>& state, const std::string& what) {
  std::vector<std::string> problems;
  const auto params = module.named_parameters();
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
  StateDict<T> all = state_dict(module);
  for (const auto& [name, a] : all) {
    TG_CHECK(ValueError, !has_prefix(name, kOptimizerPrefix), "save: ", path, ": the parameter name '", name,
             "' collides with the optimizer's prefix '", kOptimizerPrefix, "'");
  }
  for (auto& [name, a] : optimizer.state_dict()) all.emplace_back(kOptimizerPrefix + name, std::move(a));
  io::write_npz(path, all);
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

template <class T>
void load(nn::Module<T>& module, optim::Optimizer<T>& optimizer, const std::string& path,
          const io::LoadOptions& options) {
  io::io_detail::out_of_memory_is_io_error(path, [&] {
    StateDict<T> module_part, optimizer_part;
    split(io::read_npz<T>(path, options), module_part, optimizer_part);
    std::vector<std::string> problems;
    const auto params = module.named_parameters();
    const auto sources = match<T>(params, module_part, problems);
    // The optimizer checks its own entries and changes nothing on error. When the module has
    // problems too, its state is loaded only to collect them all, then put back.
    const bool module_ok = problems.empty();
    const StateDict<T> previous = module_ok ? StateDict<T>{} : optimizer.state_dict();
    try {
      optimizer.load_state_dict(optimizer_part);
      if (!module_ok) optimizer.load_state_dict(previous);
    } catch (const ValueError& e) {
      problems.push_back(std::string("optimizer: ") + e.what());
    }
    if (!problems.empty()) report(path, problems);
    assign_all<T>(params, sources);
  });
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
