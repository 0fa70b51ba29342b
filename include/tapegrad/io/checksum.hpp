#pragma once
/// Layer 6: a fingerprint of a model's parameters. Two models with the same checksum have the
/// same parameter names, shapes and bytes (up to a 64-bit hash collision): the examples end with
/// `model checksum: <16 hex digits>`, so runs that should agree to the last bit (the same seed;
/// a deterministic data-parallel run on 1, 2 or 4 processes) are compared by one line.
///
///     std::printf("model checksum: %s\n", tapegrad::io::checksum_hex(tapegrad::io::checksum(model)).c_str());
#include <cstddef>
#include <cstdint>
#include <string>

#include "tapegrad/nn/module.hpp"

namespace tapegrad::io {

/// FNV-1a (64 bits) of `size` bytes, continuing from `hash` (the FNV offset basis by default).
std::uint64_t fnv1a64(const void* data, std::size_t size, std::uint64_t hash = 0xcbf29ce484222325ull) noexcept;

/// FNV-1a 64 over every parameter of `module` in `named_parameters()` order: its name, a zero
/// byte, its rank and extents (each 8 bytes, little-endian), then its elements' bytes.
/// The hash of a float and of a double model differ even when their values are equal.
template <class T>
std::uint64_t checksum(const nn::Module<T>& module);

/// `hash` as 16 lowercase hexadecimal digits.
std::string checksum_hex(std::uint64_t hash);

}  // namespace tapegrad::io
