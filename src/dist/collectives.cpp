#include "tapegrad/dist/collectives.hpp"

#include "dist/internal.hpp"

namespace tapegrad::dist {

void all_reduce_sum(const Environment& env, double* values, std::size_t n) {
  detail::all_reduce_in_place(env, values, n);
}

void all_reduce_sum(const Environment& env, std::int64_t* values, std::size_t n) {
  TG_CHECK(ValueError, n <= std::size_t(INT_MAX), "all_reduce_sum: ", n, " values are more than one call takes");
  TG_MPI(MPI_Allreduce(MPI_IN_PLACE, values, int(n), MPI_INT64_T, MPI_SUM, env.comm()));
}

double all_reduce_sum(const Environment& env, double value) {
  all_reduce_sum(env, &value, 1);
  return value;
}

std::vector<std::uint64_t> all_gather(const Environment& env, std::uint64_t value) {
  std::vector<std::uint64_t> out(std::size_t(env.world_size()));
  TG_MPI(MPI_Allgather(&value, 1, MPI_UINT64_T, out.data(), 1, MPI_UINT64_T, env.comm()));
  return out;
}

std::vector<std::string> all_gather(const Environment& env, const std::string& value) {
  const std::size_t w = std::size_t(env.world_size());
  TG_CHECK(ValueError, value.size() <= std::size_t(INT_MAX), "all_gather: a string of ", value.size(),
           " bytes is too long");
  const int len = int(value.size());
  std::vector<int> lens(w), offsets(w);
  TG_MPI(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, env.comm()));
  std::size_t total = 0;
  for (std::size_t r = 0; r < w; ++r) {
    TG_CHECK(ValueError, total + std::size_t(lens[r]) <= std::size_t(INT_MAX), "all_gather: strings too long");
    offsets[r] = int(total);
    total += std::size_t(lens[r]);
  }
  std::string all(total, '\0');
  TG_MPI(MPI_Allgatherv(value.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR, env.comm()));
  std::vector<std::string> out(w);
  for (std::size_t r = 0; r < w; ++r) out[r] = all.substr(std::size_t(offsets[r]), std::size_t(lens[r]));
  return out;
}

void check_same(const Environment& env, const std::string& what, std::uint64_t value) {
  const auto all = all_gather(env, value);
  for (std::size_t r = 1; r < all.size(); ++r) {
    if (all[r] != all[0]) {
      throw MismatchError(::tapegrad::detail::concat(what, " differs between ranks: ", all[0], " on rank 0, ", all[r],
                                                     " on rank ", r));
    }
  }
}

void check_same(const Environment& env, const std::string& what, const std::string& value) {
  const auto all = all_gather(env, value);
  for (std::size_t r = 1; r < all.size(); ++r) {
    if (all[r] != all[0]) {
      throw MismatchError(::tapegrad::detail::concat(what, " differs between ranks: ", all[0], " on rank 0, ", all[r],
                                                     " on rank ", r));
    }
  }
}

}  // namespace tapegrad::dist
