#pragma once
// The options every fuzz target loads with, shared with tests/test_fuzz_regressions.cpp: each
// input kept in tests/data/fuzz-regressions/ must be an IoError under exactly these.
#include <cstdint>

#include "tapegrad/io/csv.hpp"
#include "tapegrad/io/file.hpp"

namespace fuzz {

/// What one load may allocate while fuzzing: 4 MiB. Far below libFuzzer's -malloc_limit_mb (512,
/// see scripts/fuzz), so that a load within its limit is never reported as a huge allocation, and
/// far above what the seeds need. A few KB of deflate expand to a few MiB, four to eight times
/// that as float or double: the widening bombs of fuzz/corpus/ exceed it.
inline constexpr std::uint64_t kMaxBytes = std::uint64_t(4) << 20;

inline tapegrad::io::LoadOptions load_options() { return tapegrad::io::LoadOptions().max_bytes(kMaxBytes); }
inline tapegrad::io::CsvOptions csv_options() { return tapegrad::io::CsvOptions().max_bytes(kMaxBytes); }

}  // namespace fuzz
