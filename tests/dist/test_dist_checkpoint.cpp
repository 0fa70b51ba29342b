// dist/checkpoint.hpp: rank 0 writes and reads; every rank resumes, in the interrupted epoch's
// order; a failure on rank 0 is an error on every rank.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "dist/dist_testing.hpp"
#include "tapegrad/data/dataset.hpp"
#include "tapegrad/data/loader.hpp"
#include "tapegrad/data/sampler.hpp"
#include "tapegrad/dist/checkpoint.hpp"
#include "tapegrad/dist/data_parallel.hpp"
#include "tapegrad/dist/parameters.hpp"
#include "tapegrad/io/checkpoint.hpp"
#include "tapegrad/io/checksum.hpp"
#include "tapegrad/losses.hpp"
#include "tapegrad/nn/mlp.hpp"
#include "tapegrad/optim/adam.hpp"
#include "tapegrad/random.hpp"

namespace tg = tapegrad;
namespace dist = tapegrad::dist;
using dist::testing::env;

namespace {
// Only rank 0 uses the path; the others' is never opened.
std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / (std::string("tapegrad_") + std::to_string(::getpid()) + "_" + name))
      .string();
}

struct Job {
  tg::data::TensorDataset<float> data;
  tg::Rng rng;
  tg::nn::MLP<float> model;
  tg::optim::Adam<float> opt;
  tg::data::DataLoader<float> loader;
  dist::DataParallel<float> ddp;
  tg::Tape<float> tape;
  int steps = 0;

  explicit Job(std::uint64_t init_seed)
      : data(tg::Array<float>(tg::Rng(4).normal<float>({std::size_t(50), std::size_t(6)})),
             tg::Array<float>(xt::fmod(xt::arange<float>(50), 3.f))),
        rng(init_seed),
        model({6, 8, 3}, rng),
        opt(model.parameters(), tg::optim::AdamOptions(1e-2)),
        loader(data, tg::data::DataLoaderOptions(8 / std::size_t(env().world_size()))
                         .sampler(tg::data::DistributedSampler(50, std::size_t(env().rank()),
                                                               std::size_t(env().world_size()),
                                                               tg::data::DistributedSamplerOptions().seed(7).tail(
                                                                   tg::data::Tail::exact)))),
        ddp(env(), model) {}

  // Trains until `until` optimizer steps in all, across epochs.
  void train(int until) {
    while (steps < until) {
      for (auto* b = loader.next(); b != nullptr && steps < until; b = loader.next()) {
        ddp.forward_backward(tape, *b, [&](tg::Tape<float>& t, tg::data::Batch<float>& x) {
          return tg::softmax_cross_entropy(model.forward(t.constant(std::move(x.features))), x.targets);
        });
        opt.step();
        ++steps;
      }
      if (steps < until) loader.reset();
    }
  }
};
}  // namespace

TEST(DistCheckpoint, ResumesMidEpochToTheSameBits) {
  const std::string path = temp_path("resume.npz");
  Job straight(1);
  straight.train(17);  // 7 batches an epoch: 2 epochs and 3 batches
  Job first(1);
  first.train(10);
  dist::save(env(), first.model, first.opt, path);
  if (env().is_root()) {
    EXPECT_TRUE(std::filesystem::exists(path));
  }

  Job resumed(99);  // other weights: everything comes from the checkpoint
  dist::load(env(), resumed.model, resumed.opt, path);
  const std::size_t nb = resumed.loader.num_batches();
  EXPECT_EQ(nb, 7u);
  const auto done = resumed.opt.step_count();
  EXPECT_EQ(done, 10u);
  resumed.loader.set_epoch(done / nb, done % nb);
  resumed.steps = int(done);
  resumed.train(17);
  EXPECT_EQ(tg::io::checksum(resumed.model), tg::io::checksum(straight.model));
  dist::check_same_parameters(env(), resumed.model);
  // A plain checkpoint: one process reads it with tapegrad::load.
  if (env().is_root()) {
    tg::Rng rng(5);
    tg::nn::MLP<float> alone({6, 8, 3}, rng);
    tg::load(alone, path);
    EXPECT_EQ(tg::io::checksum(alone), tg::io::checksum(first.model));
    std::remove(path.c_str());
  }
}

TEST(DistCheckpoint, ModelOnly) {
  const std::string path = temp_path("model.npz");
  tg::Rng a(1), b(std::uint64_t(20 + env().rank()));
  tg::nn::MLP<double> saved({3, 4, 2}, a), loaded({3, 4, 2}, b);
  dist::save(env(), saved, path);
  dist::load(env(), loaded, path);
  EXPECT_EQ(tg::io::checksum(loaded), tg::io::checksum(saved));
  if (env().is_root()) std::remove(path.c_str());
}

TEST(DistCheckpoint, RootsFailureIsEveryRanksError) {
  tg::Rng rng(1);
  tg::nn::MLP<float> model({3, 4, 2}, rng);
  tg::optim::Adam<float> opt(model.parameters(), tg::optim::AdamOptions(1e-3));
  const std::string missing = temp_path("does_not_exist.npz");
  try {
    dist::load(env(), model, opt, missing);
    ADD_FAILURE() << "no error";
  } catch (const tg::IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("does_not_exist.npz: cannot open"), std::string::npos) << msg;  // rank 0's message
    if (env().world_size() > 1) {
      EXPECT_EQ(msg.rfind("rank 0: ", 0), 0u) << msg;
    }
  }
  try {
    dist::save(env(), model, opt, "/nonexistent-directory/x.npz");
    ADD_FAILURE() << "no error";
  } catch (const tg::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-directory/x.npz"), std::string::npos) << e.what();
  }
  // A checkpoint of another architecture: a ValueError from rank 0's load, on every rank.
  const std::string other = temp_path("other.npz");
  tg::Rng r2(2);
  tg::nn::MLP<float> bigger({3, 5, 2}, r2);
  dist::save(env(), bigger, other);
  EXPECT_THROW(dist::load(env(), model, other), tg::ValueError);
  if (env().is_root()) std::remove(other.c_str());
}
