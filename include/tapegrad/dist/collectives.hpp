#pragma once
/// Layer 8: small collectives for what a training loop reduces besides gradients: metrics
/// (loss sums, correct predictions, example counts) and values that must agree on every rank.
///
///     double sums[3] = {loss_sum, correct, double(examples)};     // this rank's
///     tapegrad::dist::all_reduce_sum(env, sums, 3);               // now the job's
///     const double loss = sums[0] / sums[2], accuracy = sums[1] / sums[2];
///
/// Every function here is collective: every rank must call it, in the same order.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tapegrad/dist/environment.hpp"

namespace tapegrad::dist {

/// Replaces `values[0..n)` on every rank by their sums over all ranks (MPI_Allreduce). The
/// order in which ranks' values are added is MPI's: doubles may differ in the last bits from a
/// sum in rank order, integers are exact.
void all_reduce_sum(const Environment& env, double* values, std::size_t n);
void all_reduce_sum(const Environment& env, std::int64_t* values, std::size_t n);
/// The sum of `value` over all ranks.
double all_reduce_sum(const Environment& env, double value);

/// Every rank's `value`, in rank order (MPI_Allgather).
std::vector<std::uint64_t> all_gather(const Environment& env, std::uint64_t value);
/// Every rank's string, in rank order.
std::vector<std::string> all_gather(const Environment& env, const std::string& value);

/// Throws MismatchError on every rank unless every rank passed the same `value`. The message
/// names `what` and the first rank that differs from rank 0, e.g. "dataset size differs
/// between ranks: 60000 on rank 0, 59999 on rank 2".
void check_same(const Environment& env, const std::string& what, std::uint64_t value);
void check_same(const Environment& env, const std::string& what, const std::string& value);

}  // namespace tapegrad::dist
