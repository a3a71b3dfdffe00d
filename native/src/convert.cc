#include "convert.h"

#include <cmath>
#include <cstring>

namespace kvzip {

void bf16_to_f32(const uint16_t* src, uint32_t* dst, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = static_cast<uint32_t>(src[i]) << 16;
}

static inline uint32_t f16_bits_to_f32_bits(uint32_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return sign | 0x7f800000u | (mant << 13);
  if (exp != 0) return sign | ((exp + 112) << 23) | (mant << 13);
  if (mant == 0) return sign;
  uint32_t e = 113;
  while ((mant & 0x400u) == 0) {
    mant <<= 1;
    e--;
  }
  return sign | (e << 23) | ((mant & 0x3ffu) << 13);
}

void f16_to_f32(const uint16_t* src, uint32_t* dst, size_t n) {
  // A 256 KiB table beats the branches on subnormal-heavy data and costs the same elsewhere.
  static uint32_t* table = [] {
    static uint32_t t[65536];
    for (uint32_t h = 0; h < 65536; h++) t[h] = f16_bits_to_f32_bits(h);
    return t;
  }();
  for (size_t i = 0; i < n; i++) dst[i] = table[src[i]];
}

static inline uint16_t f32_bits_to_f16_bits(uint32_t x) {
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t exp = (x >> 23) & 0xffu;
  const uint32_t mant = x & 0x7fffffu;
  if (exp == 0xff) {
    if (mant == 0) return static_cast<uint16_t>(sign | 0x7c00u);
    const uint32_t m = mant >> 13;
    return static_cast<uint16_t>(sign | 0x7c00u | (m == 0 ? 1u : m));
  }
  const int e = static_cast<int>(exp) - 112;
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    const uint32_t m = mant | 0x800000u;
    const int shift = 14 - e;
    const uint32_t half = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t mid = 1u << (shift - 1);
    return static_cast<uint16_t>(sign | ((rem > mid || (rem == mid && (half & 1))) ? half + 1 : half));
  }
  const uint32_t half = (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  return static_cast<uint16_t>(sign | ((rem > 0x1000u || (rem == 0x1000u && (half & 1))) ? half + 1 : half));
}

void f32_to_f16(const uint32_t* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = f32_bits_to_f16_bits(src[i]);
}

static constexpr int kClipSteps = 11;
static constexpr double kClipStep = 0.02;

static inline double clamp15(double v) { return v < 0 ? 0 : v > 15 ? 15 : v; }

long long quantize_int4(const float* w, size_t n, size_t k, size_t block, bool clip_search, uint8_t* b, float* scales,
                        uint8_t* zero_points) {
  const size_t n_blocks = (k + block - 1) / block;
  const size_t blob = block / 2;
  const size_t zp_row = (n_blocks + 1) / 2;
  const int steps = clip_search ? kClipSteps : 1;
  for (size_t i = 0; i < n * k; i++)
    if (!std::isfinite(w[i])) return static_cast<long long>(i);
  std::memset(b, 0, n * n_blocks * blob);
  std::memset(zero_points, 0, n * zp_row);
  for (size_t row = 0; row < n; row++) {
    for (size_t blk = 0; blk < n_blocks; blk++) {
      const float* x = w + row * k + blk * block;
      const size_t len = k - blk * block < block ? k - blk * block : block;
      double mn = 0, mx = 0;
      for (size_t j = 0; j < len; j++) {
        const double v = x[j];
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      double best_scale = 0, best_zp = 8, best_err = INFINITY;
      for (int s = 0; s < steps; s++) {
        const double alpha = 1 - kClipStep * s;
        const double lo = alpha * mn;
        const double hi = alpha * mx;
        const double scale = static_cast<float>((hi - lo) / 15);
        if (scale == 0) break;
        const double zp = clamp15(std::nearbyint(-lo / scale));
        double err = 0;
        for (size_t j = 0; j < len; j++) {
          const double v = x[j];
          const double q = clamp15(std::nearbyint(v / scale) + zp);
          const double d = (q - zp) * scale - v;
          err += d * d;
        }
        if (err < best_err) {
          best_err = err;
          best_scale = scale;
          best_zp = zp;
        }
      }
      const size_t si = row * n_blocks + blk;
      scales[si] = static_cast<float>(best_scale);
      const unsigned zpi = static_cast<unsigned>(best_zp);
      zero_points[row * zp_row + (blk >> 1)] |= static_cast<uint8_t>(zpi << ((blk & 1) * 4));
      uint8_t* out = b + si * blob;
      for (size_t j = 0; j < block; j++) {
        const unsigned q = (j < len && best_scale != 0)
                               ? static_cast<unsigned>(clamp15(std::nearbyint(static_cast<double>(x[j]) / best_scale) + best_zp))
                               : zpi;
        out[j >> 1] |= static_cast<uint8_t>(q << ((j & 1) * 4));
      }
    }
  }
  return -1;
}

}  // namespace kvzip
