// dist/environment.hpp and dist/collectives.hpp, on every rank of the job.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "dist/dist_testing.hpp"
#include "tapegrad/dist/collectives.hpp"
#include "tapegrad/dist/environment.hpp"

using tapegrad::dist::testing::env;
namespace dist = tapegrad::dist;

TEST(Environment, RankAndSize) {
  int world_rank = -1, world_size = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  EXPECT_EQ(env().rank(), world_rank);
  EXPECT_EQ(env().world_size(), world_size);
  EXPECT_EQ(env().is_root(), world_rank == 0);
  EXPECT_TRUE(env().owns_mpi());
  // One machine here: every rank is local.
  EXPECT_EQ(env().local_size(), world_size);
  EXPECT_EQ(env().local_rank(), world_rank);
  int same = 0;
  MPI_Comm_compare(env().comm(), MPI_COMM_WORLD, &same);
  EXPECT_EQ(same, MPI_CONGRUENT) << "a duplicate of MPI_COMM_WORLD, not it";
}

TEST(Environment, AttachesToAnApplicationsCommunicator) {
  {
    dist::Environment self(MPI_COMM_SELF);
    EXPECT_EQ(self.rank(), 0);
    EXPECT_EQ(self.world_size(), 1);
    EXPECT_FALSE(self.owns_mpi());
    EXPECT_EQ(dist::all_reduce_sum(self, 2.5), 2.5);
  }
  // Split the world into even and odd ranks: each half is a job of its own.
  MPI_Comm half;
  MPI_Comm_split(MPI_COMM_WORLD, env().rank() % 2, env().rank(), &half);
  {
    dist::Environment h(half);
    const int w = env().world_size();
    EXPECT_EQ(h.world_size(), env().rank() % 2 == 0 ? (w + 1) / 2 : w / 2);
    EXPECT_EQ(h.rank(), env().rank() / 2);
    EXPECT_EQ(dist::all_reduce_sum(h, 1.0), double(h.world_size()));
  }
  MPI_Comm_free(&half);  // the application's communicator is still its own after the Environment
  int argc = 0;
  char** argv = nullptr;
  EXPECT_THROW(dist::Environment(argc, argv), tapegrad::StateError);  // MPI already runs
  EXPECT_THROW(dist::Environment(MPI_COMM_NULL), tapegrad::ValueError);
}

TEST(Collectives, SumsAndGathers) {
  const int r = env().rank(), w = env().world_size();
  double d[2] = {double(r), 1.0};
  dist::all_reduce_sum(env(), d, 2);
  EXPECT_EQ(d[0], double(w * (w - 1) / 2));
  EXPECT_EQ(d[1], double(w));
  std::int64_t i[1] = {std::int64_t(1) << 40};
  dist::all_reduce_sum(env(), i, 1);
  EXPECT_EQ(i[0], std::int64_t(w) << 40);
  const auto g = dist::all_gather(env(), std::uint64_t(10 + r));
  ASSERT_EQ(g.size(), std::size_t(w));
  for (int k = 0; k < w; ++k) EXPECT_EQ(g[std::size_t(k)], std::uint64_t(10 + k));
  const auto s = dist::all_gather(env(), std::string(std::size_t(r), 'x'));
  for (int k = 0; k < w; ++k) EXPECT_EQ(s[std::size_t(k)], std::string(std::size_t(k), 'x'));
}

TEST(Collectives, CheckSameNamesTheFirstRankThatDiffers) {
  dist::check_same(env(), "the answer", std::uint64_t(42));
  dist::check_same(env(), "a name", std::string("same"));
  if (env().world_size() < 2) return;
  // Rank 1 (and only it) differs; every rank throws the same error.
  try {
    dist::check_same(env(), "dataset size", std::uint64_t(env().rank() == 1 ? 59999 : 60000));
    ADD_FAILURE() << "no error";
  } catch (const dist::MismatchError& e) {
    EXPECT_STREQ(e.what(), "dataset size differs between ranks: 60000 on rank 0, 59999 on rank 1");
  }
  try {
    dist::check_same(env(), "optimizer", std::string(env().rank() == 1 ? "SGD" : "Adam"));
    ADD_FAILURE() << "no error";
  } catch (const tapegrad::ValueError& e) {  // a MismatchError is a ValueError
    EXPECT_STREQ(e.what(), "optimizer differs between ranks: Adam on rank 0, SGD on rank 1");
  }
}
