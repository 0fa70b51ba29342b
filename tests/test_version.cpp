#include "tapegrad/version.hpp"

#include <gtest/gtest.h>

#include <string>

// The macros are plain integers, usable in #if.
#if !defined(TAPEGRAD_VERSION_MAJOR) || !defined(TAPEGRAD_VERSION_MINOR) || !defined(TAPEGRAD_VERSION_PATCH)
#error "version.hpp must define TAPEGRAD_VERSION_MAJOR/MINOR/PATCH"
#endif
#if TAPEGRAD_VERSION != TAPEGRAD_VERSION_MAJOR * 10000 + TAPEGRAD_VERSION_MINOR * 100 + TAPEGRAD_VERSION_PATCH
#error "TAPEGRAD_VERSION disagrees with its parts"
#endif

TEST(Version, LibraryMatchesProjectVersion) {
  // TAPEGRAD_PROJECT_VERSION comes from CMake's project(VERSION), the single place it is written.
  EXPECT_STREQ(tapegrad::version(), TAPEGRAD_PROJECT_VERSION);
}

TEST(Version, MacrosMatchTheString) {
  const std::string parts = std::to_string(TAPEGRAD_VERSION_MAJOR) + "." + std::to_string(TAPEGRAD_VERSION_MINOR) +
                            "." + std::to_string(TAPEGRAD_VERSION_PATCH);
  EXPECT_EQ(parts, TAPEGRAD_VERSION_STRING);
  EXPECT_EQ(parts, tapegrad::version());
}
