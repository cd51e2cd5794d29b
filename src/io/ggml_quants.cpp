// Dequantizers of ggml's tensor types. Each block layout is written out below from its
// description in llama.cpp's ggml/src/ggml-common.h, and each dequantizer computes what the
// reference dequantize_row_* of ggml/src/ggml-quants.c computes, in the same fp32 operations and
// order. This file is compiled with -ffp-contract=off (CMakeLists.txt) so that `a * b + c` stays
// two roundings, as in the reference on x86-64 and in gguf-py's numpy code.
#include "slim/io/ggml_quants.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "slim/core/error.h"

namespace slim::io {

namespace {

constexpr int kQK = 32;    // QK4_0 = QK4_1 = QK5_0 = QK5_1 = QK8_0
constexpr int kQKK = 256;  // QK_K, the super-block of the k-quants
constexpr int kKScaleSize = 12;

// ------------------------------------------------------------------------------ block layouts
// Halves are kept as their bits (uint16_t) and widened with ggml_fp16_to_fp32. Blocks are copied
// out of the file with memcpy, so the data needs no alignment (a 34-byte Q8_0 block is at an odd
// half-word offset every other block).

struct BlockQ4_0 {
  uint16_t d;           // scale (fp16)
  uint8_t qs[kQK / 2];  // element j in the low nibble of qs[j], element j + 16 in the high one
};
static_assert(sizeof(BlockQ4_0) == 18, "q4_0 block is 18 bytes");

struct BlockQ4_1 {
  uint16_t d;  // scale (fp16)
  uint16_t m;  // minimum (fp16)
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_1) == 20, "q4_1 block is 20 bytes");

struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];  // fifth bit of element j: bit j of the little-endian uint32
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_0) == 22, "q5_0 block is 22 bytes");

struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_1) == 24, "q5_1 block is 24 bytes");

struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_0) == 34, "q8_0 block is 34 bytes");

// 16 sub-blocks of 16 elements; scale and min of each in 4 bits.
struct BlockQ2_K {
  uint8_t scales[kQKK / 16];  // low nibble: scale, high nibble: min
  uint8_t qs[kQKK / 4];       // 2-bit quants
  uint16_t d;                 // super-block scale of the scales (fp16)
  uint16_t dmin;              // super-block scale of the mins (fp16)
};
static_assert(sizeof(BlockQ2_K) == 84, "q2_K block is 84 bytes");

// 16 sub-blocks of 16 elements; 6-bit signed scales (offset 32).
struct BlockQ3_K {
  uint8_t hmask[kQKK / 8];  // third (high) bit of each quant
  uint8_t qs[kQKK / 4];     // low 2 bits
  uint8_t scales[12];       // 16 scales of 6 bits
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110, "q3_K block is 110 bytes");

// 8 sub-blocks of 32 elements; 6-bit scales and mins packed in 12 bytes.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qs[kQKK / 2];
};
static_assert(sizeof(BlockQ4_K) == 144, "q4_K block is 144 bytes");

struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQKK / 8];  // fifth bit
  uint8_t qs[kQKK / 2];  // low 4 bits
};
static_assert(sizeof(BlockQ5_K) == 176, "q5_K block is 176 bytes");

