// Quantization schemes (msModelSlim V1 `QConfig`, spec msmodelslim-v1.md §2.5) and the deployed
// linear record (§2.6, §7.4): the one structure that quantization algorithms produce and savers
// (ascendv1, compressed-tensors) consume. Savers never re-derive quantization from float weights;
// algorithms never know a file format.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace slim::quant {

enum class QDtype { Int8, Int4, Fp8E4M3, MxFp8, MxFp4, Float };
enum class QScope {
  PerTensor,
  PerChannel,
  PerGroup,
  PerBlock,
  PerToken,
  PdMix,
  PerHead,
  DualScale
};

// The YAML spellings: "int8", "int4", "fp8_e4m3", "mxfp8", "mxfp4", "float"; "per_tensor",
// "per_channel", "per_group", "per_block", "per_token", "pd_mix", "per_head", "dual_scale".
const char* qdtype_name(QDtype dtype);
const char* qscope_name(QScope scope);
// Throw slim::Error naming the unknown value and listing the valid ones.
QDtype parse_qdtype(const std::string& name);
QScope parse_qscope(const std::string& name);

inline bool is_integer(QDtype dtype) {
  return dtype == QDtype::Int8 || dtype == QDtype::Int4;
}
inline bool is_mx(QDtype dtype) {
  return dtype == QDtype::MxFp8 || dtype == QDtype::MxFp4;
}
constexpr int64_t kMxBlock = 32;  // MX elements per shared exponent (spec §4.4)

struct QScheme {
  QDtype dtype = QDtype::Float;
  QScope scope = QScope::PerTensor;
  bool symmetric = true;
  int64_t group_size = 0;  // per_group: the group length along the input dim; MX: 32

  bool is_float() const { return dtype == QDtype::Float; }
  std::string to_string() const;  // "int8 per_channel sym", "int4 per_group(128) asym"
  bool operator==(const QScheme& other) const;
  bool operator!=(const QScheme& other) const { return !(*this == other); }
};

// Description tags of spec §2.6 / §7.3 (W4A16 is Slim's: int4 weight-only, see docs/formats.md).
// Every tag is one row of the deployed-form table (deployed_forms.h), which gives its names,
// scheme pairing and model_quant_type priority.
enum class DeployedTag {
  Float,
  W16A16S,
  W8A16,
  W4A16,
  W8A8Dynamic,
  W8A8Mix,
  W8A8,
  WFp8AFp8Dynamic,
  W8A8MxFp8,
  W4A8MxFp,
  W4A8Dynamic,
  W4A4Dynamic,
  W4A4MxFp4,
};
const char* tag_name(DeployedTag tag);  // the JSON spelling: "W8A8_DYNAMIC", "FLOAT", ...
// §7.8: the priority of a tag for `model_quant_type` (higher wins); nullopt for tags that never
// become the model type (W4A8_DYNAMIC). Slim's W4A16 ranks just above W8A16.
std::optional<int> model_type_priority(DeployedTag tag);

// §2.6: the deployed form of a linear quantized with activation scheme `act` and weight scheme
// `weight`. Any other pair is an error listing every valid pair.
DeployedTag select_deployed_tag(const QScheme& act, const QScheme& weight);

// What a linear deploys as, without its tensors: the tag and the two schemes (which carry the
// group size and the symmetry). Savers say up front which forms they hold (QuantizedModelSaver::
// check); check_form (deployed_forms.h) says whether a form exists at all.
struct DeployedForm {
  DeployedTag tag = DeployedTag::Float;
  QScheme act;
  QScheme weight;

  // "W8A8_DYNAMIC (activations int8 per_token sym, weights int8 per_group(128) asym)"
  std::string to_string() const;
  bool operator==(const DeployedForm& other) const;
  bool operator!=(const DeployedForm& other) const { return !(*this == other); }
};

// One quantized linear as it will be deployed. Tensors are on the CPU.
//
// Weight codes are kept in a format-neutral form; each saver packs them as its format says:
//   int8 / int4: `weight_codes` int8 [O, I] (int4 unpacked, values in [-8, 7]);
//                `weight_scale` fp32 and `weight_offset` fp32 (signed zero-point, zeros when
//                symmetric), both [O, 1] per channel or [O, I / group_size] per group;
//                W ≈ (codes − offset) · scale.
//   fp8_e4m3:    `weight_codes` fp32 [O, I] holding values exactly on the E4M3 grid (|v| ≤ 448);
//                `weight_scale` fp32 [O, 1]; W ≈ codes · scale.
//   mxfp8/mxfp4: `weight_codes` fp32 [O, I] holding element values on the E4M3 / E2M1 grid;
//                `weight_scale` int32 [O, ceil(I / 32)] holding the shared exponents e (the file
//                byte is e + 127); W ≈ codes · 2^e. No offset.
// Static activations (W8A8, W8A8_MIX): `input_scale`, `input_offset` fp32 [1] (s_x, signed z_x).
struct DeployedLinear {
  std::string name;  // module path, e.g. "model.layers.0.self_attn.q_proj"
  DeployedTag tag = DeployedTag::Float;
  QScheme act;
  QScheme weight;
  at::Tensor weight_codes;
  at::Tensor weight_scale;
  at::Tensor weight_offset;
  at::Tensor input_scale;
  at::Tensor input_offset;
  std::optional<at::Tensor> bias;  // the original bias, original dtype
  // The checkpoint's dtype (config.json torch_dtype): decides the deq_scale encoding of W8A8
  // (spec §7.5) and the precision of its arithmetic.
  at::ScalarType model_dtype = at::kBFloat16;

  DeployedForm form() const { return {tag, act, weight}; }
  int64_t out_features() const { return weight_codes.size(0); }
  int64_t in_features() const { return weight_codes.size(1); }
  // Checks shapes and dtypes against the tag; throws naming `name` and the offending tensor.
  void validate() const;
};

// The record of codes and scales an algorithm computed itself (min/max, GPTQ, AWQ, SSZ, ...), in
// the layout above, validated. Tensors may be on any device and in any dtype that holds their
// values exactly: they are moved to the CPU and converted (integer codes to int8 from any integral
// or integral-valued floating tensor, scales and offsets to fp32, MX exponents to int32, fp8 and
// MX element values to fp32; the weight of a FLOAT / W16A16S form keeps its floating dtype).
// Undefined tensors are absent: `offset` may be when the weights are symmetric (zeros are
// stored), and must be for MX and float forms; `scale` must be for float forms; `input_scale`
// (one element, > 0) is required by static-activation forms (W8A8, W8A8_MIX) and refused by the
// others, `input_offset` likewise (zeros when the activations are symmetric and it is absent).
// `bias` keeps its dtype. Errors name `name` and the tensor: a wrong shape, a dtype that cannot
// hold the values, non-integral or out-of-range codes, a form that does not exist.
DeployedLinear make_deployed_linear(const std::string& name, const DeployedForm& form,
                                    const at::Tensor& codes, const at::Tensor& scale,
                                    const at::Tensor& offset, const std::optional<at::Tensor>& bias,
                                    const at::Tensor& input_scale, const at::Tensor& input_offset,
                                    at::ScalarType model_dtype);

}  // namespace slim::quant
