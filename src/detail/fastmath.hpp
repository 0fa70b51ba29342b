#pragma once
// Elementwise exp, sigmoid and tanh for the fused sequence ops (src/rnn.cpp, src/attention.cpp):
// branch-free and call-free, so that a loop over them vectorises (std::exp is a call GCC does
// not vectorise without -ffast-math). Float uses Cephes' polynomials (expf: relative error
// below 1e-7 on [-87, 88]; tanhf: absolute error below 1e-7), double the standard library, as
// double runs the gradient checks, where accuracy is the point and speed is not.
//
// TAPEGRAD_VECTOR_CLONES compiles a function once per instruction set (AVX-512, AVX2 and the
// x86-64 baseline) and picks one at load time (GCC/Clang target_clones): the library is built
// without -march, and a 16-wide loop is 4x a 4-wide one.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(TAPEGRAD_NO_CLONES)
#define TAPEGRAD_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TAPEGRAD_VECTOR_CLONES
#endif

namespace tapegrad::detail {

template <class T>
struct FastMath;

template <>
struct FastMath<float> {
  // e^x, x clamped to [-87.3, 88.3] (the normal range of float): x = n ln2 + r, |r| <= ln2/2,
  // e^r by a degree-7 polynomial, 2^n by writing the exponent bits.
  static inline float exp(float x) {
    x = std::min(std::max(x, -87.3f), 88.3f);
    const float n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;  // round to nearest
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    const float z = r * r;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * z + r + 1.f;
    const std::int32_t bits = (std::int32_t(n) + 127) << 23;
    float s;
    std::memcpy(&s, &bits, sizeof s);
    return p * s;
  }
  static inline float sigmoid(float x) { return 1.f / (1.f + exp(-x)); }
  // An odd polynomial near 0 (where 1 - 2/(e^2x + 1) would cancel), else through exp.
  static inline float tanh(float x) {
    const float a = std::fabs(x);
    const float e = exp(-2.f * a);
    const float big = std::copysign((1.f - e) / (1.f + e), x);
    const float z = x * x;
    float p = -5.70498872745E-3f;
    p = p * z + 2.06390887954E-2f;
    p = p * z - 5.37397155531E-2f;
    p = p * z + 1.33314422036E-1f;
    p = p * z - 3.33332819422E-1f;
    const float small = p * z * x + x;
    return a < 0.625f ? small : big;
  }
};

template <>
struct FastMath<double> {
  static inline double exp(double x) { return std::exp(x); }
  static inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
  static inline double tanh(double x) { return std::tanh(x); }
};

}  // namespace tapegrad::detail
