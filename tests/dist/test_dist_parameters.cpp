// dist/parameters.hpp: every rank starts identical, and mismatches are errors on every rank.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "dist/dist_testing.hpp"
#include "tapegrad/data/dataset.hpp"
#include "tapegrad/data/sampler.hpp"
#include "tapegrad/dist/collectives.hpp"
#include "tapegrad/dist/parameters.hpp"
#include "tapegrad/io/checksum.hpp"
#include "tapegrad/nn/mlp.hpp"
#include "tapegrad/optim/adam.hpp"
#include "tapegrad/optim/sgd.hpp"
#include "tapegrad/random.hpp"

namespace tg = tapegrad;
namespace dist = tapegrad::dist;
using dist::testing::env;

namespace {
// A module with the parameters it is given: to make ranks disagree in chosen ways.
class Params : public tg::nn::Module<float> {
 public:
  explicit Params(const std::vector<std::pair<std::string, tg::Shape>>& list) {
    for (const auto& [name, shape] : list) register_parameter(name, tg::Array<float>(xt::zeros<float>(shape)));
  }
  tg::Var<float> forward(const tg::Var<float>& x) { return x; }
  tg::Parameter<float>& at(std::size_t i) { return param_at(i); }
};

// The message every rank gets, or "" when nothing was thrown.
template <class F>
std::string mismatch(F&& f) {
  try {
    f();
  } catch (const dist::MismatchError& e) {
    return e.what();
  }
  return "";
}

bool one_rank() { return env().world_size() == 1; }
}  // namespace

TEST(BroadcastParameters, EveryRankGetsRootsWeights) {
  tg::Rng rng(std::uint64_t(100 + env().rank()));  // a different initialisation on every rank
  tg::nn::MLP<float> model({5, 7, 3}, rng);
  tg::Rng root_rng(100);
  tg::nn::MLP<float> root_model({5, 7, 3}, root_rng);
  dist::broadcast_parameters(env(), model);
  EXPECT_EQ(tg::io::checksum(model), tg::io::checksum(root_model));
  EXPECT_EQ(dist::check_same_parameters(env(), model), tg::io::checksum(root_model));
  // From another root.
  const int last = env().world_size() - 1;
  tg::Rng last_rng(std::uint64_t(7 * last));
  tg::nn::MLP<float> last_model({5, 7, 3}, last_rng);
  tg::Rng mine(std::uint64_t(7 * env().rank()));
  tg::nn::MLP<float> other({5, 7, 3}, mine);
  dist::broadcast_parameters(env(), other, last);
  EXPECT_EQ(tg::io::checksum(other), tg::io::checksum(last_model));
  EXPECT_THROW(dist::broadcast_parameters(env(), other, env().world_size()), tg::ValueError);
}

TEST(CheckSameArchitecture, NamesTheFirstDifference) {
  if (one_rank()) GTEST_SKIP() << "needs two ranks";
  const bool odd = env().rank() == 1;
  {
    tg::Rng rng(1);
    tg::nn::MLP<float> model({4, odd ? 8u : 6u, 2}, rng);
    EXPECT_EQ(mismatch([&] { dist::broadcast_parameters(env(), model); }),
              "check_same_architecture: parameter 0 differs between ranks: 'layers.0.weight' (4, 6) float32 on rank 0, "
              "'layers.0.weight' (4, 8) float32 on rank 1");
  }
  {
    std::vector<std::pair<std::string, tg::Shape>> list = {{"a", {2, 3}}, {"b", {3}}};
    if (odd) list.push_back({"extra", {5}});
    Params m(list);
    EXPECT_EQ(mismatch([&] { dist::check_same_architecture(env(), m); }),
              "check_same_architecture: rank 1 has 3 parameters, rank 0 has 2; the first parameter only rank 1 has is "
              "'extra' (5,) float32");
  }
  {
    Params m({{"a", {2, 3}}, {"b", {3}}});
    if (odd) m.at(1).set_requires_grad(false);
    EXPECT_EQ(mismatch([&] { dist::check_same_architecture(env(), m); }),
              "check_same_architecture: parameter 1 differs between ranks: 'b' (3,) float32 on rank 0, 'b' (3,) float32 "
              "frozen on rank 1");
  }
  {
    Params m({{odd ? "w" : "weight", {2}}});
    EXPECT_NE(mismatch([&] { dist::check_same_architecture(env(), m); }), "");
  }
}