// 16 sub-blocks of 16 elements; 8-bit signed scales.
struct BlockQ6_K {
  uint8_t ql[kQKK / 2];  // low 4 bits
  uint8_t qh[kQKK / 4];  // high 2 bits
  int8_t scales[kQKK / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210, "q6_K block is 210 bytes");

// Intermediate type of llama.cpp's dot products; rarely stored, but a valid GGUF tensor type.
struct BlockQ8_K {
  float d;  // fp32 scale
  int8_t qs[kQKK];
  int16_t bsums[kQKK / 16];  // sums of groups of 16 quants; not needed to dequantize
};
static_assert(sizeof(BlockQ8_K) == 292, "q8_K block is 292 bytes");

template <typename Block>
Block load_block(const uint8_t* src, int64_t index) {
  Block block;
  std::memcpy(&block, src + index * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return block;
}

float half(uint16_t bits) {
  return ggml_fp16_to_fp32(bits);
}

uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// --------------------------------------------------------------------------- dequantizers
// Each takes `nb` blocks at `src` and writes nb * block_size floats to `y`.

void dequantize_q4_0(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = load_block<BlockQ4_0>(src, i);
    const float d = half(b.d);
    for (int j = 0; j < kQK / 2; ++j) {
      const int x0 = (b.qs[j] & 0x0F) - 8;
      const int x1 = (b.qs[j] >> 4) - 8;
      y[j] = static_cast<float>(x0) * d;
      y[j + kQK / 2] = static_cast<float>(x1) * d;
    }
  }
}

void dequantize_q4_1(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = load_block<BlockQ4_1>(src, i);
    const float d = half(b.d);
    const float m = half(b.m);
    for (int j = 0; j < kQK / 2; ++j) {
      const int x0 = b.qs[j] & 0x0F;
      const int x1 = b.qs[j] >> 4;
      y[j] = static_cast<float>(x0) * d + m;
      y[j + kQK / 2] = static_cast<float>(x1) * d + m;
    }
  }
}

void dequantize_q5_0(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = load_block<BlockQ5_0>(src, i);
    const float d = half(b.d);
    const uint32_t qh = le32(b.qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int high0 = ((qh >> j) & 1) << 4;
      const int high1 = ((qh >> (j + 16)) & 1) << 4;
      const int x0 = ((b.qs[j] & 0x0F) | high0) - 16;
      const int x1 = ((b.qs[j] >> 4) | high1) - 16;
      y[j] = static_cast<float>(x0) * d;
      y[j + kQK / 2] = static_cast<float>(x1) * d;
    }
  }
}

void dequantize_q5_1(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = load_block<BlockQ5_1>(src, i);
    const float d = half(b.d);
    const float m = half(b.m);
    const uint32_t qh = le32(b.qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int high0 = ((qh >> j) & 1) << 4;
      const int high1 = ((qh >> (j + 16)) & 1) << 4;
      const int x0 = (b.qs[j] & 0x0F) | high0;
      const int x1 = (b.qs[j] >> 4) | high1;
      y[j] = static_cast<float>(x0) * d + m;
      y[j + kQK / 2] = static_cast<float>(x1) * d + m;
    }
  }
}

void dequantize_q8_0(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = load_block<BlockQ8_0>(src, i);
    const float d = half(b.d);
    for (int j = 0; j < kQK; ++j)
      y[j] = static_cast<float>(b.qs[j]) * d;
  }
}

void dequantize_q2_k(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ2_K>(src, i);
    const float d = half(b.d);
    const float dmin = half(b.dmin);
    const uint8_t* q = b.qs;
    int is = 0;
    // Two halves of 128 elements; each uses 32 bytes of quants, 2 bits at a time.
    for (int n = 0; n < kQKK; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half16 = 0; half16 < 2; ++half16) {
          const uint8_t sc = b.scales[is++];
          const float dl = d * static_cast<float>(sc & 0xF);
          const float ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l) {
            const int value = (q[l + 16 * half16] >> shift) & 3;
            *y++ = dl * static_cast<float>(value) - ml;
          }
        }
      }
    }
  }
}

void dequantize_q3_k(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ3_K>(src, i);
    const float d_all = half(b.d);
    // The 16 scales: low 4 bits in bytes 0..7 (scale j and j + 8 share byte j % 8: low nibble
    // for j < 8), high 2 bits in bytes 8..11 (scale j: bits 2 * (j / 4) of byte 8 + j % 4).
    int scales[16];
    for (int j = 0; j < 16; ++j) {
      const int low = (j < 8 ? b.scales[j] : b.scales[j - 8] >> 4) & 0xF;
      const int high = (b.scales[8 + j % 4] >> (2 * (j / 4))) & 3;
      scales[j] = (low | (high << 4)) - 32;
    }
    const uint8_t* q = b.qs;
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < kQKK; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
        for (int half16 = 0; half16 < 2; ++half16) {
          const float dl = d_all * static_cast<float>(scales[is++]);
          for (int l = 0; l < 16; ++l) {
            const int index = l + 16 * half16;
            const int value = ((q[index] >> shift) & 3) - ((b.hmask[index] & m) ? 0 : 4);
            *y++ = dl * static_cast<float>(value);
          }
        }
      }
    }
  }
}

