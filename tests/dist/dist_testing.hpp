#pragma once
// Shared by the MPI test programs (tests/dist/): the job's Environment, made by main() in
// dist_test_main.cpp before the tests run. Every test is collective: every rank runs the same
// tests in the same order, so a test uses EXPECT_* (not ASSERT_*) before any collective call,
// lest a rank return early and leave the others waiting (ctest's timeout would end that).
#include "tapegrad/dist/environment.hpp"

namespace tapegrad::dist::testing {
const Environment& env();
}  // namespace tapegrad::dist::testing
