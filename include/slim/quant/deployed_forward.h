// A quantized linear run as an inference engine runs it: from the stored codes and scales of its
// DeployedLinear record (scheme.h), with the activations quantized at run time as the record's
// tag says (spec msmodelslim-v1.md §2.6, §5.5, §7.4; docs/formats.md, "Running saved quantized
// outputs"). The runtime wraps this in a Linear hook to evaluate saved quantized checkpoints.
//
//   FLOAT, W16A16S, W8A16, W4A16   weight dequantized to the activation dtype, product accumulated
//                                  in fp32 (fp64 for fp64 inputs)
//   W8A8                           int8 per tensor with the stored s_x, z_x:
//                                  q_x = clamp(round(x / s_x + z_x), -128, 127) (half to even,
//                                  fp32)
//   W8A8_MIX                       prefill path (default): int8 per token, symmetric, with the
//                                  stored s_w; decode path (MixStage::Decode): as W8A8
//   W8A8_DYNAMIC, W4A8_DYNAMIC     int8 per token, symmetric: s = max(amax / 127, 2^-23)
//   W4A4_DYNAMIC                   int4 per token, symmetric: s = max(amax / 7, 2^-23)
//   WFP8AFP8_DYNAMIC               FP8 E4M3 per token: s = max(amax, 1e-12) / 448
//   W8A8_MXFP8, W4A8_MXFP          MXFP8 blocks of 32 along the input dim
//   W4A4_MXFP4                     MXFP4 blocks of 32 along the input dim
//
// Quantized activations are computed in fp32 with the kernels of numerics.h; the product of the
// activation codes with the dequantized weight (codes − offset)·scale is taken in fp64, where
// every code product is exact and an int8 × int8 sum over any realistic input dim is an integer
// held exactly, then scaled by the activation scale, the bias added (fp64) and the result rounded
// once to the input's dtype.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "slim/quant/scheme.h"

namespace slim::quant {

// The two deployments of a pd_mix linear (W8A8_MIX, §5.5): prefill quantizes activations per
// token (symmetric, dynamic) against weight_scale; decode uses the static per-tensor parameters
// (input_scale / input_offset) as W8A8 does.
enum class MixStage { Prefill, Decode };

// `input` [..., in] in a floating dtype, on any device (the record's tensors are on the CPU, as
// scheme.h says, and are moved to the input's device). Returns [..., out] in the input's dtype on
// its device. Throws slim::Error naming the record's module and tag for a record that does not
// validate, an input of the wrong shape or dtype, or NaN/Inf in an activation that is quantized.
at::Tensor deployed_linear_forward(const DeployedLinear& record, const at::Tensor& input,
                                   MixStage mix_stage = MixStage::Prefill);

// Weight-only forms (FLOAT, W16A16S, W8A16, W4A16: the deployed-form table's Activations::None)
// in two steps, for a caller that runs one record many times (a resident layer) and keeps the
// operand: the dequantized weight for inputs of `dtype` on `device`, and the product with it.
// weight_only_forward(record, weight_only_operand(record, x.dtype, x.device), x) is exactly
// deployed_linear_forward(record, x). The operand step throws for other forms.
bool is_weight_only(DeployedTag tag);
at::Tensor weight_only_operand(const DeployedLinear& record, at::ScalarType dtype,
                               c10::Device device);
at::Tensor weight_only_forward(const DeployedLinear& record, const at::Tensor& operand,
                               const at::Tensor& input);

// The same split for forms with quantized activations: the weight operand (dequantized in fp64)
// computed once, the activations quantized on every call. quantized_forward(record,
// quantized_operand(record, x.device), x) is exactly deployed_linear_forward(record, x).
// An fp32 operand (`dtype` kFloat) runs the product in fp32: the activation codes are exact
// there and the sum carries fp32 rounding (relative ~1e-7, far below the bf16 an engine
// rounds its output to) at twice the speed; the calibration forward uses it.
at::Tensor quantized_operand(const DeployedLinear& record, c10::Device device,
                             at::ScalarType dtype = at::kDouble);
at::Tensor quantized_forward(const DeployedLinear& record, const at::Tensor& operand,
                             const at::Tensor& input, MixStage mix_stage = MixStage::Prefill);

}  // namespace slim::quant
