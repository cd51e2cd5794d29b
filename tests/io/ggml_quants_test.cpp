// ggml dequantizers on hand-built blocks. Expected values come from the block layouts of
// ggml-common.h, written here per element (which byte, which bits, which scale) rather than in the
// loop structure of the implementation, with a few values worked out by hand as literals. Scales
// are powers of two or small integers so every expected value is exact. (Random blocks with
// random fp16 scales are checked against gguf-py's dequantizers in
// tests/python/ggml_dequant_conformance.py.)
#include "slim/io/ggml_quants.h"

#include <ATen/ATen.h>
#include <c10/util/Half.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "slim/core/files.h"
#include "support/expect_error.h"
#include "support/gguf_builder.h"
#include "support/temp_dir.h"

namespace {

using slim::io::dequantize_ggml;
using slim::io::dequantize_ggml_tensor;
using slim::io::GgmlType;

// fp16 bits of a few exact values.
constexpr uint16_t kHalfOne = 0x3C00;
constexpr uint16_t kHalfTwo = 0x4000;
constexpr uint16_t kHalfHalf = 0x3800;     // 0.5
constexpr uint16_t kHalfQuarter = 0x3400;  // 0.25
constexpr uint16_t kHalfMinusOne = 0xBC00;

class Block {
 public:
  explicit Block(size_t size) : bytes_(size, 0) {}
  Block& u8(size_t at, uint8_t v) {
    bytes_.at(at) = v;
    return *this;
  }
  Block& u16(size_t at, uint16_t v) {
    bytes_.at(at) = static_cast<uint8_t>(v & 0xFF);
    bytes_.at(at + 1) = static_cast<uint8_t>(v >> 8);
    return *this;
  }
  Block& u32(size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i)
      bytes_.at(at + i) = static_cast<uint8_t>((v >> (8 * i)) & 0xFF);
    return *this;
  }
  Block& f32(size_t at, float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    return u32(at, bits);
  }
  Block& fill(size_t at, size_t n, const std::function<uint8_t(size_t)>& byte) {
    for (size_t i = 0; i < n; ++i)
      bytes_.at(at + i) = byte(i);
    return *this;
  }
  uint8_t at(size_t i) const { return bytes_.at(i); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

std::vector<float> run(GgmlType type, const std::vector<uint8_t>& bytes, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n), -12345.0f);
  dequantize_ggml(type, bytes.data(), out.data(), n, "test");
  return out;
}

std::vector<uint8_t> concat(const Block& a, const Block& b) {
  std::vector<uint8_t> bytes = a.bytes();
  bytes.insert(bytes.end(), b.bytes().begin(), b.bytes().end());
  return bytes;
}

// ------------------------------------------------------------------------------ conversions