TEST(BroadcastOptimizerState, RanksContinueIdentically) {
  tg::Rng rng(3);
  tg::nn::MLP<float> model({3, 4, 2}, rng);
  tg::optim::Adam<float> opt(model.parameters(), tg::optim::AdamOptions(1e-2));
  // A different history on every rank: rank r takes r + 1 steps on gradients of its own.
  tg::Rng g(std::uint64_t(env().rank()));
  for (int s = 0; s <= env().rank(); ++s) {
    for (auto& p : model.parameters()) p.mutable_grad() = g.normal<float>(p.shape());
    opt.step();
  }
  dist::broadcast_parameters(env(), model);
  dist::broadcast_optimizer_state(env(), opt);
  EXPECT_EQ(opt.step_count(), 1u);  // rank 0's
  std::uint64_t h = 0;
  for (const auto& [name, a] : opt.state_dict().buffers) h = tg::io::fnv1a64(a.data(), a.size() * sizeof(float), h);
  dist::check_same(env(), "optimizer state", h);
  // The same next step everywhere.
  for (auto& p : model.parameters()) p.mutable_grad() = xt::ones<float>(p.shape());
  opt.step();
  dist::check_same_parameters(env(), model);

  if (one_rank()) return;
  tg::optim::Adam<float> other_lr(model.parameters(), tg::optim::AdamOptions(env().rank() == 1 ? 1e-3 : 1e-2));
  EXPECT_EQ(mismatch([&] { dist::broadcast_optimizer_state(env(), other_lr); }),
            "broadcast_optimizer_state: entry 0 differs between ranks: Adam lr=0.01 on rank 0, Adam lr=0.001 on rank 1");
  tg::optim::SGD<float> sgd(model.parameters(), tg::optim::SGDOptions(1e-2).momentum(env().rank() == 1 ? 0.9 : 0.0));
  EXPECT_NE(mismatch([&] { dist::broadcast_optimizer_state(env(), sgd); }), "");
}

TEST(CheckSameParameters, FindsADivergedRank) {
  tg::Rng rng(5);
  tg::nn::MLP<float> model({3, 4, 2}, rng);
  const std::uint64_t sum = dist::check_same_parameters(env(), model);
  EXPECT_EQ(sum, tg::io::checksum(model));
  if (one_rank()) return;
  if (env().rank() == 1) model.parameters()[0].mutable_value()(0, 0) += 1e-7f;
  const std::string msg = mismatch([&] { dist::check_same_parameters(env(), model); });
  EXPECT_EQ(msg.rfind("check_same_parameters: the parameters differ between ranks: checksum " +
                          tg::io::checksum_hex(sum) + " on rank 0, ", 0),
            0u)
      << msg;
}

TEST(CheckSameDataset, SizesAndShapes) {
  const std::size_t n = env().rank() == 1 ? 99 : 100;
  tg::data::TensorDataset<float> ds(tg::Array<float>(xt::zeros<float>({n, std::size_t(3)})),
                                    tg::Array<float>(xt::zeros<float>({n})));
  if (one_rank()) {
    dist::check_same_dataset(env(), ds);
    return;
  }
  EXPECT_EQ(mismatch([&] { dist::check_same_dataset(env(), ds); }),
            "check_same_dataset: the dataset size differs between ranks: 100 on rank 0, 99 on rank 1");
  tg::data::TensorDataset<float> shaped(
      tg::Array<float>(xt::zeros<float>({std::size_t(10), std::size_t(env().rank() == 1 ? 4 : 3)})),
      tg::Array<float>(xt::zeros<float>({std::size_t(10)})));
  EXPECT_EQ(mismatch([&] { dist::check_same_dataset(env(), shaped); }),
            "check_same_dataset: the shape of an example (features, targets) differs between ranks: (3,), () on rank 0, "
            "(4,), () on rank 1");
}

TEST(DistributedSampler, MoreRanksThanExamplesIsAnErrorOnEveryRank) {
  const auto w = std::size_t(env().world_size());
  EXPECT_THROW(tg::data::DistributedSampler(w - 1 == 0 ? 0 : w - 1, std::size_t(env().rank()), w), tg::ValueError);
}
