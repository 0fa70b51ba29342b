// main() of the MPI test programs: starts MPI, runs the tests on every rank, and exits non-zero
// on every rank if a test failed on any. Rank 0 prints GoogleTest's usual report; the other ranks
// print only their failures, prefixed with their rank.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "dist/dist_testing.hpp"
#include "tapegrad/dist/collectives.hpp"

namespace {
tapegrad::dist::Environment* g_env = nullptr;

class RankFailures : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailures(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", rank_, r.file_name() ? r.file_name() : "?", r.line_number(),
                 r.summary());
  }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (info.result()->Failed()) {
      std::fprintf(stderr, "[rank %d] FAILED %s.%s\n", rank_, info.test_suite_name(), info.name());
    }
  }

 private:
  int rank_;
};
}  // namespace

namespace tapegrad::dist::testing {
const Environment& env() { return *g_env; }
}  // namespace tapegrad::dist::testing

int main(int argc, char** argv) {
  tapegrad::dist::Environment env(argc, argv);
  g_env = &env;
  ::testing::InitGoogleTest(&argc, argv);
  if (!env.is_root()) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailures(env.rank()));
  }
  const int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  const double any = tapegrad::dist::all_reduce_sum(env, double(failed));
  if (env.is_root() && any > 0 && !failed) std::fprintf(stderr, "a test failed on another rank (see above)\n");
  return any > 0 ? 1 : 0;
}