TEST(GgmlFp16, EveryHalfWidensExactly) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float expected =
        static_cast<float>(c10::Half(static_cast<uint16_t>(bits), c10::Half::from_bits()));
    const float actual = slim::io::ggml_fp16_to_fp32(static_cast<uint16_t>(bits));
    if (std::isnan(expected)) {
      ASSERT_TRUE(std::isnan(actual)) << bits;
      continue;
    }
    uint32_t e, a;
    std::memcpy(&e, &expected, 4);
    std::memcpy(&a, &actual, 4);
    ASSERT_EQ(e, a) << "half bits " << bits;
  }
  EXPECT_EQ(slim::io::ggml_fp16_to_fp32(kHalfOne), 1.0f);
  EXPECT_EQ(slim::io::ggml_fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(slim::io::ggml_fp16_to_fp32(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(slim::io::ggml_fp16_to_fp32(0xFBFF), -65504.0f);
  EXPECT_TRUE(std::isinf(slim::io::ggml_fp16_to_fp32(0x7C00)));
  EXPECT_TRUE(std::signbit(slim::io::ggml_fp16_to_fp32(0x8000)));
}

TEST(GgmlFp16, Bf16IsTheHighHalfOfFloat) {
  EXPECT_EQ(slim::io::ggml_bf16_to_fp32(0x3F80), 1.0f);
  EXPECT_EQ(slim::io::ggml_bf16_to_fp32(0xC040), -3.0f);
  EXPECT_EQ(slim::io::ggml_bf16_to_fp32(0x0001), std::ldexp(1.0f, -133));
}

// ------------------------------------------------------------------------------ 32-blocks

TEST(GgmlDequantize, Q8_0IsScaleTimesInt8) {
  Block b(34);
  b.u16(0, kHalfHalf).fill(2, 32, [](size_t j) {
    return static_cast<uint8_t>(static_cast<int8_t>(j * 8 - 128));
  });
  const auto y = run(GgmlType::Q8_0, b.bytes(), 32);
  for (int j = 0; j < 32; ++j)
    EXPECT_EQ(y[j], static_cast<float>(static_cast<int8_t>(b.at(2 + j))) * 0.5f) << j;
  EXPECT_EQ(y[0], -64.0f);  // -128 * 0.5
  EXPECT_EQ(y[31], 60.0f);  // (31 * 8 - 128) * 0.5
}

TEST(GgmlDequantize, Q4_0LowNibblesFirstThenHighNibbles) {
  Block b(18);
  b.u16(0, kHalfTwo).fill(2, 16, [](size_t j) {
    return static_cast<uint8_t>(j | ((15 - j) << 4));
  });
  const auto y = run(GgmlType::Q4_0, b.bytes(), 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 2.0f) << j;              // low nibble of byte j
    EXPECT_EQ(y[j + 16], ((15 - j) - 8) * 2.0f) << j;  // high nibble of byte j
  }
  EXPECT_EQ(y[0], -16.0f);
  EXPECT_EQ(y[16], 14.0f);
}

TEST(GgmlDequantize, Q4_1AddsTheMinimum) {
  Block b(20);
  b.u16(0, kHalfQuarter).u16(2, kHalfMinusOne).fill(4, 16, [](size_t) { return 0x3C; });
  const auto y = run(GgmlType::Q4_1, b.bytes(), 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 2.0f);         // 12 * 0.25 - 1
    EXPECT_EQ(y[j + 16], -0.25f);  // 3 * 0.25 - 1
  }
}

TEST(GgmlDequantize, Q5_0FifthBitFromQh) {
  Block b(22);
  // qh bit j is the fifth bit of element j: bits 0 and 16 set.
  b.u16(0, kHalfOne).u32(2, 0x00010001u).fill(6, 16, [](size_t) { return 0x21; });
  const auto y = run(GgmlType::Q5_0, b.bytes(), 32);
  EXPECT_EQ(y[0], 1.0f);     // (1 | 16) - 16
  EXPECT_EQ(y[1], -15.0f);   // 1 - 16
  EXPECT_EQ(y[16], 2.0f);    // (2 | 16) - 16
  EXPECT_EQ(y[17], -14.0f);  // 2 - 16
  for (int j = 2; j < 16; ++j) {
    EXPECT_EQ(y[j], -15.0f);
    EXPECT_EQ(y[j + 16], -14.0f);
  }
}

TEST(GgmlDequantize, Q5_1FifthBitAndMinimum) {
  Block b(24);
  b.u16(0, kHalfHalf).u16(2, kHalfHalf).u32(4, 0xAAAAAAAAu).fill(8, 16, [](size_t j) {
    return static_cast<uint8_t>(j | (j << 4));
  });
  const auto y = run(GgmlType::Q5_1, b.bytes(), 32);
  for (int j = 0; j < 32; ++j) {
    const int low4 = j % 16;
    const int fifth = (0xAAAAAAAAu >> j) & 1;
    EXPECT_EQ(y[j], static_cast<float>(low4 | (fifth << 4)) * 0.5f + 0.5f) << j;
  }
  EXPECT_EQ(y[1], 9.0f);   // (1 | 16) * 0.5 + 0.5
  EXPECT_EQ(y[16], 0.5f);  // 0 * 0.5 + 0.5
}

// ------------------------------------------------------------------------------ k-quants
// Element e of a 256-element super-block, for the layouts that work in halves of 128:
// h = e / 128, r = e % 128; within a half, 2-bit (q2_K, q3_K) quants of 32 bytes are read four
// times with shifts 0, 2, 4, 6 (r / 32), from byte r % 32.

