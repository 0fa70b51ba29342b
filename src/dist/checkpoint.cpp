#include "tapegrad/dist/checkpoint.hpp"

#include "dist/internal.hpp"
#include "tapegrad/dist/parameters.hpp"
#include "tapegrad/io/checkpoint.hpp"

namespace tapegrad::dist {

namespace {
void check_root(const Environment& env, int root, const char* what) {
  TG_CHECK(ValueError, root >= 0 && root < env.world_size(), what, ": root ", root, " is not a rank of ",
           env.world_size());
}
}  // namespace

template <class T>
void save(const Environment& env, const nn::Module<T>& module, const std::string& path, int root) {
  check_root(env, root, "dist::save");
  detail::on_root(env, root, [&] { tapegrad::save(module, path); });
}

template <class T>
void save(const Environment& env, const nn::Module<T>& module, const optim::Optimizer<T>& optimizer,
          const std::string& path, int root) {
  check_root(env, root, "dist::save");
  detail::on_root(env, root, [&] { tapegrad::save(module, optimizer, path); });
}

template <class T>
void load(const Environment& env, nn::Module<T>& module, const std::string& path, int root) {
  check_root(env, root, "dist::load");
  check_same_architecture(env, module);  // before reading: a mismatch is the ranks', not the file's
  detail::on_root(env, root, [&] { tapegrad::load(module, path); });
  broadcast_parameters(env, module, root);
}

template <class T>
void load(const Environment& env, nn::Module<T>& module, optim::Optimizer<T>& optimizer, const std::string& path,
          int root) {
  check_root(env, root, "dist::load");
  check_same_architecture(env, module);
  detail::check_same_optimizer(env, optimizer);  // before root's load changes its learning rates
  detail::on_root(env, root, [&] { tapegrad::load(module, optimizer, path); });
  broadcast_parameters(env, module, root);
  detail::broadcast_optimizer_values(env, optimizer, root);
}

#define TAPEGRAD_INSTANTIATE(T)                                                                             \
  template void save(const Environment&, const nn::Module<T>&, const std::string&, int);                    \
  template void save(const Environment&, const nn::Module<T>&, const optim::Optimizer<T>&, const std::string&, \
                     int);                                                                                  \
  template void load(const Environment&, nn::Module<T>&, const std::string&, int);                          \
  template void load(const Environment&, nn::Module<T>&, optim::Optimizer<T>&, const std::string&, int);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::dist
