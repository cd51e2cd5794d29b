// Deployed execution of a quantized linear (see slim/quant/deployed_forward.h).
#include "slim/quant/deployed_forward.h"

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "slim/core/error.h"
#include "slim/quant/deployed_forms.h"
#include "slim/quant/numerics.h"
#include "slim/quant/observer.h"

namespace slim::quant {
namespace {

// How a tag's activations reach the product.
enum class ActPath {
  Float,      // not quantized
  PerTensor,  // static int8 per tensor (input_scale / input_offset)
  PerToken,   // dynamic symmetric int8 / int4 / fp8 per token
  MxBlock,    // dynamic MX blocks of 32 along the input dim
};

struct Plan {
  ActPath path = ActPath::Float;
  QDtype dtype = QDtype::Float;  // of the quantized activation
};

[[noreturn]] void fail(const DeployedLinear& record, const std::string& what) {
  SLIM_FAIL("deployed linear ", quote(record.name), " (", tag_name(record.tag), "): ", what);
}

// Every tag has a case and no default: a new tag fails to compile until it is given a path.
Plan plan_of(const DeployedLinear& record, MixStage mix_stage) {
  switch (record.tag) {
    case DeployedTag::Float:
    case DeployedTag::W16A16S:
    case DeployedTag::W8A16:
    case DeployedTag::W4A16:
      return {ActPath::Float, QDtype::Float};
    case DeployedTag::W8A8:
      return {ActPath::PerTensor, QDtype::Int8};
    case DeployedTag::W8A8Mix:
      // §5.5: prefill quantizes per token, symmetric, at run time (what calibration emulated);
      // decode runs the static per-tensor parameters.
      return mix_stage == MixStage::Prefill ? Plan{ActPath::PerToken, QDtype::Int8}
                                            : Plan{ActPath::PerTensor, QDtype::Int8};
    case DeployedTag::W8A8Dynamic:
    case DeployedTag::W4A8Dynamic:
      return {ActPath::PerToken, QDtype::Int8};
    case DeployedTag::W4A4Dynamic:
      return {ActPath::PerToken, QDtype::Int4};
    case DeployedTag::WFp8AFp8Dynamic:
      return {ActPath::PerToken, QDtype::Fp8E4M3};
    case DeployedTag::W8A8MxFp8:
    case DeployedTag::W4A8MxFp:
      return {ActPath::MxBlock, QDtype::MxFp8};
    case DeployedTag::W4A4MxFp4:
      return {ActPath::MxBlock, QDtype::MxFp4};
  }
  fail(record, "no deployed execution for this tag");
}

QScheme per_token(QDtype dtype) {
  QScheme scheme;
  scheme.dtype = dtype;
  scheme.scope = QScope::PerToken;
  scheme.symmetric = true;
  return scheme;
}

// The quantized activation as the product sees it: `values` [T, I] fp64 ((q − z_x) for integer
// codes, grid values for fp8, values·2^e for MX) and `scale` ([T, 1] or [1] fp64; undefined when
// the values already carry it).
struct QuantizedActivation {
  at::Tensor values;
  at::Tensor scale;
};

QuantizedActivation quantize_activation(const DeployedLinear& record, const Plan& plan,
                                        const at::Tensor& x) {
  const std::string name = record.name + " (input)";
  const at::Tensor x32 = x.to(at::kFloat);
  switch (plan.path) {
    case ActPath::Float:
      break;
    case ActPath::PerTensor: {
      QParams params;
      params.scheme = record.act;
      params.scheme.scope = QScope::PerTensor;  // W8A8_MIX decode: its static parameters
      params.scale = record.input_scale.to(x.device());
      params.offset = record.input_offset.to(x.device());
      const at::Tensor q = quantize(name, x32, params);
      return {q.to(at::kDouble).sub(params.offset.to(at::kDouble)), params.scale.to(at::kDouble)};
    }
    case ActPath::PerToken: {
      // round_to_e4m3 is a CPU kernel; integer codes are computed on the input's device.
      const at::Tensor xs = plan.dtype == QDtype::Fp8E4M3 ? x32.cpu() : x32;
      const MinMax mm = act_minmax_per_token(name, xs);
      const QParams params = calculate_qparam(name, mm.min, mm.max, per_token(plan.dtype));
      const at::Tensor q = quantize(name, xs, params);
      return {q.to(x.device(), at::kDouble), params.scale.to(x.device(), at::kDouble)};
    }
    case ActPath::MxBlock: {
      const MxQuantized q = mx_quantize(name, x32.cpu(), plan.dtype);
      return {mx_dequantize(q.values, q.exponents, at::kDouble).to(x.device()), at::Tensor()};
    }
  }
  SLIM_INTERNAL_ASSERT(false, "activation path of ", record.name);
}

}  // namespace

namespace {

// The checks every entry point makes of its input; the output shape [..., out].
std::vector<int64_t> checked_output_shape(const DeployedLinear& record, const at::Tensor& input) {
  const int64_t in = record.in_features();
  if (!input.defined()) fail(record, "the input is undefined");
  if (!at::isFloatingType(input.scalar_type())) {
    fail(record, str("the input must be floating point, found ", input.scalar_type()));
  }
  if (input.dim() < 1 || input.size(-1) != in) {
    fail(record, str("the input must be [..., ", in, "], found ", input.sizes()));
  }
  std::vector<int64_t> out_shape(input.sizes().begin(), input.sizes().end());
  out_shape.back() = record.out_features();
  return out_shape;
}

at::ScalarType work_dtype(at::ScalarType dtype) {
  return dtype == at::kDouble ? at::kDouble : at::kFloat;
}

}  // namespace

bool is_weight_only(DeployedTag tag) {
  return deployed_form_spec(tag).activations == Activations::None;
}

at::Tensor weight_only_operand(const DeployedLinear& record, at::ScalarType dtype,
                               c10::Device device) {
  if (!is_weight_only(record.tag)) fail(record, "not a weight-only form");
  // The weight dequantized to the activation dtype, as an engine's weight-only kernel feeds it
  // to the GEMM, with an fp32 accumulator (fp64 for fp64 inputs).
  return dequantize_weight(record, dtype).to(device, work_dtype(dtype));
}

at::Tensor weight_only_forward(const DeployedLinear& record, const at::Tensor& operand,
                               const at::Tensor& input) {
  const std::vector<int64_t> out_shape = checked_output_shape(record, input);
  const at::ScalarType dtype = input.scalar_type();
  const at::ScalarType work = work_dtype(dtype);
  const at::Tensor x = input.reshape({-1, record.in_features()});
  if (x.size(0) == 0) return at::zeros(out_shape, input.options());
  at::Tensor y = at::matmul(x.to(work), operand.t());
  if (record.bias) y = y.add(record.bias->to(x.device(), work));
  return y.to(dtype).reshape(out_shape);
}

at::Tensor quantized_operand(const DeployedLinear& record, c10::Device device,
                             at::ScalarType dtype) {
  SLIM_INTERNAL_ASSERT(dtype == at::kDouble || dtype == at::kFloat, record.name,
                       ": the product runs in fp64 or fp32");
  return dequantize_weight(record, dtype).to(device);  // fp32: one rounding, as fp64 then fp32
}

at::Tensor quantized_forward(const DeployedLinear& record, const at::Tensor& operand,
                             const at::Tensor& input, MixStage mix_stage) {
  const Plan plan = plan_of(record, mix_stage);
  const std::vector<int64_t> out_shape = checked_output_shape(record, input);
  SLIM_INTERNAL_ASSERT(plan.path != ActPath::Float, record.name, ": a weight-only form");
  const at::ScalarType dtype = input.scalar_type();
  const at::Tensor x = input.reshape({-1, record.in_features()});
  if (x.size(0) == 0) return at::zeros(out_shape, input.options());
  const QuantizedActivation a = quantize_activation(record, plan, x);
  const at::ScalarType work = operand.scalar_type();
  at::Tensor y = at::matmul(a.values.to(work), operand.t());
  if (a.scale.defined()) y = y.mul(a.scale.to(work));
  if (record.bias) y = y.add(record.bias->to(x.device(), work));
  return y.to(dtype).reshape(out_shape);
}

at::Tensor deployed_linear_forward(const DeployedLinear& record, const at::Tensor& input,
                                   MixStage mix_stage) {
  record.validate();
  const Plan plan = plan_of(record, mix_stage);
  checked_output_shape(record, input);
  if (plan.path == ActPath::Float) {
    return weight_only_forward(
        record, weight_only_operand(record, input.scalar_type(), input.device()), input);
  }
  return quantized_forward(record, quantized_operand(record, input.device()), input, mix_stage);
}

}  // namespace slim::quant