TEST(GgmlDequantize, Q2_KScalesMinsAndTwoBitQuants) {
  Block b(84);  // scales[16], qs[64], d, dmin
  b.fill(0, 16, [](size_t i) { return static_cast<uint8_t>(i | (1 << 4)); });  // scale i, min 1
  b.fill(16, 64, [](size_t) { return 0xE4; });  // 0b11'10'01'00: shift 2k gives k
  b.u16(80, kHalfOne).u16(82, kHalfHalf);
  const auto y = run(GgmlType::Q2_K, b.bytes(), 256);
  for (int e = 0; e < 256; ++e) {
    const int r = e % 128;
    EXPECT_EQ(y[e], static_cast<float>(e / 16) * static_cast<float>(r / 32) - 0.5f) << e;
  }
  EXPECT_EQ(y[0], -0.5f);
  EXPECT_EQ(y[40], 1.5f);    // scale 2, quant 1
  EXPECT_EQ(y[255], 44.5f);  // scale 15, quant 3
}

TEST(GgmlDequantize, Q2_KQuantsVaryByByte) {
  Block b(84);
  b.fill(0, 16, [](size_t) { return 0x01; });  // scale 1, min 0
  b.fill(16, 64, [](size_t i) { return static_cast<uint8_t>(i * 37 + 11); });
  b.u16(80, kHalfOne).u16(82, kHalfOne);
  const auto y = run(GgmlType::Q2_K, b.bytes(), 256);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, r = e % 128;
    const uint8_t byte = b.at(16 + 32 * h + r % 32);
    EXPECT_EQ(y[e], static_cast<float>((byte >> (2 * (r / 32))) & 3)) << e;
  }
}

// 16 6-bit values packed as q3_K stores its scales: low 4 bits in bytes 0..7 (value j < 8 in
// the low nibble of byte j, value j >= 8 in the high nibble of byte j - 8), high 2 bits in bytes
// 8..11 (value j at bit 2 * (j / 4) of byte 8 + j % 4).
void pack_q3_k_scales(Block& b, size_t at, const int (&values)[16]) {
  for (int j = 0; j < 16; ++j) {
    const int low = values[j] & 0xF, high = (values[j] >> 4) & 3;
    const size_t low_byte = at + (j % 8);
    b.u8(low_byte, static_cast<uint8_t>(b.at(low_byte) | (j < 8 ? low : low << 4)));
    const size_t high_byte = at + 8 + j % 4;
    b.u8(high_byte, static_cast<uint8_t>(b.at(high_byte) | (high << (2 * (j / 4)))));
  }
}

TEST(GgmlDequantize, Q3_KSignedScalesAndHighBitMask) {
  Block b(110);  // hmask[32], qs[64], scales[12], d
  int scales[16];
  for (int j = 0; j < 16; ++j)
    scales[j] = 32 + (j % 2 == 0 ? j : -j);  // stored with offset 32: j or -j
  pack_q3_k_scales(b, 96, scales);
  b.fill(32, 64, [](size_t i) { return static_cast<uint8_t>(i * 53 + 7); });
  b.fill(0, 32, [](size_t i) { return static_cast<uint8_t>(i * 29 + 3); });
  b.u16(108, kHalfTwo);
  const auto y = run(GgmlType::Q3_K, b.bytes(), 256);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, r = e % 128, j = e / 16;
    const int low2 = (b.at(32 + 32 * h + r % 32) >> (2 * (r / 32))) & 3;
    const bool high = (b.at(r % 32) >> (4 * h + r / 32)) & 1;  // hmask bit: 0..7 over the block
    const int q = low2 - (high ? 0 : 4);
    const int scale = scales[j] - 32;
    EXPECT_EQ(y[e], 2.0f * static_cast<float>(scale) * static_cast<float>(q)) << e;
  }
}

TEST(GgmlDequantize, Q3_KByHand) {
  Block b(110);
  // All 16 scales 33 (= +1): low nibbles 1 (bytes 0..7 = 0x11), high bits 2 (bytes 8..11 = 0xAA).
  b.fill(96, 8, [](size_t) { return 0x11; }).fill(104, 4, [](size_t) { return 0xAA; });
  b.fill(32, 64, [](size_t) { return 0xE4; });  // 2-bit quants 0, 1, 2, 3 by shift
  b.fill(0, 32, [](size_t) { return 0x0F; });   // high bit set in the first half only
  b.u16(108, kHalfOne);
  const auto y = run(GgmlType::Q3_K, b.bytes(), 256);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[40], 1.0f);    // first half: quant 1, no offset
  EXPECT_EQ(y[168], -3.0f);  // second half: quant 1 - 4
  EXPECT_EQ(y[255], -1.0f);  // 3 - 4
}

