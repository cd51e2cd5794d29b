// Scheme names and parsers, and DeployedLinear records: their validation and make_deployed_linear
// (spec msmodelslim-v1.md §2.5, §7.4). The §2.6 pairing lives in deployed_forms.cpp.
#include "slim/quant/scheme.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "slim/core/error.h"
#include "slim/core/text.h"
#include "slim/quant/deployed_forms.h"

namespace slim::quant {
namespace {

constexpr std::array<std::pair<QDtype, const char*>, 6> kDtypeNames = {{
    {QDtype::Int8, "int8"},
    {QDtype::Int4, "int4"},
    {QDtype::Fp8E4M3, "fp8_e4m3"},
    {QDtype::MxFp8, "mxfp8"},
    {QDtype::MxFp4, "mxfp4"},
    {QDtype::Float, "float"},
}};

constexpr std::array<std::pair<QScope, const char*>, 8> kScopeNames = {{
    {QScope::PerTensor, "per_tensor"},
    {QScope::PerChannel, "per_channel"},
    {QScope::PerGroup, "per_group"},
    {QScope::PerBlock, "per_block"},
    {QScope::PerToken, "per_token"},
    {QScope::PdMix, "pd_mix"},
    {QScope::PerHead, "per_head"},
    {QScope::DualScale, "dual_scale"},
}};

template <typename Table>
std::string list_names(const Table& table) {
  std::string out;
  for (const auto& entry : table) {
    if (!out.empty()) out += ", ";
    out += entry.second;
  }
  return out;
}

struct Range {
  double min;
  double max;
  bool finite;
};

// Min, max and finiteness of a tensor. Parameter-sized tensors are scanned serially: a few small
// ATen reductions each open a parallel region, which on a loaded machine costs a scheduling
// quantum apiece.
Range range_of(const at::Tensor& tensor) {
  if (tensor.numel() >= (1 << 18)) {
    // NaN propagates through amin/amax and Inf is an extreme (isfinite() is far slower).
    const double mn = tensor.amin().item<double>();
    const double mx = tensor.amax().item<double>();
    return {mn, mx, std::isfinite(mn) && std::isfinite(mx)};
  }
  const at::Tensor c = tensor.contiguous();
  Range r{INFINITY, -INFINITY, true};
  AT_DISPATCH_ALL_TYPES_AND2(at::kBFloat16, at::kHalf, c.scalar_type(), "range_of", [&] {
    const scalar_t* p = c.data_ptr<scalar_t>();
    for (int64_t i = 0; i < c.numel(); ++i) {
      const double v = static_cast<double>(p[i]);
      if (!std::isfinite(v)) r.finite = false;
      r.min = std::min(r.min, v);
      r.max = std::max(r.max, v);
    }
  });
  return r;
}

class Validator {
 public:
  explicit Validator(const DeployedLinear& linear) : linear_(linear) {}

  [[noreturn]] void fail(const std::string& what) const {
    SLIM_FAIL("deployed linear ", quote(linear_.name), " (", tag_name(linear_.tag), "): ", what);
  }

  void require(const at::Tensor& tensor, const char* field, at::ScalarType dtype,
               std::initializer_list<int64_t> shape) const {
    if (!tensor.defined()) fail(str(field, " is missing"));
    if (tensor.scalar_type() != dtype) {
      fail(str(field, " must be ", c10::toString(dtype), ", found ",
               c10::toString(tensor.scalar_type())));
    }
    if (tensor.sizes() != at::IntArrayRef(shape)) {
      fail(str(field, " must have shape ", shape_text(shape), ", found ", shape_text(tensor)));
    }
    if (!tensor.device().is_cpu()) fail(str(field, " must be on the CPU"));
  }

  void require_absent_or(const at::Tensor& tensor, const char* field, at::ScalarType dtype,
                         std::initializer_list<int64_t> shape) const {
    if (tensor.defined()) require(tensor, field, dtype, shape);
  }

  void require_zero(const at::Tensor& tensor, const char* field, const char* why) const {
    if (!tensor.defined() || tensor.numel() == 0) return;
    const Range r = range_of(tensor);
    if (r.min != 0 || r.max != 0) fail(str(field, " must be all zeros (", why, ")"));
  }