// Scale and min of sub-block j (0..7) of a q4_K / q5_K block: 6 bits each. Sub-blocks 0..3 keep
// them in the low 6 bits of bytes j and j + 4; sub-blocks 4..7 keep the low 4 bits in byte j + 4
// (scale: low nibble, min: high nibble) and the high 2 bits in the top bits of bytes j - 4
// (scale) and j (min).
void scale_min_k4(int j, const uint8_t* s, int* scale, int* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

void dequantize_q4_k(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ4_K>(src, i);
    const float d = half(b.d);
    const float dmin = half(b.dmin);
    const uint8_t* q = b.qs;
    for (int j = 0; j < 8; j += 2, q += 32) {  // 64 elements per 32 bytes of quants
      int sc = 0, mn = 0;
      scale_min_k4(j, b.scales, &sc, &mn);
      const float d1 = d * static_cast<float>(sc);
      const float m1 = dmin * static_cast<float>(mn);
      scale_min_k4(j + 1, b.scales, &sc, &mn);
      const float d2 = d * static_cast<float>(sc);
      const float m2 = dmin * static_cast<float>(mn);
      for (int l = 0; l < 32; ++l)
        *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l)
        *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void dequantize_q5_k(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ5_K>(src, i);
    const float d = half(b.d);
    const float dmin = half(b.dmin);
    const uint8_t* ql = b.qs;
    uint8_t u1 = 1, u2 = 2;  // the fifth bits of sub-blocks j and j + 1 in qh
    for (int j = 0; j < 8; j += 2, ql += 32) {
      int sc = 0, mn = 0;
      scale_min_k4(j, b.scales, &sc, &mn);
      const float d1 = d * static_cast<float>(sc);
      const float m1 = dmin * static_cast<float>(mn);
      scale_min_k4(j + 1, b.scales, &sc, &mn);
      const float d2 = d * static_cast<float>(sc);
      const float m2 = dmin * static_cast<float>(mn);
      for (int l = 0; l < 32; ++l)
        *y++ = d1 * static_cast<float>((ql[l] & 0xF) + ((b.qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l)
        *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((b.qh[l] & u2) ? 16 : 0)) - m2;
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
  }
}

void dequantize_q6_k(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ6_K>(src, i);
    const float d = half(b.d);
    const uint8_t* ql = b.ql;
    const uint8_t* qh = b.qh;
    const int8_t* sc = b.scales;
    // Two halves of 128 elements: 64 bytes of ql, 32 of qh and 8 scales each.
    for (int n = 0; n < kQKK; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

void dequantize_q8_k(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ8_K>(src, i);
    for (int j = 0; j < kQKK; ++j)
      *y++ = b.d * static_cast<float>(b.qs[j]);
  }
}

void dequantize_f32(const uint8_t* src, float* y, int64_t n) {
  std::memcpy(y, src, static_cast<size_t>(n) * 4);  // little-endian host
}

void dequantize_f16(const uint8_t* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = ggml_fp16_to_fp32(static_cast<uint16_t>(src[2 * i] | src[2 * i + 1] << 8));
}

void dequantize_bf16(const uint8_t* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = ggml_bf16_to_fp32(static_cast<uint16_t>(src[2 * i] | src[2 * i + 1] << 8));
}

using Dequantizer = void (*)(const uint8_t* src, float* y, int64_t blocks);

struct Kernel {
  GgmlType type;
  int64_t block_size;
  int64_t block_bytes;
  Dequantizer run;
};

const Kernel kKernels[] = {
    {GgmlType::F32, 1, 4, dequantize_f32},
    {GgmlType::F16, 1, 2, dequantize_f16},
    {GgmlType::BF16, 1, 2, dequantize_bf16},
    {GgmlType::Q4_0, kQK, sizeof(BlockQ4_0), dequantize_q4_0},
    {GgmlType::Q4_1, kQK, sizeof(BlockQ4_1), dequantize_q4_1},
    {GgmlType::Q5_0, kQK, sizeof(BlockQ5_0), dequantize_q5_0},
    {GgmlType::Q5_1, kQK, sizeof(BlockQ5_1), dequantize_q5_1},
    {GgmlType::Q8_0, kQK, sizeof(BlockQ8_0), dequantize_q8_0},
    {GgmlType::Q2_K, kQKK, sizeof(BlockQ2_K), dequantize_q2_k},
    {GgmlType::Q3_K, kQKK, sizeof(BlockQ3_K), dequantize_q3_k},
    {GgmlType::Q4_K, kQKK, sizeof(BlockQ4_K), dequantize_q4_k},
    {GgmlType::Q5_K, kQKK, sizeof(BlockQ5_K), dequantize_q5_k},
    {GgmlType::Q6_K, kQKK, sizeof(BlockQ6_K), dequantize_q6_k},
    {GgmlType::Q8_K, kQKK, sizeof(BlockQ8_K), dequantize_q8_k},
};

const Kernel* find_kernel(GgmlType type) {
  for (const auto& kernel : kKernels) {
    if (kernel.type == type) return &kernel;
  }
  return nullptr;
}

const Kernel& kernel_or_throw(GgmlType type, const std::string& what) {
  const Kernel* kernel = find_kernel(type);
  SLIM_CHECK(kernel != nullptr, what, ": ggml type ", ggml_type_name(static_cast<uint32_t>(type)),
             " cannot be dequantized (supported: ", ggml_dequantizable_types_text(), ")");
  return *kernel;
}

// Writes `n` floats to `out` (at element `offset`) in `dtype`, rounding to nearest even.
void store(const float* values, int64_t n, void* out, int64_t offset, c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat:
      std::memcpy(static_cast<float*>(out) + offset, values, static_cast<size_t>(n) * 4);
      return;
    case c10::kBFloat16: {
      auto* dst = static_cast<c10::BFloat16*>(out) + offset;
      for (int64_t i = 0; i < n; ++i)
        dst[i] = c10::BFloat16(values[i]);
      return;
    }
    case c10::kHalf: {
      auto* dst = static_cast<c10::Half*>(out) + offset;
      for (int64_t i = 0; i < n; ++i)
        dst[i] = c10::Half(values[i]);
      return;
    }
    default:
      SLIM_INTERNAL_ASSERT(false, "store: dtype ", c10::toString(dtype));
  }
}

}  // namespace

float ggml_fp16_to_fp32(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1Fu;
  uint32_t mantissa = bits & 0x3FFu;
  uint32_t result = 0;
  if (exponent == 0x1F) {  // infinity or NaN (payload kept)
    result = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {  // normal: rebias 15 -> 127
    result = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {  // signed zero
    result = sign;
  } else {  // subnormal: mantissa * 2^-24, normalized for fp32
    uint32_t float_exponent = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --float_exponent;
    }
    result = sign | (float_exponent << 23) | ((mantissa & 0x3FFu) << 13);
  }
  float value;
  std::memcpy(&value, &result, 4);
  return value;
}

float ggml_bf16_to_fp32(uint16_t bits) {
  const uint32_t widened = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &widened, 4);
  return value;
}

bool ggml_can_dequantize(GgmlType type) {
  return find_kernel(type) != nullptr;
}

std::string ggml_dequantizable_types_text() {
  std::string text;
  for (const auto& kernel : kKernels) {
    if (!text.empty()) text += ", ";
    text += ggml_type_name(static_cast<uint32_t>(kernel.type));
  }
  return text;
}

uint64_t ggml_row_bytes(GgmlType type, int64_t n, const std::string& what) {
  const Kernel& kernel = kernel_or_throw(type, what);
  SLIM_CHECK(n >= 0 && n % kernel.block_size == 0, what, ": ", n,
             " elements per row is not a multiple of the ",
             ggml_type_name(static_cast<uint32_t>(type)), " block size ", kernel.block_size);
  return static_cast<uint64_t>(n / kernel.block_size) * static_cast<uint64_t>(kernel.block_bytes);
}

void dequantize_ggml(GgmlType type, const uint8_t* src, float* dst, int64_t n,
                     const std::string& what) {
  const Kernel& kernel = kernel_or_throw(type, what);
  ggml_row_bytes(type, n, what);  // checks n
  kernel.run(src, dst, n / kernel.block_size);
}

at::Tensor dequantize_ggml_tensor(const std::string& name, GgmlType type,
                                  const std::vector<int64_t>& ggml_dims, const uint8_t* data,
                                  uint64_t nbytes, c10::ScalarType dtype) {
  const std::string what = str("tensor ", quote(name));
  const Kernel& kernel = kernel_or_throw(type, what);
  SLIM_CHECK(dtype == c10::kFloat || dtype == c10::kBFloat16 || dtype == c10::kHalf, what,
             ": cannot dequantize to ", c10::toString(dtype), " (fp32, bf16 or fp16)");
  int64_t numel = 1;
  for (const int64_t dim : ggml_dims) {
    SLIM_CHECK(dim >= 0, what, ": negative dimension ", dim);
    numel *= dim;
  }
  const int64_t row = ggml_dims.empty() ? 1 : ggml_dims[0];
  SLIM_CHECK(row % kernel.block_size == 0, what, ": ", row,
             " elements per row is not a multiple of the ",
             ggml_type_name(static_cast<uint32_t>(type)), " block size ", kernel.block_size);
  const int64_t blocks = numel / kernel.block_size;
  const uint64_t expected =
      static_cast<uint64_t>(blocks) * static_cast<uint64_t>(kernel.block_bytes);
  SLIM_CHECK(nbytes == expected, what, ": ", nbytes, " bytes of data, expected ", expected, " for ",
             numel, " elements of ", ggml_type_name(static_cast<uint32_t>(type)));

  std::vector<int64_t> shape(ggml_dims.rbegin(), ggml_dims.rend());
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(dtype));
  if (numel == 0) return out;
  void* out_data = out.data_ptr();
  // Chunks of about 64K elements: one fp32 scratch buffer per chunk, never the whole tensor.
  const int64_t chunk_blocks = std::max<int64_t>(1, 65536 / kernel.block_size);
  const int64_t chunks = (blocks + chunk_blocks - 1) / chunk_blocks;
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch;
    for (int64_t chunk = begin; chunk < end; ++chunk) {
      const int64_t first = chunk * chunk_blocks;
      const int64_t count = std::min(chunk_blocks, blocks - first);
      const int64_t elements = count * kernel.block_size;
      const uint8_t* src = data + first * kernel.block_bytes;
      const int64_t offset = first * kernel.block_size;
      if (dtype == c10::kFloat) {
        kernel.run(src, static_cast<float*>(out_data) + offset, count);
      } else {
        scratch.resize(static_cast<size_t>(elements));
        kernel.run(src, scratch.data(), count);
        store(scratch.data(), elements, out_data, offset, dtype);
      }
    }
  });
  return out;
}

at::Tensor dequantize_gguf_tensor(const GgufFile& file, const GgufTensorInfo& info,
                                  c10::ScalarType dtype) {
  try {
    SLIM_CHECK(info.nbytes.has_value(), "tensor ", quote(info.name), ": ggml type ",
               ggml_type_name(static_cast<uint32_t>(info.type)),
               " cannot be dequantized (supported: ", ggml_dequantizable_types_text(), ")");
    return dequantize_ggml_tensor(info.name, info.type, info.dims, file.tensor_data(info),
                                  *info.nbytes, dtype);
  } catch (const Error& error) {
    throw Error(str(file.path(), ": ", error.what()));
  }
}

}  // namespace slim::io
