// Quantization arithmetic (spec msmodelslim-v1.md §4, §7.6; docs/quantization.md): integer
// parameters, quantize / dequantize / fake-quantize, FP8 E4M3, the MX formats, int4 and E2M1
// packing, and the bridge from a float weight to a DeployedLinear.
//
// Dtype convention (spec notation, §12): integer and FP8 parameters and codes are computed in the
// dtype of the tensors given (bf16 weights: bf16 arithmetic, each operation rounded to bf16, as
// msModelSlim does); scales are upcast to fp32 only in a DeployedLinear. MX elements are computed
// in fp32. Every function taking a `name` reports NaN/Inf and shape problems with that name.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>

#include "slim/quant/scheme.h"

namespace slim::quant {

// Rounding conventions (docs/quantization.md, "Rounding conventions"):
//   MsModelSlim: the reference's arithmetic, bit for bit (the dtype convention above; symmetric
//     integer scale amax / qmax, asymmetric (max'/(2^b−1)) − (min'/(2^b−1)), each operation
//     rounded to the weight's dtype).
//   Precise: fp32 arithmetic whatever the dtype of the tensors given; symmetric integer scale
//     amax / ((qmax − qmin) / 2) (amax/7.5 int4, amax/127.5 int8, compressed-tensors' rule),
//     asymmetric scale (max' − min') / (2^b − 1) and zero-point round(−min'/scale) + qmin; codes
//     clamp(round(x / scale + offset), qmin, qmax) with x/scale in fp32; scales returned as fp32.
//     FP8 E4M3: the fp32 arithmetic of MsModelSlim on fp32 statistics (scale max(amax,1e-12)/448).
//     MX formats: always fp32 (the same under both).
enum class Numerics { Precise, MsModelSlim };
const char* numerics_name(Numerics numerics);  // "precise" | "msmodelslim"
Numerics parse_numerics(const std::string& name);

// ------------------------------------------------------------------ integer and FP8 parameters

// Signed code range: int8 [-128, 127], int4 [-8, 7].
int64_t qmin(QDtype dtype);
int64_t qmax(QDtype dtype);

// Quantization parameters for an int8, int4 or fp8_e4m3 scheme. `scale` and `offset` have the
// shape of the statistics they came from and broadcast against the tensor they quantize:
//   per_tensor [1]; weight per_channel [O, 1]; per_group [O, I / group_size] (quantize groups the
//   last dim); per_token [..., 1] for x [..., C]; activation per_channel [C]; per_head [H, 1, 1]
//   for x [B, H, S, D] (observer.h makes each of these).
// `offset` is the signed zero-point (zeros when symmetric and for fp8): x ≈ (q − offset)·scale.
struct QParams {
  QScheme scheme;
  at::Tensor scale;
  at::Tensor offset;
};

// §4.1 (int8/int4) and §4.3 (fp8_e4m3: scale = max(amax, 1e-12) / 448, amax = max(−min, max)),
// computed in the dtype of `min` (fp8 scales of fp16 statistics in fp32, where amax/448 cannot
// underflow). Throws naming `name` when min/max hold NaN or Inf, differ in shape, or the scheme is
// not integer/fp8.
// Numerics::Precise: see above (the parameters are fp32 whatever the dtype of min/max).
QParams calculate_qparam(const std::string& name, const at::Tensor& min, const at::Tensor& max,
                         const QScheme& scheme, Numerics numerics = Numerics::MsModelSlim);

// §4.2: int8/int4: q = clamp(round(x / scale + offset), qmin, qmax) as int8 (round half to even);
// fp8_e4m3: q = round_to_e4m3(clamp(x / scale, −448, 448)) as fp32 values on the E4M3 grid.
// Arithmetic in the promoted dtype of x and scale. NaN/Inf in x is an error naming `name`.
at::Tensor quantize(const std::string& name, const at::Tensor& x, const QParams& params);
// x̂ = (q − offset)·scale, in the dtype of the scale.
at::Tensor dequantize(const at::Tensor& codes, const QParams& params);
// dequantize(quantize(x)) in the dtype of x.
at::Tensor fake_quantize(const std::string& name, const at::Tensor& x, const QParams& params);

// ------------------------------------------------------------------ FP8 E4M3 (e4m3fn)

constexpr double kE4M3Max = 448.0;
// Rounds to the nearest E4M3 value (ties to even, subnormals down to 2^-9), saturating at ±448;
// fp32 result, sign of zero kept. NaN stays NaN.
at::Tensor round_to_e4m3(const at::Tensor& x);
// fp32 values on the E4M3 grid -> raw F8_E4M3 bytes (uint8, same shape); a value off the grid is
// an error naming `name`. And back (0x7F/0xFF, the NaN codes, decode to NaN).
at::Tensor e4m3_to_bytes(const std::string& name, const at::Tensor& values);
at::Tensor e4m3_from_bytes(const at::Tensor& bytes);

// ------------------------------------------------------------------ MX formats (§4.4)

// Shared exponents e (int32) from per-block amax: MXFP8 e = floor(log2(amax)) − 8 (amax = 0 uses
// 2^-126), clamped below at −127; MXFP4 e = floor(log2(amax / 0.875 + 9.6e−7)) − 2, clipped to
// [−129, 125]. floor(log2(·)) is evaluated exactly (docs/quantization.md).
at::Tensor mx_shared_exponents(const at::Tensor& block_amax, QDtype dtype);
// Per-block absolute maxima along the last dim, zero-padded to a multiple of 32: [..., ceil(n/32)].
at::Tensor mx_block_amax(const std::string& name, const at::Tensor& x);

struct MxQuantized {
  at::Tensor values;     // fp32, x's shape, element values on the E4M3 / E2M1 grid
  at::Tensor exponents;  // int32 [..., ceil(n / 32)], in [−127, 127] (the E8M0 byte is e + 127)
};
// Blocks of 32 along the last dim. MXFP4 blocks whose exponent falls below −127 are all zeros
// and are stored with e = −127 (see docs/quantization.md).
MxQuantized mx_quantize(const std::string& name, const at::Tensor& x, QDtype dtype);
// x̂ = values · 2^e, in `dtype`.
at::Tensor mx_dequantize(const at::Tensor& values, const at::Tensor& exponents,
                         at::ScalarType dtype);
at::Tensor mx_fake_quantize(const std::string& name, const at::Tensor& x, QDtype dtype);

// ------------------------------------------------------------------ packing (§7.6)

// W4A8 int4: codes int8 [O, I] in [−8, 7] -> int8 [O/2, I] with
// packed[j, i] = (codes[2j+1, i] << 4) | (codes[2j, i] & 0x0F). O must be even.
at::Tensor pack_int4_along_out(const std::string& name, const at::Tensor& codes);
at::Tensor unpack_int4_along_out(const at::Tensor& packed);
// E2M1: fp32 values on {0, ±.5, ±1, ±1.5, ±2, ±3, ±4, ±6} [O, I] -> uint8 [O, I/2], nibble
// code = index of |v| | (signbit << 3), byte = code[2k] | (code[2k+1] << 4). I must be even.
at::Tensor pack_e2m1(const std::string& name, const at::Tensor& values);
at::Tensor unpack_e2m1(const at::Tensor& packed);  // fp32 [O, 2·(I/2)]

// ------------------------------------------------------------------ deployed linears

// Quantizes `weight` [O, I] (min/max, round to nearest) with `weight_scheme` and builds the
// record of the tag select_deployed_tag(act, weight_scheme) picks, through make_deployed_linear
// (scheme.h), as any algorithm that computes its own codes does. Static activations (W8A8,
// W8A8_MIX) need `act_params` (per-tensor scale/offset from an activation observer); dynamic and
// weight-only tags take none. `bias` is kept as given. Errors name `name`.
DeployedLinear deploy_linear(const std::string& name, const at::Tensor& weight,
                             const std::optional<at::Tensor>& bias, const QScheme& act,
                             const QScheme& weight_scheme, const std::optional<QParams>& act_params,
                             at::ScalarType model_dtype, Numerics numerics = Numerics::MsModelSlim);
// The weight the record stands for: (codes − offset)·scale, codes·scale or codes·2^e, in `dtype`
// (default: the record's model_dtype). Equal bit for bit to fake_quantize_weight of the original
// weight when the weight's dtype is `dtype`. Computed in fp32 and rounded once to `dtype`; an
// fp64 `dtype` is computed in fp64 (exact: codes have at most 9 significant bits, scales 24).
at::Tensor dequantize_weight(const DeployedLinear& linear,
                             std::optional<at::ScalarType> dtype = std::nullopt);
// The in-memory fake-quantized weight (min/max statistics), in the weight's dtype; equal bit for
// bit to dequantize_weight(deploy_linear(..., numerics), weight dtype).
at::Tensor fake_quantize_weight(const std::string& name, const at::Tensor& weight,
                                const QScheme& weight_scheme,
                                Numerics numerics = Numerics::MsModelSlim);

}  // namespace slim::quant
