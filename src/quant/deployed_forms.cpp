// The deployed-form table and what is derived from it: tag names, §7.8 priorities, the §2.6
// pairing (select_deployed_tag, check_form) and the concrete forms of each row.
#include "slim/quant/deployed_forms.h"

#include <array>

#include "slim/core/error.h"

namespace slim::quant {
namespace {

using A = Activations;
using D = QDtype;
using S = QScope;
using T = DeployedTag;
using Y = Symmetry;
constexpr int kNoRank = kNoModelTypePriority;

constexpr SchemeRule kNone = {D::Float, S::PerTensor, Y::Sym, Y::None};
constexpr SchemeRule rule(D dtype, S scope, Y symmetry, Y per_group = Y::None) {
  return {dtype, scope, symmetry, per_group};
}

// One row per tag, in DeployedTag order (columns: DeployedFormSpec). prio: §7.8 (W4A16, Slim's,
// ranks just above W8A16, so a weight-only int4 model is described as "W4A16", as msModelSlim V0
// names it); pair: selected_by_schemes; g: default_group_size.
// clang-format off
constexpr std::array<DeployedFormSpec, 13> kForms = {{
    // tag               name                cli name        activations                             weights                                             kind        prio     pair   g    summary
    {T::Float,           "FLOAT",            "",             kNone,                                  kNone,                                              A::None,    0,       true,  0,   "unquantized linear"},
    {T::W16A16S,         "W16A16S",          "w16a16s",      kNone,                                  kNone,                                              A::None,    1,       false, 0,   "pruned float weights (float_sparse)"},
    {T::W8A16,           "W8A16",            "w8a16",        kNone,                                  rule(D::Int8, S::PerChannel, Y::Either, Y::Either), A::None,    2,       true,  0,   "int8 weights per channel or group"},
    {T::W4A16,           "W4A16",            "w4a16",        kNone,                                  rule(D::Int4, S::PerChannel, Y::Either, Y::Either), A::None,    3,       true,  128, "int4 weights per channel or group (Slim; msModelSlim V0)"},
    {T::W8A8Dynamic,     "W8A8_DYNAMIC",     "w8a8_dynamic", rule(D::Int8, S::PerToken, Y::Sym),     rule(D::Int8, S::PerChannel, Y::Sym, Y::Either),    A::Dynamic, 4,       true,  0,   "int8 weights, int8 per-token activations at run time"},
    {T::W8A8Mix,         "W8A8_MIX",         "w8a8_mix",     rule(D::Int8, S::PdMix, Y::Asym),       rule(D::Int8, S::PerChannel, Y::Sym),               A::Static,  5,       true,  0,   "int8 weights, per-token prefill / static decode activations"},
    {T::W8A8,            "W8A8",             "w8a8",         rule(D::Int8, S::PerTensor, Y::Either), rule(D::Int8, S::PerChannel, Y::Sym),               A::Static,  6,       true,  0,   "int8 weights, static per-tensor int8 activations"},
    {T::WFp8AFp8Dynamic, "WFP8AFP8_DYNAMIC", "wfp8",         rule(D::Fp8E4M3, S::PerToken, Y::Sym),  rule(D::Fp8E4M3, S::PerChannel, Y::Sym),            A::Dynamic, 7,       true,  0,   "fp8 e4m3 weights per channel, fp8 per-token activations"},
    {T::W8A8MxFp8,       "W8A8_MXFP8",       "mxfp8",        rule(D::MxFp8, S::PerBlock, Y::Sym),    rule(D::MxFp8, S::PerBlock, Y::Sym),                A::Dynamic, 8,       true,  0,   "MXFP8 weights and activations (blocks of 32)"},
    {T::W4A8MxFp,        "W4A8_MXFP",        "w4a8_mxfp",    rule(D::MxFp8, S::PerBlock, Y::Sym),    rule(D::MxFp4, S::PerBlock, Y::Sym),                A::Dynamic, 9,       true,  0,   "MXFP4 weights, MXFP8 activations (blocks of 32)"},
    {T::W4A8Dynamic,     "W4A8_DYNAMIC",     "w4a8_dynamic", rule(D::Int8, S::PerToken, Y::Sym),     rule(D::Int4, S::PerChannel, Y::Sym),               A::Dynamic, kNoRank, true,  0,   "int4 weights per channel, int8 per-token activations"},
    {T::W4A4Dynamic,     "W4A4_DYNAMIC",     "w4a4_dynamic", rule(D::Int4, S::PerToken, Y::Sym),     rule(D::Int4, S::PerChannel, Y::Either, Y::Either), A::Dynamic, 10,      true,  0,   "int4 weights, int4 per-token activations"},
    {T::W4A4MxFp4,       "W4A4_MXFP4",       "mxfp4",        rule(D::MxFp4, S::PerBlock, Y::Sym),    rule(D::MxFp4, S::PerBlock, Y::Sym),                A::Dynamic, 11,      true,  0,   "MXFP4 weights and activations (blocks of 32)"},
}};
// clang-format on

constexpr bool rows_in_tag_order() {
  for (size_t i = 0; i < kForms.size(); ++i) {
    if (static_cast<size_t>(kForms[i].tag) != i) return false;
  }
  return true;
}
static_assert(rows_in_tag_order(), "kForms rows must follow DeployedTag order");

bool allows(Symmetry symmetry, bool symmetric) {
  switch (symmetry) {
    case Y::None:
      return false;
    case Y::Sym:
      return symmetric;
    case Y::Asym:
      return !symmetric;
    case Y::Either:
      return true;
  }
  SLIM_INTERNAL_ASSERT(false, "unknown Symmetry ", static_cast<int>(symmetry));
}

const char* symmetry_text(Symmetry symmetry) {
  switch (symmetry) {
    case Y::None:
      return "none";
    case Y::Sym:
      return "sym";
    case Y::Asym:
      return "asym";
    case Y::Either:
      return "sym|asym";
  }
  SLIM_INTERNAL_ASSERT(false, "unknown Symmetry ", static_cast<int>(symmetry));
}

std::vector<bool> symmetries(Symmetry symmetry) {
  switch (symmetry) {
    case Y::None:
      return {};
    case Y::Sym:
      return {true};
    case Y::Asym:
      return {false};
    case Y::Either:
      return {true, false};
  }
  SLIM_INTERNAL_ASSERT(false, "unknown Symmetry ", static_cast<int>(symmetry));
}

// "a + w -> TAG" for every accepted pair of a row.
std::string pairs_of(const DeployedFormSpec& spec) {
  std::string out;
  for (const auto& act : spec.act.alternatives()) {
    for (const auto& weight : spec.weight.alternatives()) {
      if (!out.empty()) out += "; ";
      out += str(act, " + ", weight, " -> ", spec.name);
    }
  }
  return out;
}

std::string valid_pairs() {
  std::string out;
  for (const auto& spec : kForms) {
    if (!spec.selected_by_schemes) continue;
    out += (out.empty() ? "" : "; ") + pairs_of(spec);
  }
  return out;
}

void check_group_size(const QScheme& scheme, const char* role) {
  if (scheme.scope == QScope::PerGroup) {
    SLIM_CHECK(scheme.group_size > 0, role, " scheme ", scheme.to_string(),
               ": per_group needs a positive group_size, found ", scheme.group_size);
  } else if (is_mx(scheme.dtype)) {
    SLIM_CHECK(scheme.group_size == 0 || scheme.group_size == kMxBlock, role, " scheme ",
               scheme.to_string(), ": MX blocks are ", kMxBlock, " elements, found group_size ",
               scheme.group_size);
  } else {
    SLIM_CHECK(scheme.group_size == 0, role, " scheme ", scheme.to_string(),
               ": a group size applies to per_group and MX schemes only, found ",
               scheme.group_size);
  }
}

QScheme make_scheme(QDtype dtype, QScope scope, bool symmetric, int64_t group_size) {
  QScheme out;
  out.dtype = dtype;
  out.scope = scope;
  out.symmetric = symmetric;
  out.group_size = is_mx(dtype) ? kMxBlock : group_size;
  return out;
}

}  // namespace

bool SchemeRule::accepts(const QScheme& scheme) const {
  if (scheme.dtype != dtype) return false;
  if (scheme.scope == scope) return allows(symmetry, scheme.symmetric);
  return scheme.scope == QScope::PerGroup && allows(per_group, scheme.symmetric);
}

std::vector<std::string> SchemeRule::alternatives() const {
  std::vector<std::string> out;
  if (symmetry != Y::None) {
    out.push_back(str(qdtype_name(dtype), " ", qscope_name(scope), " ", symmetry_text(symmetry)));
  }
  if (per_group != Y::None) {
    out.push_back(
        str(qdtype_name(dtype), " ", qscope_name(QScope::PerGroup), " ", symmetry_text(per_group)));
  }
  return out;
}

c10::ArrayRef<DeployedFormSpec> deployed_form_table() {
  return c10::ArrayRef<DeployedFormSpec>(kForms.data(), kForms.size());
}

const DeployedFormSpec& deployed_form_spec(DeployedTag tag) {
  const auto index = static_cast<size_t>(tag);
  SLIM_INTERNAL_ASSERT(index < kForms.size(), "unknown DeployedTag ", index);
  return kForms[index];
}

const DeployedFormSpec* find_form_by_cli_name(const std::string& name) {
  if (name.empty()) return nullptr;
  for (const auto& spec : kForms) {
    if (name == spec.cli_name) return &spec;
  }
  return nullptr;
}

const char* tag_name(DeployedTag tag) {
  return deployed_form_spec(tag).name;
}

std::optional<int> model_type_priority(DeployedTag tag) {
  const int priority = deployed_form_spec(tag).model_type_priority;
  if (priority == kNoModelTypePriority) return std::nullopt;
  return priority;
}

DeployedTag select_deployed_tag(const QScheme& act, const QScheme& weight) {
  for (const auto& spec : kForms) {
    if (spec.selected_by_schemes && spec.act.accepts(act) && spec.weight.accepts(weight)) {
      check_group_size(weight, "weight");
      check_group_size(act, "activation");
      return spec.tag;
    }
  }
  SLIM_FAIL("no deployed form for activation scheme ", act.to_string(), " with weight scheme ",
            weight.to_string(), "; valid pairs (activation + weight -> tag): ", valid_pairs());
}

void check_form(const DeployedForm& form) {
  const DeployedFormSpec& spec = deployed_form_spec(form.tag);
  if (!spec.act.accepts(form.act) || !spec.weight.accepts(form.weight)) {
    for (const auto& other : kForms) {
      if (other.selected_by_schemes && other.act.accepts(form.act) &&
          other.weight.accepts(form.weight)) {
        SLIM_FAIL("activation ", form.act.to_string(), " with weight ", form.weight.to_string(),
                  " deploys as ", other.name, ", not as ", spec.name);
      }
    }
    SLIM_FAIL("no deployed form ", spec.name, " with activation scheme ", form.act.to_string(),
              " and weight scheme ", form.weight.to_string(), " (", spec.name,
              " takes: ", pairs_of(spec), ")");
  }
  check_group_size(form.weight, "weight");
  check_group_size(form.act, "activation");
}

DeployedForm make_form(const DeployedFormSpec& spec, int64_t group_size, bool asym_weights) {
  const SchemeRule& w = spec.weight;
  const QScope scope = group_size > 0 ? QScope::PerGroup : w.scope;
  const Symmetry symmetry = group_size > 0 ? w.per_group : w.symmetry;
  SLIM_CHECK(symmetry != Y::None, spec.name, ": its weights (", w.alternatives().front(),
             ") have no per_group form");
  SLIM_CHECK(allows(symmetry, !asym_weights), spec.name, ": its ", qscope_name(scope),
             " weights are ", symmetry_text(symmetry), " only");
  DeployedForm form;
  form.tag = spec.tag;
  form.weight = make_scheme(w.dtype, scope, !asym_weights, group_size);
  form.act = make_scheme(spec.act.dtype, spec.act.scope, spec.act.symmetry != Y::Asym, 0);
  check_form(form);
  return form;
}

std::vector<DeployedForm> forms_of(const DeployedFormSpec& spec, int64_t group_size) {
  SLIM_CHECK(group_size > 0, "forms_of: group_size must be positive, found ", group_size);
  std::vector<DeployedForm> out;
  const std::pair<QScope, Symmetry> weight_scopes[] = {{spec.weight.scope, spec.weight.symmetry},
                                                       {QScope::PerGroup, spec.weight.per_group}};
  for (const auto& [scope, symmetry] : weight_scopes) {
    for (bool weight_symmetric : symmetries(symmetry)) {
      for (bool act_symmetric : symmetries(spec.act.symmetry)) {
        DeployedForm form;
        form.tag = spec.tag;
        form.weight = make_scheme(spec.weight.dtype, scope, weight_symmetric,
                                  scope == QScope::PerGroup ? group_size : 0);
        form.act = make_scheme(spec.act.dtype, spec.act.scope, act_symmetric, 0);
        check_form(form);
        out.push_back(form);
      }
    }
  }
  return out;
}

std::vector<DeployedForm> every_form(int64_t group_size) {
  std::vector<DeployedForm> out;
  for (const auto& spec : kForms) {
    for (auto& form : forms_of(spec, group_size))
      out.push_back(std::move(form));
  }
  return out;
}

std::string DeployedForm::to_string() const {
  return str(tag_name(tag), " (activations ", act.to_string(), ", weights ", weight.to_string(),
             ")");
}

bool DeployedForm::operator==(const DeployedForm& other) const {
  return tag == other.tag && act == other.act && weight == other.weight;
}

}  // namespace slim::quant
