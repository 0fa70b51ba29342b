#include "tapegrad/dist/parameters.hpp"

#include <utility>
#include <vector>

#include "dist/internal.hpp"
#include "tapegrad/dist/collectives.hpp"
#include "tapegrad/io/checksum.hpp"

namespace tapegrad::dist {

namespace {

template <class T>
const char* type_name() {
  return sizeof(T) == 4 ? "float32" : "float64";
}

// Everything broadcast_parameters makes identical on every rank, by name.
template <class T>
std::vector<std::pair<std::string, Parameter<T>>> synchronised(const nn::Module<T>& module) {
  auto tensors = module.named_parameters();
  for (auto& b : module.named_buffers()) tensors.push_back(b);  // running statistics travel too
  // so that broadcast_parameters and check_same_architecture cover them too (running statistics
  // of norms must start equal on every rank).
  return tensors;
}

// One line per tensor: "'name' (shape) float32[ frozen]".
template <class T>
std::vector<std::string> describe(const nn::Module<T>& module) {
  std::vector<std::string> lines;
  for (const auto& [name, p] : synchronised(module)) {
    lines.push_back(::tapegrad::detail::concat("'", name, "' ", to_string(p.shape()), " ", type_name<T>(),
                                               p.requires_grad() ? "" : " frozen"));
  }
  return lines;
}

std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  for (std::size_t end; (end = s.find('\n', begin)) != std::string::npos; begin = end + 1) {
    lines.push_back(s.substr(begin, end - begin));
  }
  return lines;
}

// Compares every rank's list with rank 0's and throws MismatchError (on every rank: each
// computes the same verdict from the same gathered lists) naming the first difference.
void check_lists(const Environment& env, const char* what, const char* item, const std::vector<std::string>& mine) {
  const auto all = all_gather(env, join(mine));
  const auto root = split(all[0]);
  for (std::size_t r = 1; r < all.size(); ++r) {
    if (all[r] == all[0]) continue;
    const auto other = split(all[r]);
    const std::size_t common = std::min(root.size(), other.size());
    for (std::size_t i = 0; i < common; ++i) {
      if (root[i] != other[i]) {
        throw MismatchError(::tapegrad::detail::concat(what, ": ", item, " ", i, " differs between ranks: ", root[i],
                                                       " on rank 0, ", other[i], " on rank ", r));
      }
    }
    const bool more = other.size() > root.size();
    throw MismatchError(::tapegrad::detail::concat(what, ": rank ", r, " has ", other.size(), " ", item, "s, rank 0 has ",
                                                   root.size(), "; the first ", item, " only rank ", more ? r : 0,
                                                   " has is ", more ? other[common] : root[common]));
  }
}

}  // namespace

template <class T>
void check_same_architecture(const Environment& env, const nn::Module<T>& module) {
  check_lists(env, "check_same_architecture", "parameter", describe(module));
}

template <class T>
void broadcast_parameters(const Environment& env, nn::Module<T>& module, int root) {
  TG_CHECK(ValueError, root >= 0 && root < env.world_size(), "broadcast_parameters: root ", root,
           " is not a rank of ", env.world_size());
  check_same_architecture(env, module);
  for (auto& [name, p] : synchronised(module)) detail::broadcast(env, p.mutable_value().data(), p.value().size(), root);
}

namespace detail {
// The optimizer's kind, learning rate and buffer shapes, which every rank must agree on.
template <class T>
void check_same_optimizer(const Environment& env, const optim::Optimizer<T>& optimizer) {
  const optim::OptimizerState<T> state = optimizer.state_dict();
  std::vector<std::string> lines{::tapegrad::detail::concat(optimizer.name(), " lr=", optimizer.learning_rate())};
  for (const auto& [name, a] : state.buffers) {
    lines.push_back(::tapegrad::detail::concat("'", name, "' ", to_string(a.shape())));
  }
  check_lists(env, "broadcast_optimizer_state", "entry", lines);
}

// Root's step count, buffers and every group's hyperparameters (a loaded checkpoint restores its
// learning rates, as PyTorch's load_state_dict) to every rank; the structure was checked.
template <class T>
void broadcast_optimizer_values(const Environment& env, optim::Optimizer<T>& optimizer, int root) {
  optim::OptimizerState<T> state = optimizer.state_dict();
  broadcast(env, &state.step, 1, root);
  for (auto& [name, a] : state.buffers) broadcast(env, a.data(), a.size(), root);
  for (auto& group : state.param_groups) {
    for (auto& [name, value] : group.hyperparameters) broadcast(env, &value, 1, root);
  }
  if (env.rank() != root) optimizer.load_state_dict(state);
}
}  // namespace detail

template <class T>
void broadcast_optimizer_state(const Environment& env, optim::Optimizer<T>& optimizer, int root) {
  TG_CHECK(ValueError, root >= 0 && root < env.world_size(), "broadcast_optimizer_state: root ", root,
           " is not a rank of ", env.world_size());
  detail::check_same_optimizer(env, optimizer);
  detail::broadcast_optimizer_values(env, optimizer, root);
}

template <class T>
std::uint64_t check_same_parameters(const Environment& env, const nn::Module<T>& module) {
  const std::uint64_t sum = io::checksum(module);
  const auto all = all_gather(env, sum);
  for (std::size_t r = 1; r < all.size(); ++r) {
    if (all[r] != all[0]) {
      throw MismatchError(::tapegrad::detail::concat("check_same_parameters: the parameters differ between ranks: checksum ",
                                                     io::checksum_hex(all[0]), " on rank 0, ", io::checksum_hex(all[r]),
                                                     " on rank ", r));
    }
  }
  return sum;
}

template <class T>
void check_same_dataset(const Environment& env, const data::Dataset<T>& dataset) {
  check_same(env, "check_same_dataset: the dataset size", std::uint64_t(dataset.size()));
  check_same(env, "check_same_dataset: the shape of an example (features, targets)",
             to_string(dataset.feature_shape()) + ", " + to_string(dataset.target_shape()));
}

#define TAPEGRAD_INSTANTIATE(T)                                                                 \
  template void check_same_architecture(const Environment&, const nn::Module<T>&);             \
  template void broadcast_parameters(const Environment&, nn::Module<T>&, int);                 \
  template void broadcast_optimizer_state(const Environment&, optim::Optimizer<T>&, int);      \
  template void detail::check_same_optimizer(const Environment&, const optim::Optimizer<T>&);  \
  template void detail::broadcast_optimizer_values(const Environment&, optim::Optimizer<T>&, int); \
  template std::uint64_t check_same_parameters(const Environment&, const nn::Module<T>&);      \
  template void check_same_dataset(const Environment&, const data::Dataset<T>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::dist
