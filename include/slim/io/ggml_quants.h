// Dequantization of llama.cpp (ggml) tensor types to fp32, value for value as llama.cpp's
// reference dequantizers (dequantize_row_* in ggml/src/ggml-quants.c) compute it.
//
// Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K.
// Block layouts follow ggml/src/ggml-common.h (little-endian, no padding; each block struct in
// ggml_quants.cpp has its size pinned with static_assert). fp16 scales are widened exactly
// (subnormals included). The arithmetic is done in fp32 in the reference's order (no fused
// multiply-add), so results are bit-identical to llama.cpp's and to gguf-py's numpy dequantizers.
//
// A row (ggml's dims[0], the fastest-varying dimension) must hold a whole number of blocks: the
// file format cannot describe anything else, and every function here checks it, naming the
// tensor in the error.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

#include "slim/io/gguf.h"

namespace slim::io {

// True for the types listed above.
bool ggml_can_dequantize(GgmlType type);
// Names of the supported types, for messages ("f32, f16, bf16, q4_0, ...").
std::string ggml_dequantizable_types_text();

// Bytes of `n` elements of `type`; throws slim::Error naming `what` when n is not a multiple of
// the type's block size or the type is not supported.
uint64_t ggml_row_bytes(GgmlType type, int64_t n, const std::string& what);

// Dequantizes `n` elements (a whole number of blocks) from `src` (no alignment needed) into `dst`.
// `what` names the tensor in errors.
void dequantize_ggml(GgmlType type, const uint8_t* src, float* dst, int64_t n,
                     const std::string& what);

// A whole tensor. `ggml_dims` are in ggml order (dims[0] fastest); the result has the reversed,
// row-major shape (ggml [cols, rows] -> [rows, cols]) and the dtype `dtype` (fp32 values rounded
// to it, to nearest even, in chunks so that no fp32 copy of the whole tensor is held). `nbytes`
// must be exactly the tensor's size. Runs on the intra-op thread pool.
at::Tensor dequantize_ggml_tensor(const std::string& name, GgmlType type,
                                  const std::vector<int64_t>& ggml_dims, const uint8_t* data,
                                  uint64_t nbytes, c10::ScalarType dtype = c10::kFloat);
// The same for a tensor of a GGUF file; errors name the file and the tensor.
at::Tensor dequantize_gguf_tensor(const GgufFile& file, const GgufTensorInfo& info,
                                  c10::ScalarType dtype = c10::kFloat);

// IEEE half and bfloat16 bits -> float, exactly (NaN payloads and infinities kept).
float ggml_fp16_to_fp32(uint16_t bits);
float ggml_bf16_to_fp32(uint16_t bits);

}  // namespace slim::io