  void require_range(const at::Tensor& tensor, const char* field, double lo, double hi) const {
    if (tensor.numel() == 0) return;
    const Range r = range_of(tensor);
    if (!r.finite) fail(str(field, " holds NaN or Inf"));
    if (r.min < lo || r.max > hi) {
      fail(
          str(field, " values must lie in [", lo, ", ", hi, "], found [", r.min, ", ", r.max, "]"));
    }
  }

 private:
  const DeployedLinear& linear_;
};

}  // namespace

const char* qdtype_name(QDtype dtype) {
  for (const auto& [value, name] : kDtypeNames) {
    if (value == dtype) return name;
  }
  SLIM_INTERNAL_ASSERT(false, "unknown QDtype ", static_cast<int>(dtype));
}

const char* qscope_name(QScope scope) {
  for (const auto& [value, name] : kScopeNames) {
    if (value == scope) return name;
  }
  SLIM_INTERNAL_ASSERT(false, "unknown QScope ", static_cast<int>(scope));
}

QDtype parse_qdtype(const std::string& name) {
  for (const auto& [value, text] : kDtypeNames) {
    if (name == text) return value;
  }
  SLIM_FAIL("unknown quantization dtype ", quote(name), "; valid: ", list_names(kDtypeNames));
}

QScope parse_qscope(const std::string& name) {
  for (const auto& [value, text] : kScopeNames) {
    if (name == text) return value;
  }
  SLIM_FAIL("unknown quantization scope ", quote(name), "; valid: ", list_names(kScopeNames));
}

std::string QScheme::to_string() const {
  std::string out = str(qdtype_name(dtype), " ", qscope_name(scope));
  if (scope == QScope::PerGroup || (group_size != 0 && !(is_mx(dtype) && group_size == 32))) {
    out += str("(", group_size, ")");
  }
  return out + (symmetric ? " sym" : " asym");
}

bool QScheme::operator==(const QScheme& other) const {
  return dtype == other.dtype && scope == other.scope && symmetric == other.symmetric &&
         group_size == other.group_size;
}

void DeployedLinear::validate() const {
  const Validator v(*this);
  if (!weight_codes.defined()) v.fail("weight_codes is missing");
  if (weight_codes.dim() != 2) {
    v.fail(str("weight_codes must be 2-D [out, in], found shape ", shape_text(weight_codes)));
  }
  if (!at::isFloatingType(model_dtype)) {
    v.fail(str("model_dtype must be a floating type, found ", c10::toString(model_dtype)));
  }
  const int64_t out = out_features();
  const int64_t in = in_features();
  if (bias) {
    if (!bias->defined() || bias->dim() != 1 || bias->size(0) != out ||
        !at::isFloatingType(bias->scalar_type())) {
      v.fail(str("bias must be a floating [", out, "] tensor, found ", shape_text(*bias)));
    }
  }

  try {
    check_form(form());
  } catch (const Error& error) {
    v.fail(error.what());
  }
  if (weight.is_float()) {
    // FLOAT / W16A16S: the weight itself, unquantized (W16A16S: pruned), in its floating dtype.
    if (!at::isFloatingType(weight_codes.scalar_type())) {
      v.fail(str("weight_codes must hold the floating weight, found ",
                 c10::toString(weight_codes.scalar_type())));
    }
    return;
  }

  switch (weight.dtype) {
    case QDtype::Int8:
    case QDtype::Int4: {
      int64_t columns = 1;
      if (weight.scope == QScope::PerGroup) {
        if (in % weight.group_size != 0) {
          v.fail(str("group_size ", weight.group_size, " does not divide the input dim ", in));
        }
        columns = in / weight.group_size;
      }
      v.require(weight_codes, "weight_codes", at::kChar, {out, in});
      v.require(weight_scale, "weight_scale", at::kFloat, {out, columns});
      v.require(weight_offset, "weight_offset", at::kFloat, {out, columns});
      if (weight.dtype == QDtype::Int4) v.require_range(weight_codes, "weight_codes", -8, 7);
      v.require_range(weight_scale, "weight_scale", 0, INFINITY);
      // Offsets are signed zero-points; asymmetric bf16 arithmetic can reach qmax + 1.
      v.require_range(weight_offset, "weight_offset", -INFINITY, INFINITY);
      if (weight.symmetric) v.require_zero(weight_offset, "weight_offset", "symmetric weights");
      if (tag == DeployedTag::W4A8Dynamic && out % 2 != 0) {
        v.fail(str("W4A8_DYNAMIC packs int4 pairs along the output dim, which must be even; found ",
                   out));
      }
      break;
    }
    case QDtype::Fp8E4M3:
      v.require(weight_codes, "weight_codes", at::kFloat, {out, in});
      v.require(weight_scale, "weight_scale", at::kFloat, {out, 1});
      v.require_absent_or(weight_offset, "weight_offset", at::kFloat, {out, 1});
      v.require_zero(weight_offset, "weight_offset", "fp8 weights are symmetric");
      v.require_range(weight_codes, "weight_codes", -448, 448);
      v.require_range(weight_scale, "weight_scale", 0, INFINITY);
      break;
    case QDtype::MxFp8:
    case QDtype::MxFp4: {
      const double max_norm = weight.dtype == QDtype::MxFp8 ? 448 : 6;
      v.require(weight_codes, "weight_codes", at::kFloat, {out, in});
      v.require(weight_scale, "weight_scale", at::kInt, {out, (in + 31) / 32});
      v.require_range(weight_codes, "weight_codes", -max_norm, max_norm);
      // The E8M0 byte is e + 127 and 255 means NaN.
      v.require_range(weight_scale, "weight_scale (shared exponents)", -127, 127);
      if (weight.dtype == QDtype::MxFp4 && in % 2 != 0) {
        v.fail(
            str("MXFP4 packs two E2M1 codes per byte along the input dim, which must be even; "
                "found ",
                in));
      }
      break;
    }
    case QDtype::Float:
      SLIM_INTERNAL_ASSERT(false, "float weight with a quantized tag");
  }

  if (deployed_form_spec(tag).activations == Activations::Static) {
    v.require(input_scale, "input_scale", at::kFloat, {1});
    v.require(input_offset, "input_offset", at::kFloat, {1});
    v.require_range(input_scale, "input_scale", 0, INFINITY);
    v.require_range(input_offset, "input_offset", -128, 127);
    if (act.symmetric) v.require_zero(input_offset, "input_offset", "symmetric activations");
  }
}

namespace {

// make_deployed_linear's conversions: each tensor to the CPU and to the record's dtype, refusing a
// conversion that would change a value. Messages name the linear and the field.
class PartConverter {
 public:
  explicit PartConverter(const DeployedLinear& linear) : validator_(linear) {}