// 8 scales and 8 mins of 6 bits packed as q4_K / q5_K store them (12 bytes).
void pack_k4_scales(Block& b, size_t at, const int (&scale)[8], const int (&min)[8]) {
  for (int j = 0; j < 4; ++j) {
    b.u8(at + j, static_cast<uint8_t>((scale[j] & 63) | ((scale[j + 4] >> 4) << 6)));
    b.u8(at + j + 4, static_cast<uint8_t>((min[j] & 63) | ((min[j + 4] >> 4) << 6)));
    b.u8(at + j + 8, static_cast<uint8_t>((scale[j + 4] & 0xF) | ((min[j + 4] & 0xF) << 4)));
  }
}

TEST(GgmlDequantize, Q4_KSixBitScalesAndMins) {
  Block b(144);  // d, dmin, scales[12], qs[128]
  int scale[8], min[8];
  for (int s = 0; s < 8; ++s) {
    scale[s] = 10 + 7 * s;  // up to 59: the high bits matter for s >= 4
    min[s] = 3 + 8 * s;
  }
  pack_k4_scales(b, 4, scale, min);
  b.u16(0, kHalfOne).u16(2, kHalfHalf);
  b.fill(16, 128, [](size_t i) { return static_cast<uint8_t>(i * 7 + 1); });
  const auto y = run(GgmlType::Q4_K, b.bytes(), 256);
  for (int e = 0; e < 256; ++e) {
    const int s = e / 32;  // sub-block; pairs of sub-blocks share 32 bytes (low, high nibble)
    const uint8_t byte = b.at(16 + 32 * (s / 2) + e % 32);
    const int q = s % 2 == 0 ? byte & 0xF : byte >> 4;
    EXPECT_EQ(y[e], static_cast<float>(scale[s] * q) - 0.5f * static_cast<float>(min[s])) << e;
  }
}

TEST(GgmlDequantize, Q5_KAddsTheFifthBit) {
  Block b(176);  // d, dmin, scales[12], qh[32], qs[128]
  int scale[8], min[8];
  for (int s = 0; s < 8; ++s) {
    scale[s] = 63 - 5 * s;
    min[s] = 2 * s + 40;
  }
  pack_k4_scales(b, 4, scale, min);
  b.u16(0, kHalfHalf).u16(2, kHalfOne);
  b.fill(16, 32, [](size_t i) { return static_cast<uint8_t>(i * 91 + 5); });
  b.fill(48, 128, [](size_t i) { return static_cast<uint8_t>(i * 13 + 2); });
  const auto y = run(GgmlType::Q5_K, b.bytes(), 256);
  for (int e = 0; e < 256; ++e) {
    const int s = e / 32;
    const uint8_t byte = b.at(48 + 32 * (s / 2) + e % 32);
    const int low4 = s % 2 == 0 ? byte & 0xF : byte >> 4;
    const int fifth = (b.at(16 + e % 32) >> s) & 1;  // bit s of qh[e % 32]
    const float expected =
        0.5f * static_cast<float>(scale[s]) * static_cast<float>(low4 + 16 * fifth) -
        static_cast<float>(min[s]);
    EXPECT_EQ(y[e], expected) << e;
  }
}

TEST(GgmlDequantize, Q6_KLowAndHighBitsSignedScales) {
  Block b(210);  // ql[128], qh[64], scales[16], d
  b.fill(0, 128, [](size_t i) { return static_cast<uint8_t>(i * 31 + 9); });
  b.fill(128, 64, [](size_t i) { return static_cast<uint8_t>(i * 17 + 4); });
  b.fill(192, 16, [](size_t i) { return static_cast<uint8_t>(static_cast<int8_t>(3 * i - 20)); });
  b.u16(208, kHalfHalf);
  const auto y = run(GgmlType::Q6_K, b.bytes(), 256);
  for (int e = 0; e < 256; ++e) {
    // Half h: 64 bytes of ql, 32 of qh. Quarter k = r / 32 of the half: low 4 bits from
    // ql[64h + r % 32 + 32 (k odd)] (low nibble for k < 2), high 2 bits at bit 2k of qh[32h + r %
    // 32].
    const int h = e / 128, r = e % 128, k = r / 32, l = r % 32;
    const uint8_t low_byte = b.at(64 * h + l + (k % 2 == 1 ? 32 : 0));
    const int low4 = k < 2 ? low_byte & 0xF : low_byte >> 4;
    const int high2 = (b.at(128 + 32 * h + l) >> (2 * k)) & 3;
    const int q = (low4 | (high2 << 4)) - 32;
    const int scale = static_cast<int8_t>(b.at(192 + e / 16));
    EXPECT_EQ(y[e], 0.5f * static_cast<float>(scale) * static_cast<float>(q)) << e;
  }
}

