#include "tapegrad/io/checksum.hpp"

#include <cstdio>

namespace tapegrad::io {

std::uint64_t fnv1a64(const void* data, std::size_t size, std::uint64_t hash) noexcept {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

namespace {
std::uint64_t hash_u64(std::uint64_t v, std::uint64_t hash) noexcept {
  unsigned char le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(v >> (8 * i));
  return fnv1a64(le, sizeof le, hash);
}
}  // namespace

template <class T>
std::uint64_t checksum(const nn::Module<T>& module) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const auto& [name, p] : module.named_parameters()) {
    h = fnv1a64(name.data(), name.size() + 1, h);  // with its terminating zero byte
    const Shape& shape = p.shape();
    h = hash_u64(shape.size(), h);
    for (const std::size_t d : shape) h = hash_u64(d, h);
    h = fnv1a64(p.value().data(), p.value().size() * sizeof(T), h);
  }
  return h;
}

std::string checksum_hex(std::uint64_t hash) {
  char s[17];
  std::snprintf(s, sizeof s, "%016llx", static_cast<unsigned long long>(hash));
  return s;
}

template std::uint64_t checksum(const nn::Module<float>&);
template std::uint64_t checksum(const nn::Module<double>&);

}  // namespace tapegrad::io