  [[noreturn]] void fail(const std::string& what) const { validator_.fail(what); }

  // `values` as `dtype` on the CPU. Into an integer dtype, floating values must be integers and
  // every value must fit; `integral_source` says whether an integer tensor may become `dtype`
  // (not for fp8 / MX element values, whose raw bytes would be misread as values).
  at::Tensor convert(const at::Tensor& values, const char* field, at::ScalarType dtype,
                     bool integral_source) const {
    if (!values.defined()) fail(str(field, " is missing"));
    const at::ScalarType from = values.scalar_type();
    const bool floating = at::isFloatingType(from);
    if (!floating && !(at::isIntegralType(from, /*includeBool=*/false) && integral_source)) {
      fail(str(field, " must be ", floating_or_integral(integral_source), ", found ",
               c10::toString(from)));
    }
    at::Tensor cpu = values.to(at::kCPU).contiguous();
    if (from == dtype) return cpu;
    if (at::isIntegralType(dtype, /*includeBool=*/false) && cpu.numel() > 0) {
      const Range r = range_of(cpu);
      if (!r.finite) fail(str(field, " holds NaN or Inf"));
      if (floating && !at::equal(cpu, at::round(cpu))) {
        fail(str(field, " must hold integers, found non-integral values"));
      }
      const double lo = dtype == at::kChar ? -128.0 : -2147483648.0;
      const double hi = dtype == at::kChar ? 127.0 : 2147483647.0;
      if (r.min < lo || r.max > hi) {
        fail(str(field, " values [", r.min, ", ", r.max, "] do not fit ", c10::toString(dtype)));
      }
    }
    return cpu.to(dtype);
  }