TEST(GgmlDequantize, Q8_KFloatScale) {
  Block b(292);  // float d, qs[256], bsums[16]
  b.f32(0, 0.25f).fill(4, 256, [](size_t i) { return static_cast<uint8_t>(i); });
  const auto y = run(GgmlType::Q8_K, b.bytes(), 256);
  for (int e = 0; e < 256; ++e)
    EXPECT_EQ(y[e], 0.25f * static_cast<float>(static_cast<int8_t>(e))) << e;
  EXPECT_EQ(y[255], -0.25f);
}

TEST(GgmlDequantize, ConsecutiveBlocksUseTheirOwnScales) {
  Block a(34), b(34);
  a.u16(0, kHalfOne).fill(2, 32, [](size_t) { return 3; });
  b.u16(0, kHalfTwo).fill(2, 32, [](size_t) { return 3; });
  const auto y = run(GgmlType::Q8_0, concat(a, b), 64);
  EXPECT_EQ(y[31], 3.0f);
  EXPECT_EQ(y[32], 6.0f);
}

TEST(GgmlDequantize, PlainTypes) {
  const std::vector<uint8_t> f16 = {0x00, 0x3C, 0x00, 0xC0};  // 1, -2
  EXPECT_EQ(run(GgmlType::F16, f16, 2), (std::vector<float>{1.0f, -2.0f}));
  const std::vector<uint8_t> bf16 = {0x80, 0x3F, 0x40, 0xC0};  // 1, -3
  EXPECT_EQ(run(GgmlType::BF16, bf16, 2), (std::vector<float>{1.0f, -3.0f}));
  Block f32(8);
  f32.f32(0, 1.5f).f32(4, -0.125f);
  EXPECT_EQ(run(GgmlType::F32, f32.bytes(), 2), (std::vector<float>{1.5f, -0.125f}));
}

// ------------------------------------------------------------------------------ tensors

TEST(GgmlDequantizeTensor, ShapeIsReversedAndDtypeRounded) {
  // Two rows of one Q8_0 block: ggml dims {32, 2} -> [2, 32].
  Block a(34), b(34);
  a.u16(0, kHalfQuarter).fill(2, 32, [](size_t j) { return static_cast<uint8_t>(j); });
  b.u16(0, 0x3555).fill(2, 32, [](size_t j) { return static_cast<uint8_t>(j + 1); });  // ~1/3
  const auto bytes = concat(a, b);
  const at::Tensor f32 =
      dequantize_ggml_tensor("w", GgmlType::Q8_0, {32, 2}, bytes.data(), bytes.size());
  ASSERT_EQ(f32.sizes().vec(), (std::vector<int64_t>{2, 32}));
  EXPECT_EQ(f32.scalar_type(), at::kFloat);
  EXPECT_EQ(f32[0][4].item<float>(), 1.0f);
  EXPECT_EQ(f32[1][0].item<float>(), slim::io::ggml_fp16_to_fp32(0x3555));
  for (const auto dtype : {at::kBFloat16, at::kHalf}) {
    const at::Tensor rounded =
        dequantize_ggml_tensor("w", GgmlType::Q8_0, {32, 2}, bytes.data(), bytes.size(), dtype);
    EXPECT_EQ(rounded.scalar_type(), dtype);
    EXPECT_TRUE(at::equal(rounded, f32.to(dtype))) << dtype;
  }
}

TEST(GgmlDequantizeTensor, LargeTensorsSplitIntoChunksGiveTheSameValues) {
  // 2048 rows of 256 (Q4_K): several chunks of the parallel loop.
  const int64_t rows = 2048;
  std::vector<uint8_t> bytes(static_cast<size_t>(rows) * 144);
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  for (int64_t r = 0; r < rows; ++r) {  // finite scales: d, dmin = 2^-k
    bytes[r * 144 + 0] = 0x00, bytes[r * 144 + 1] = static_cast<uint8_t>(0x20 + r % 16);
    bytes[r * 144 + 2] = 0x00, bytes[r * 144 + 3] = static_cast<uint8_t>(0x24 + r % 8);
  }
  const at::Tensor whole =
      dequantize_ggml_tensor("big", GgmlType::Q4_K, {256, rows}, bytes.data(), bytes.size());
  std::vector<float> row(256);
  for (int64_t r = 0; r < rows; r += 511) {
    dequantize_ggml(GgmlType::Q4_K, bytes.data() + r * 144, row.data(), 256, "row");
    EXPECT_TRUE(at::equal(whole[r], at::from_blob(row.data(), {256}, at::kFloat))) << r;
  }
  const at::Tensor bf16 = dequantize_ggml_tensor("big", GgmlType::Q4_K, {256, rows}, bytes.data(),
                                                 bytes.size(), at::kBFloat16);
  EXPECT_TRUE(at::equal(bf16, whole.to(at::kBFloat16)));
}

