// Scheme names and parsers, the §2.6 pairing table and the validation of DeployedLinear records
// (spec msmodelslim-v1.md §2.5, §2.6, §7.4, §7.8).
#include "slim/quant/scheme.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "slim/core/error.h"
#include "slim/core/text.h"

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

constexpr std::array<std::pair<DeployedTag, const char*>, 13> kTagNames = {{
    {DeployedTag::Float, "FLOAT"},
    {DeployedTag::W16A16S, "W16A16S"},
    {DeployedTag::W8A16, "W8A16"},
    {DeployedTag::W4A16, "W4A16"},
    {DeployedTag::W8A8Dynamic, "W8A8_DYNAMIC"},
    {DeployedTag::W8A8Mix, "W8A8_MIX"},
    {DeployedTag::W8A8, "W8A8"},
    {DeployedTag::WFp8AFp8Dynamic, "WFP8AFP8_DYNAMIC"},
    {DeployedTag::W8A8MxFp8, "W8A8_MXFP8"},
    {DeployedTag::W4A8MxFp, "W4A8_MXFP"},
    {DeployedTag::W4A8Dynamic, "W4A8_DYNAMIC"},
    {DeployedTag::W4A4Dynamic, "W4A4_DYNAMIC"},
    {DeployedTag::W4A4MxFp4, "W4A4_MXFP4"},
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

// One row of the §2.6 table (plus Slim's W4A16 and FLOAT rows). `sym` / `asym` say which
// symmetry values the row accepts.
struct Side {
  QDtype dtype;
  QScope scope;
  bool sym;
  bool asym;
};
struct PairRule {
  Side act;
  Side weight;
  DeployedTag tag;
};

constexpr bool kSym = true;
constexpr bool kAsym = true;
constexpr std::array<PairRule, 15> kPairs = {{
    {{QDtype::Int8, QScope::PerTensor, kSym, kAsym},
     {QDtype::Int8, QScope::PerChannel, kSym, false},
     DeployedTag::W8A8},
    {{QDtype::Int8, QScope::PdMix, false, kAsym},
     {QDtype::Int8, QScope::PerChannel, kSym, false},
     DeployedTag::W8A8Mix},
    {{QDtype::Int8, QScope::PerToken, kSym, false},
     {QDtype::Int8, QScope::PerChannel, kSym, false},
     DeployedTag::W8A8Dynamic},
    {{QDtype::Int8, QScope::PerToken, kSym, false},
     {QDtype::Int8, QScope::PerGroup, kSym, kAsym},
     DeployedTag::W8A8Dynamic},
    {{QDtype::Float, QScope::PerTensor, kSym, false},
     {QDtype::Int8, QScope::PerChannel, kSym, kAsym},
     DeployedTag::W8A16},
    {{QDtype::Float, QScope::PerTensor, kSym, false},
     {QDtype::Int8, QScope::PerGroup, kSym, kAsym},
     DeployedTag::W8A16},
    {{QDtype::Int8, QScope::PerToken, kSym, false},
     {QDtype::Int4, QScope::PerChannel, kSym, false},
     DeployedTag::W4A8Dynamic},
    {{QDtype::Int4, QScope::PerToken, kSym, false},
     {QDtype::Int4, QScope::PerChannel, kSym, kAsym},
     DeployedTag::W4A4Dynamic},
    {{QDtype::Int4, QScope::PerToken, kSym, false},
     {QDtype::Int4, QScope::PerGroup, kSym, kAsym},
     DeployedTag::W4A4Dynamic},
    {{QDtype::Fp8E4M3, QScope::PerToken, kSym, false},
     {QDtype::Fp8E4M3, QScope::PerChannel, kSym, false},
     DeployedTag::WFp8AFp8Dynamic},
    {{QDtype::MxFp8, QScope::PerBlock, kSym, false},
     {QDtype::MxFp8, QScope::PerBlock, kSym, false},
     DeployedTag::W8A8MxFp8},
    {{QDtype::MxFp8, QScope::PerBlock, kSym, false},
     {QDtype::MxFp4, QScope::PerBlock, kSym, false},
     DeployedTag::W4A8MxFp},
    {{QDtype::MxFp4, QScope::PerBlock, kSym, false},
     {QDtype::MxFp4, QScope::PerBlock, kSym, false},
     DeployedTag::W4A4MxFp4},
    // Slim: int4 weight-only (msModelSlim V0's W4A16; V1 has no IR for it).
    {{QDtype::Float, QScope::PerTensor, kSym, false},
     {QDtype::Int4, QScope::PerChannel, kSym, kAsym},
     DeployedTag::W4A16},
    {{QDtype::Float, QScope::PerTensor, kSym, false},
     {QDtype::Int4, QScope::PerGroup, kSym, kAsym},
     DeployedTag::W4A16},
}};
// FLOAT (no quantization) is the pair float per_tensor sym / float per_tensor sym, checked apart.

bool side_matches(const Side& side, const QScheme& scheme) {
  return side.dtype == scheme.dtype && side.scope == scheme.scope &&
         (scheme.symmetric ? side.sym : side.asym);
}

std::string side_name(const Side& side) {
  std::string out = str(qdtype_name(side.dtype), " ", qscope_name(side.scope), " ");
  if (side.sym && side.asym) return out + "sym|asym";
  return out + (side.sym ? "sym" : "asym");
}

std::string valid_pairs() {
  std::string out = "float per_tensor sym + float per_tensor sym -> FLOAT";
  for (const auto& rule : kPairs) {
    out +=
        str("; ", side_name(rule.act), " + ", side_name(rule.weight), " -> ", tag_name(rule.tag));
  }
  return out;
}

bool is_mx(QDtype dtype) {
  return dtype == QDtype::MxFp8 || dtype == QDtype::MxFp4;
}

void check_group_size(const QScheme& scheme, const char* role) {
  if (scheme.scope == QScope::PerGroup) {
    SLIM_CHECK(scheme.group_size > 0, role, " scheme ", scheme.to_string(),
               ": per_group needs a positive group_size, found ", scheme.group_size);
  } else if (is_mx(scheme.dtype)) {
    SLIM_CHECK(scheme.group_size == 0 || scheme.group_size == 32, role, " scheme ",
               scheme.to_string(), ": MX blocks are 32 elements, found group_size ",
               scheme.group_size);
  }
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

const char* tag_name(DeployedTag tag) {
  for (const auto& [value, name] : kTagNames) {
    if (value == tag) return name;
  }
  SLIM_INTERNAL_ASSERT(false, "unknown DeployedTag ", static_cast<int>(tag));
}

std::optional<int> model_type_priority(DeployedTag tag) {
  // §7.8: FLOAT < W16A16S < W8A16 < W8A8_DYNAMIC < W8A8_MIX < W8A8 < WFP8AFP8_DYNAMIC <
  // W8A8_MXFP8 < W4A8_MXFP < W4A4_DYNAMIC < W4A4_MXFP4 (< W4A4_MXFP4_DUALSCALE < W4A4_MXFP4_SVD,
  // which Slim does not produce). W4A16, which V1 does not know, ranks just above W8A16, so that a
  // weight-only int4 model is described as "W4A16" as msModelSlim V0 describes it.
  switch (tag) {
    case DeployedTag::Float:
      return 0;
    case DeployedTag::W16A16S:
      return 1;
    case DeployedTag::W8A16:
      return 2;
    case DeployedTag::W4A16:
      return 3;
    case DeployedTag::W8A8Dynamic:
      return 4;
    case DeployedTag::W8A8Mix:
      return 5;
    case DeployedTag::W8A8:
      return 6;
    case DeployedTag::WFp8AFp8Dynamic:
      return 7;
    case DeployedTag::W8A8MxFp8:
      return 8;
    case DeployedTag::W4A8MxFp:
      return 9;
    case DeployedTag::W4A4Dynamic:
      return 10;
    case DeployedTag::W4A4MxFp4:
      return 11;
    case DeployedTag::W4A8Dynamic:
      return std::nullopt;
  }
  SLIM_INTERNAL_ASSERT(false, "unknown DeployedTag ", static_cast<int>(tag));
}

DeployedTag select_deployed_tag(const QScheme& act, const QScheme& weight) {
  const bool act_float =
      act.dtype == QDtype::Float && act.scope == QScope::PerTensor && act.symmetric;
  if (act_float && weight.dtype == QDtype::Float && weight.scope == QScope::PerTensor &&
      weight.symmetric) {
    return DeployedTag::Float;
  }
  for (const auto& rule : kPairs) {
    if (side_matches(rule.act, act) && side_matches(rule.weight, weight)) {
      check_group_size(weight, "weight");
      check_group_size(act, "activation");
      return rule.tag;
    }
  }
  SLIM_FAIL("no deployed form for activation scheme ", act.to_string(), " with weight scheme ",
            weight.to_string(), "; valid pairs (activation + weight -> tag): ", valid_pairs());
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

  if (tag == DeployedTag::Float || tag == DeployedTag::W16A16S) {
    // The weight itself, unquantized (W16A16S: pruned), in its own floating dtype.
    if (!at::isFloatingType(weight_codes.scalar_type())) {
      v.fail(str("weight_codes must hold the floating weight, found ",
                 c10::toString(weight_codes.scalar_type())));
    }
    if (!weight.is_float() || !act.is_float()) {
      v.fail(str("a ", tag_name(tag), " linear has float schemes, found activation ",
                 act.to_string(), " and weight ", weight.to_string()));
    }
    return;
  }

  DeployedTag expected;
  try {
    expected = select_deployed_tag(act, weight);
  } catch (const Error& error) {
    v.fail(error.what());
  }
  if (expected != tag) {
    v.fail(str("activation ", act.to_string(), " with weight ", weight.to_string(), " deploys as ",
               tag_name(expected), ", not as ", tag_name(tag)));
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

  if (tag == DeployedTag::W8A8 || tag == DeployedTag::W8A8Mix) {
    v.require(input_scale, "input_scale", at::kFloat, {1});
    v.require(input_offset, "input_offset", at::kFloat, {1});
    v.require_range(input_scale, "input_scale", 0, INFINITY);
    v.require_range(input_offset, "input_offset", -128, 127);
    if (act.symmetric) v.require_zero(input_offset, "input_offset", "symmetric activations");
  }
}

}  // namespace slim::quant