  // A one-element activation parameter as fp32 [1].
  at::Tensor scalar(const at::Tensor& values, const char* field) const {
    if (values.defined() && values.numel() != 1) {
      fail(str(field, " must hold one value (per-tensor activations), found shape ",
               shape_text(values)));
    }
    return convert(values, field, at::kFloat, true).reshape({1});
  }

  void absent(const at::Tensor& values, const char* field, const std::string& why) const {
    if (values.defined()) fail(str(field, " must be absent: ", why));
  }

 private:
  static const char* floating_or_integral(bool integral_source) {
    return integral_source ? "a floating or integer tensor" : "a floating tensor";
  }

  Validator validator_;
};

}  // namespace

DeployedLinear make_deployed_linear(const std::string& name, const DeployedForm& form,
                                    const at::Tensor& codes, const at::Tensor& scale,
                                    const at::Tensor& offset, const std::optional<at::Tensor>& bias,
                                    const at::Tensor& input_scale, const at::Tensor& input_offset,
                                    at::ScalarType model_dtype) {
  DeployedLinear d;
  d.name = name;
  d.tag = form.tag;
  d.act = form.act;
  d.weight = form.weight;
  d.model_dtype = model_dtype;
  const PartConverter p(d);
  try {
    check_form(form);
  } catch (const Error& error) {
    p.fail(error.what());
  }

  switch (form.weight.dtype) {
    case QDtype::Float:
      d.weight_codes = p.convert(codes, "weight_codes (the float weight)",
                                 codes.defined() ? codes.scalar_type() : at::kFloat, false);
      p.absent(scale, "weight_scale", "float weights have no scale");
      p.absent(offset, "weight_offset", "float weights have no offset");
      break;
    case QDtype::Int8:
    case QDtype::Int4:
      d.weight_codes = p.convert(codes, "weight_codes", at::kChar, true);
      d.weight_scale = p.convert(scale, "weight_scale", at::kFloat, true);
      if (offset.defined()) {
        d.weight_offset = p.convert(offset, "weight_offset", at::kFloat, true);
      } else if (form.weight.symmetric) {
        d.weight_offset = at::zeros_like(d.weight_scale);
      } else {
        p.fail("weight_offset is missing: asymmetric weights need their zero-points");
      }
      break;
    case QDtype::Fp8E4M3:
      d.weight_codes = p.convert(codes, "weight_codes (E4M3 values)", at::kFloat, false);
      d.weight_scale = p.convert(scale, "weight_scale", at::kFloat, true);
      d.weight_offset = offset.defined() ? p.convert(offset, "weight_offset", at::kFloat, true)
                                         : at::zeros_like(d.weight_scale);
      break;
    case QDtype::MxFp8:
    case QDtype::MxFp4:
      d.weight_codes = p.convert(codes, "weight_codes (MX element values)", at::kFloat, false);
      d.weight_scale = p.convert(scale, "weight_scale (shared exponents)", at::kInt, true);
      p.absent(offset, "weight_offset", "MX weights have no offset");
      break;
  }

  const Activations activations = deployed_form_spec(form.tag).activations;
  if (activations == Activations::Static) {
    d.input_scale = p.scalar(input_scale, "input_scale");
    const float s = d.input_scale.item<float>();
    if (!(std::isfinite(s) && s > 0)) {
      p.fail(str("input_scale must be finite and positive, found ", s));
    }
    if (input_offset.defined() || !form.act.symmetric) {
      d.input_offset = p.scalar(input_offset, "input_offset");
    } else {
      d.input_offset = at::zeros({1}, at::kFloat);
    }
  } else {
    const std::string why = activations == Activations::None
                                ? "activations are not quantized"
                                : "activations are quantized at run time";
    p.absent(input_scale, "input_scale", why);
    p.absent(input_offset, "input_offset", why);
  }
  if (bias) {
    if (!bias->defined()) p.fail("bias is given but undefined");
    d.bias = bias->to(at::kCPU).contiguous();
  }
  d.validate();
  return d;
}

}  // namespace slim::quant
