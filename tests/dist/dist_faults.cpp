// A job in which rank 1 fails while the other ranks wait for it in a collective, for
// test_dist_faults.py. Usage: dist_faults MODE, MODE one of
//   abort     rank 1 throws; main catches it inside the Environment's scope and calls env.abort()
//   unwind    rank 1 throws; the exception leaves the Environment's scope (its destructor skips
//             MPI_Finalize), then main prints it and returns 1
//   uncaught  rank 1 throws and nothing catches it (std::terminate)
//   sigkill   rank 1 kills itself with SIGKILL
// The others keep summing over the job; they must not hang.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "tapegrad/dist/collectives.hpp"
#include "tapegrad/dist/environment.hpp"
#include "tapegrad/error.hpp"

namespace dist = tapegrad::dist;

namespace {
void work(const dist::Environment& env, const std::string& mode) {
  for (int step = 0;; ++step) {
    if (env.rank() == 1 && step == 3) {
      if (mode == "sigkill") ::raise(SIGKILL);
      throw tapegrad::ValueError("boom on rank 1 at step 3");
    }
    dist::all_reduce_sum(env, 1.0);
  }
}
}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode != "abort" && mode != "unwind" && mode != "uncaught" && mode != "sigkill") {
    std::fprintf(stderr, "usage: dist_faults abort|unwind|uncaught|sigkill\n");
    return 2;
  }
  if (mode == "unwind") {
    try {
      dist::Environment env(argc, argv);
      work(env, mode);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dist_faults: %s\n", e.what());
      return 1;
    }
  }
  dist::Environment env(argc, argv);
  if (mode == "abort") {
    try {
      work(env, mode);
    } catch (const std::exception& e) {
      env.abort(e.what());
    }
  }
  work(env, mode);  // uncaught, sigkill
}