TEST(GgmlDequantizeTensor, GgufTensor) {
  slim::testing::TempDir dir;
  Block a(34);
  a.u16(0, kHalfHalf).fill(2, 32, [](size_t j) { return static_cast<uint8_t>(j * 2); });
  slim::testing::GgufBuilder builder;
  builder.tensor("q", GgmlType::Q8_0, {32}, std::string(a.bytes().begin(), a.bytes().end()));
  slim::write_file(dir.file("q.gguf"), builder.build());
  const auto file = slim::io::GgufFile::open(dir.file("q.gguf"));
  const at::Tensor values = slim::io::dequantize_gguf_tensor(*file, file->tensor("q"));
  ASSERT_EQ(values.sizes().vec(), (std::vector<int64_t>{32}));
  EXPECT_EQ(values[5].item<float>(), 5.0f);
}

// ------------------------------------------------------------------------------ bad input

TEST(GgmlDequantizeErrors, RowNotAMultipleOfTheBlockNamesTheTensor) {
  const std::vector<uint8_t> bytes(1000);
  EXPECT_ERROR_WITH(
      dequantize_ggml_tensor("blk.0.attn_q.weight", GgmlType::Q4_K, {100, 2}, bytes.data(), 288),
      "tensor 'blk.0.attn_q.weight'", "100 elements per row",
      "not a multiple of the q4_K block size 256");
  std::vector<float> out(40);
  EXPECT_ERROR_WITH(dequantize_ggml(GgmlType::Q8_0, bytes.data(), out.data(), 40, "tensor 'x'"),
                    "tensor 'x'", "40 elements per row", "q8_0 block size 32");
}

TEST(GgmlDequantizeErrors, UnsupportedTypeListsTheSupportedOnes) {
  const std::vector<uint8_t> bytes(1000);
  EXPECT_ERROR_WITH(dequantize_ggml_tensor("t", GgmlType::IQ2_XXS, {256}, bytes.data(), 66),
                    "tensor 't'", "iq2_xxs cannot be dequantized", "q4_K", "q6_K", "bf16");
  EXPECT_FALSE(slim::io::ggml_can_dequantize(GgmlType::IQ4_NL));
  EXPECT_TRUE(slim::io::ggml_can_dequantize(GgmlType::Q5_K));
}

TEST(GgmlDequantizeErrors, ByteCountMustMatch) {
  const std::vector<uint8_t> bytes(100);
  EXPECT_ERROR_WITH(dequantize_ggml_tensor("t", GgmlType::Q8_0, {32, 2}, bytes.data(), 34),
                    "tensor 't'", "34 bytes of data, expected 68", "64 elements of q8_0");
}

TEST(GgmlDequantizeErrors, OutputDtypeMustBeAFloat) {
  const std::vector<uint8_t> bytes(34);
  EXPECT_ERROR_WITH(
      dequantize_ggml_tensor("t", GgmlType::Q8_0, {32}, bytes.data(), 34, at::kDouble),
      "tensor 't'", "cannot dequantize to Double");
}

TEST(GgmlDequantizeErrors, GgufTensorOfAnUnimplementedLayoutNamesFileAndTensor) {
  slim::testing::TempDir dir;
  slim::testing::GgufBuilder builder;
  builder.tensor("iq", GgmlType::IQ2_XS, {256}, std::string(74, '\0'));
  slim::write_file(dir.file("iq.gguf"), builder.build());
  const auto file = slim::io::GgufFile::open(dir.file("iq.gguf"));
  EXPECT_ERROR_WITH(slim::io::dequantize_gguf_tensor(*file, file->tensor("iq")), "iq.gguf",
                    "tensor 'iq'", "iq2_xs cannot be dequantized");
}

}  // namespace
