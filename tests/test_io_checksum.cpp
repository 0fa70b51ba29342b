// io/checksum.hpp: FNV-1a 64 of a model's names, shapes and bytes.
#include <gtest/gtest.h>

#include <cstring>

#include "tapegrad/io/checksum.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/mlp.hpp"
#include "tapegrad/random.hpp"

namespace tg = tapegrad;

namespace {
// A module of one parameter, to choose its name and shape.
class One : public tg::nn::Module<float> {
 public:
  One(const std::string& name, tg::Array<float> value) { register_parameter(name, std::move(value)); }
  tg::Var<float> forward(const tg::Var<float>& x) { return x; }
};
}  // namespace

TEST(Checksum, Fnv1a64KnownValues) {
  // The published FNV-1a 64 test vectors.
  EXPECT_EQ(tg::io::fnv1a64("", 0), 0xcbf29ce484222325ull);
  EXPECT_EQ(tg::io::fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(tg::io::fnv1a64("foobar", 6), 0x85944171f73967e8ull);
  // Continuing a hash is hashing the concatenation.
  EXPECT_EQ(tg::io::fnv1a64("bar", 3, tg::io::fnv1a64("foo", 3)), 0x85944171f73967e8ull);
  EXPECT_EQ(tg::io::checksum_hex(0x85944171f73967e8ull), "85944171f73967e8");
  EXPECT_EQ(tg::io::checksum_hex(0x1ull), "0000000000000001");
}

TEST(Checksum, SeesEveryBitNameAndShape) {
  tg::Rng a(3), b(3);
  tg::nn::MLP<float> m1({4, 8, 2}, a), m2({4, 8, 2}, b);
  EXPECT_EQ(tg::io::checksum(m1), tg::io::checksum(m2));
  auto p = m2.parameters()[2];
  std::uint32_t bits;
  std::memcpy(&bits, &p.value()(3, 1), 4);
  bits ^= 1u;  // the last bit of one weight
  std::memcpy(&p.mutable_value()(3, 1), &bits, 4);
  EXPECT_NE(tg::io::checksum(m1), tg::io::checksum(m2));

  const tg::Array<float> v = {{1.f, 2.f, 3.f, 4.f}};
  tg::Array<float> v2 = v;
  v2.reshape({2, 2});
  EXPECT_NE(tg::io::checksum(One("w", v)), tg::io::checksum(One("v", v)));
  EXPECT_NE(tg::io::checksum(One("w", v)), tg::io::checksum(One("w", v2)));  // same bytes, other shape
  EXPECT_EQ(tg::io::checksum(One("w", v)), tg::io::checksum(One("w", v)));
}
