// Conversion hot loops; the TypeScript reference is src/model/convert.ts and the two must agree bit for bit.
#pragma once
#include <cstddef>
#include <cstdint>

namespace kvzip {

void bf16_to_f32(const uint16_t* src, uint32_t* dst, size_t n);
void f16_to_f32(const uint16_t* src, uint32_t* dst, size_t n);
void f32_to_f16(const uint32_t* src, uint16_t* dst, size_t n);

// W[n, k] row-major → MatMulNBits B [n, n_blocks, block/2], scales [n*n_blocks], zero points [n, ceil(n_blocks/2)].
// Returns the index of the first non-finite weight, or -1.
long long quantize_int4(const float* w, size_t n, size_t k, size_t block, bool clip_search, uint8_t* b, float* scales,
                        uint8_t* zero_points);

}  // namespace kvzip
