#include "slim/quant/scheme.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "slim/quant/deployed_forms.h"
#include "support/expect_error.h"

namespace slim::quant {
namespace {

QScheme scheme(QDtype dtype, QScope scope, bool symmetric = true, int64_t group_size = 0) {
  QScheme out;
  out.dtype = dtype;
  out.scope = scope;
  out.symmetric = symmetric;
  out.group_size = group_size;
  return out;
}

TEST(QuantScheme, NamesRoundTrip) {
  for (QDtype dtype :
       {QDtype::Int8, QDtype::Int4, QDtype::Fp8E4M3, QDtype::MxFp8, QDtype::MxFp4, QDtype::Float}) {
    EXPECT_EQ(parse_qdtype(qdtype_name(dtype)), dtype);
  }
  for (QScope scope : {QScope::PerTensor, QScope::PerChannel, QScope::PerGroup, QScope::PerBlock,
                       QScope::PerToken, QScope::PdMix, QScope::PerHead, QScope::DualScale}) {
    EXPECT_EQ(parse_qscope(qscope_name(scope)), scope);
  }
  EXPECT_STREQ(qdtype_name(QDtype::Fp8E4M3), "fp8_e4m3");
  EXPECT_STREQ(qscope_name(QScope::PdMix), "pd_mix");
}

TEST(QuantScheme, UnknownDtypeListsValidOnes) {
  EXPECT_ERROR_WITH(parse_qdtype("int3"), "'int3'", "int8", "int4", "fp8_e4m3", "mxfp8", "mxfp4",
                    "float");
}

TEST(QuantScheme, UnknownScopeListsValidOnes) {
  EXPECT_ERROR_WITH(parse_qscope("Per_Channel"), "'Per_Channel'", "per_tensor", "per_channel",
                    "per_group", "per_block", "per_token", "pd_mix", "per_head", "dual_scale");
}

TEST(QuantScheme, ToStringAndEquality) {
  EXPECT_EQ(scheme(QDtype::Int8, QScope::PerChannel).to_string(), "int8 per_channel sym");
  EXPECT_EQ(scheme(QDtype::Int4, QScope::PerGroup, false, 128).to_string(),
            "int4 per_group(128) asym");
  EXPECT_EQ(scheme(QDtype::MxFp4, QScope::PerBlock, true, 32).to_string(), "mxfp4 per_block sym");
  EXPECT_EQ(QScheme{}.to_string(), "float per_tensor sym");
  EXPECT_EQ(scheme(QDtype::Int8, QScope::PerChannel), scheme(QDtype::Int8, QScope::PerChannel));
  EXPECT_NE(scheme(QDtype::Int8, QScope::PerChannel), scheme(QDtype::Int8, QScope::PerChannel, 0));
  EXPECT_NE(scheme(QDtype::Int4, QScope::PerGroup, true, 64),
            scheme(QDtype::Int4, QScope::PerGroup, true, 128));
  EXPECT_NE(scheme(QDtype::Int4, QScope::PerChannel), scheme(QDtype::Int8, QScope::PerChannel));
}

TEST(QuantScheme, TagNames) {
  EXPECT_STREQ(tag_name(DeployedTag::Float), "FLOAT");
  EXPECT_STREQ(tag_name(DeployedTag::W8A8Dynamic), "W8A8_DYNAMIC");
  EXPECT_STREQ(tag_name(DeployedTag::W8A8Mix), "W8A8_MIX");
  EXPECT_STREQ(tag_name(DeployedTag::WFp8AFp8Dynamic), "WFP8AFP8_DYNAMIC");
  EXPECT_STREQ(tag_name(DeployedTag::W8A8MxFp8), "W8A8_MXFP8");
  EXPECT_STREQ(tag_name(DeployedTag::W4A8MxFp), "W4A8_MXFP");
  EXPECT_STREQ(tag_name(DeployedTag::W4A4MxFp4), "W4A4_MXFP4");
  EXPECT_STREQ(tag_name(DeployedTag::W4A8Dynamic), "W4A8_DYNAMIC");
  EXPECT_STREQ(tag_name(DeployedTag::W4A4Dynamic), "W4A4_DYNAMIC");
  EXPECT_STREQ(tag_name(DeployedTag::W4A16), "W4A16");
  EXPECT_STREQ(tag_name(DeployedTag::W16A16S), "W16A16S");
}

TEST(QuantScheme, ModelTypePriorityFollowsSection78) {
  const std::vector<DeployedTag> order = {
      DeployedTag::Float,           DeployedTag::W16A16S,   DeployedTag::W8A16,
      DeployedTag::W4A16,  // Slim's: just above W8A16
      DeployedTag::W8A8Dynamic,     DeployedTag::W8A8Mix,   DeployedTag::W8A8,
      DeployedTag::WFp8AFp8Dynamic, DeployedTag::W8A8MxFp8, DeployedTag::W4A8MxFp,
      DeployedTag::W4A4Dynamic,     DeployedTag::W4A4MxFp4};
  for (size_t i = 0; i + 1 < order.size(); ++i) {
    ASSERT_TRUE(model_type_priority(order[i]).has_value());
    ASSERT_TRUE(model_type_priority(order[i + 1]).has_value());
    EXPECT_LT(*model_type_priority(order[i]), *model_type_priority(order[i + 1]))
        << tag_name(order[i]) << " vs " << tag_name(order[i + 1]);
  }
  EXPECT_FALSE(model_type_priority(DeployedTag::W4A8Dynamic).has_value());
}

// ------------------------------------------------------------------ the deployed-form table

TEST(DeployedForms, RowsAreConsistent) {
  std::set<std::string> names;
  std::set<std::string> cli_names;
  for (const DeployedFormSpec& spec : deployed_form_table()) {
    SCOPED_TRACE(spec.name);
    EXPECT_EQ(&deployed_form_spec(spec.tag), &spec);
    EXPECT_STREQ(tag_name(spec.tag), spec.name);
    EXPECT_TRUE(names.insert(spec.name).second);
    if (*spec.cli_name != '\0') {
      EXPECT_TRUE(cli_names.insert(spec.cli_name).second);
      EXPECT_EQ(find_form_by_cli_name(spec.cli_name), &spec);
    }
    EXPECT_EQ(model_type_priority(spec.tag).value_or(kNoModelTypePriority),
              spec.model_type_priority);
    // Static activations are exactly the int8 per-tensor and pd_mix pairings.
    EXPECT_EQ(spec.activations == Activations::Static,
              spec.act.dtype == QDtype::Int8 &&
                  (spec.act.scope == QScope::PerTensor || spec.act.scope == QScope::PdMix));
    EXPECT_EQ(spec.activations == Activations::None, spec.act.dtype == QDtype::Float);
  }
  EXPECT_EQ(names.size(), deployed_form_table().size());
  EXPECT_EQ(find_form_by_cli_name(""), nullptr);
  EXPECT_EQ(find_form_by_cli_name("w3a16"), nullptr);
  // The scheme names `slim convert` has always taken.
  for (const char* name : {"w8a16", "w4a16", "wfp8", "mxfp8", "mxfp4"})
    EXPECT_NE(find_form_by_cli_name(name), nullptr) << name;
  EXPECT_EQ(find_form_by_cli_name("w4a16")->default_group_size, 128);
}

TEST(DeployedForms, EveryFormOfARowExistsAndSelectsItsTag) {
  size_t count = 0;
  for (int64_t group_size : {32, 128}) {
    for (const DeployedFormSpec& spec : deployed_form_table()) {
      for (const DeployedForm& form : forms_of(spec, group_size)) {
        SCOPED_TRACE(form.to_string());
        ++count;
        EXPECT_EQ(form.tag, spec.tag);
        EXPECT_NO_THROW(check_form(form));
        EXPECT_TRUE(spec.act.accepts(form.act));
        EXPECT_TRUE(spec.weight.accepts(form.weight));
        // W16A16S shares FLOAT's pairing; its pruning algorithm sets the tag.
        EXPECT_EQ(select_deployed_tag(form.act, form.weight),
                  spec.selected_by_schemes ? spec.tag : DeployedTag::Float);
      }
    }
  }
  // Variants: W8A16, W4A16, W4A4_DYNAMIC 4 each; W8A8 2 (activation symmetry); W8A8_DYNAMIC 3;
  // every other row 1.
  EXPECT_EQ(every_form(32).size(), 4u * 3 + 2 + 3 + 8);
  EXPECT_EQ(count, 2 * every_form(32).size());
}

TEST(DeployedForms, MakeFormBuildsTheConcreteVariant) {
  const DeployedFormSpec& w8a16 = deployed_form_spec(DeployedTag::W8A16);
  EXPECT_EQ(make_form(w8a16).weight, scheme(QDtype::Int8, QScope::PerChannel));
  EXPECT_EQ(make_form(w8a16, 64, true).weight, scheme(QDtype::Int8, QScope::PerGroup, false, 64));
  EXPECT_EQ(make_form(deployed_form_spec(DeployedTag::W8A8Mix)).act,
            scheme(QDtype::Int8, QScope::PdMix, false));
  EXPECT_EQ(make_form(deployed_form_spec(DeployedTag::W4A8MxFp)).act,
            scheme(QDtype::MxFp8, QScope::PerBlock, true, 32));
  EXPECT_ERROR_WITH(make_form(deployed_form_spec(DeployedTag::W4A8Dynamic), 32), "W4A8_DYNAMIC",
                    "no per_group form");
  EXPECT_ERROR_WITH(make_form(deployed_form_spec(DeployedTag::W8A8Dynamic), 0, true),
                    "W8A8_DYNAMIC", "per_channel weights are sym only");
  EXPECT_NO_THROW(make_form(deployed_form_spec(DeployedTag::W8A8Dynamic), 32, true));
}

TEST(DeployedForms, CheckFormNamesTheTagsPairing) {
  DeployedForm form{DeployedTag::W4A8Dynamic, scheme(QDtype::Int8, QScope::PerToken),
                    scheme(QDtype::Int4, QScope::PerGroup, true, 64)};
  EXPECT_ERROR_WITH(check_form(form), "no deployed form W4A8_DYNAMIC", "int4 per_group(64) sym",
                    "W4A8_DYNAMIC takes",
                    "int8 per_token sym + int4 per_channel sym -> W4A8_DYNAMIC");
  form.weight = scheme(QDtype::Int4, QScope::PerChannel, true, 64);
  EXPECT_ERROR_WITH(check_form(form), "group size applies to per_group and MX schemes", "64");
  EXPECT_EQ(form.to_string(),
            "W4A8_DYNAMIC (activations int8 per_token sym, weights int4 per_channel(64) sym)");
}

TEST(QuantScheme, SelectsEveryPairOfSection26) {
  const auto i8 = QDtype::Int8;
  const auto i4 = QDtype::Int4;
  const auto fp = QDtype::Float;
  const auto f8 = QDtype::Fp8E4M3;
  const auto tensor = QScope::PerTensor;
  const auto token = QScope::PerToken;
  const auto channel = QScope::PerChannel;
  const auto group = QScope::PerGroup;
  const auto block = QScope::PerBlock;
  struct Case {
    QScheme act;
    QScheme weight;
    DeployedTag tag;
  };
  const std::vector<Case> cases = {
      {scheme(i8, tensor, false), scheme(i8, channel), DeployedTag::W8A8},
      {scheme(i8, tensor, true), scheme(i8, channel), DeployedTag::W8A8},
      {scheme(i8, QScope::PdMix, false), scheme(i8, channel), DeployedTag::W8A8Mix},
      {scheme(i8, token), scheme(i8, channel), DeployedTag::W8A8Dynamic},
      {scheme(i8, token), scheme(i8, group, true, 128), DeployedTag::W8A8Dynamic},
      {scheme(i8, token), scheme(i8, group, false, 64), DeployedTag::W8A8Dynamic},
      {scheme(fp, tensor), scheme(i8, channel), DeployedTag::W8A16},
      {scheme(fp, tensor), scheme(i8, channel, false), DeployedTag::W8A16},
      {scheme(fp, tensor), scheme(i8, group, true, 128), DeployedTag::W8A16},
      {scheme(fp, tensor), scheme(i8, group, false, 128), DeployedTag::W8A16},
      {scheme(i8, token), scheme(i4, channel), DeployedTag::W4A8Dynamic},
      {scheme(i4, token), scheme(i4, channel), DeployedTag::W4A4Dynamic},
      {scheme(i4, token), scheme(i4, channel, false), DeployedTag::W4A4Dynamic},
      {scheme(i4, token), scheme(i4, group, true, 32), DeployedTag::W4A4Dynamic},
      {scheme(i4, token), scheme(i4, group, false, 32), DeployedTag::W4A4Dynamic},
      {scheme(f8, token), scheme(f8, channel), DeployedTag::WFp8AFp8Dynamic},
      {scheme(QDtype::MxFp8, block, true, 32), scheme(QDtype::MxFp8, block, true, 32),
       DeployedTag::W8A8MxFp8},
      {scheme(QDtype::MxFp8, block), scheme(QDtype::MxFp4, block), DeployedTag::W4A8MxFp},
      {scheme(QDtype::MxFp4, block), scheme(QDtype::MxFp4, block), DeployedTag::W4A4MxFp4},
      {scheme(fp, tensor), scheme(i4, channel), DeployedTag::W4A16},
      {scheme(fp, tensor), scheme(i4, group, false, 128), DeployedTag::W4A16},
      {scheme(fp, tensor), scheme(fp, tensor), DeployedTag::Float},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(select_deployed_tag(c.act, c.weight), c.tag)
        << c.act.to_string() << " + " << c.weight.to_string();
  }
}

TEST(QuantScheme, RejectsPairsOutsideTheTableListingValidOnes) {
  // Asymmetric per-token int8 activations have no IR (spec §2.6, §13.13).
  EXPECT_ERROR_WITH(select_deployed_tag(scheme(QDtype::Int8, QScope::PerToken, false),
                                        scheme(QDtype::Int8, QScope::PerChannel)),
                    "int8 per_token asym", "int8 per_channel sym", "valid pairs",
                    "int8 per_tensor sym|asym + int8 per_channel sym -> W8A8",
                    "int8 pd_mix asym + int8 per_channel sym -> W8A8_MIX",
                    "int8 per_token sym + int8 per_group sym|asym -> W8A8_DYNAMIC",
                    "float per_tensor sym + int8 per_channel sym|asym -> W8A16",
                    "int8 per_token sym + int4 per_channel sym -> W4A8_DYNAMIC",
                    "int4 per_token sym + int4 per_group sym|asym -> W4A4_DYNAMIC",
                    "fp8_e4m3 per_token sym + fp8_e4m3 per_channel sym -> WFP8AFP8_DYNAMIC",
                    "mxfp8 per_block sym + mxfp8 per_block sym -> W8A8_MXFP8",
                    "mxfp8 per_block sym + mxfp4 per_block sym -> W4A8_MXFP",
                    "mxfp4 per_block sym + mxfp4 per_block sym -> W4A4_MXFP4",
                    "float per_tensor sym + int4 per_group sym|asym -> W4A16",
                    "float per_tensor sym + float per_tensor sym -> FLOAT");
  // Static W8A8 wants symmetric per-channel weights.
  EXPECT_ERROR_WITH(select_deployed_tag(scheme(QDtype::Int8, QScope::PerTensor, false),
                                        scheme(QDtype::Int8, QScope::PerChannel, false)),
                    "no deployed form", "int8 per_channel asym");
  // W4A8_DYNAMIC has no per-group form.
  EXPECT_ERROR_WITH(select_deployed_tag(scheme(QDtype::Int8, QScope::PerToken),
                                        scheme(QDtype::Int4, QScope::PerGroup, true, 128)),
                    "no deployed form");
  // Dual-scale MXFP4 is not produced by Slim.
  EXPECT_ERROR_WITH(select_deployed_tag(scheme(QDtype::MxFp4, QScope::DualScale),
                                        scheme(QDtype::MxFp4, QScope::DualScale)),
                    "no deployed form", "mxfp4 dual_scale sym");
  // MX schemes are symmetric.
  EXPECT_ERROR_WITH(select_deployed_tag(scheme(QDtype::MxFp8, QScope::PerBlock, false),
                                        scheme(QDtype::MxFp8, QScope::PerBlock)),
                    "no deployed form");
}

TEST(QuantScheme, RejectsBadGroupSizes) {
  EXPECT_ERROR_WITH(select_deployed_tag(scheme(QDtype::Float, QScope::PerTensor),
                                        scheme(QDtype::Int4, QScope::PerGroup, true, 0)),
                    "per_group needs a positive group_size", "found 0");
  EXPECT_ERROR_WITH(select_deployed_tag(scheme(QDtype::MxFp8, QScope::PerBlock, true, 16),
                                        scheme(QDtype::MxFp8, QScope::PerBlock, true, 32)),
                    "MX blocks are 32 elements", "16");
}

// A valid W8A16 per-group asymmetric record.
DeployedLinear w8a16_group() {
  DeployedLinear linear;
  linear.name = "model.layers.0.mlp.up_proj";
  linear.tag = DeployedTag::W8A16;
  linear.act = QScheme{};
  linear.weight = scheme(QDtype::Int8, QScope::PerGroup, false, 4);
  linear.weight_codes = at::zeros({6, 8}, at::kChar);
  linear.weight_scale = at::ones({6, 2}, at::kFloat);
  linear.weight_offset = at::full({6, 2}, -3.0f, at::kFloat);
  linear.bias = at::zeros({6}, at::kBFloat16);
  return linear;
}

TEST(DeployedLinearValidate, AcceptsValidRecords) {
  EXPECT_NO_THROW(w8a16_group().validate());

  DeployedLinear w8a8;
  w8a8.name = "q";
  w8a8.tag = DeployedTag::W8A8;
  w8a8.act = scheme(QDtype::Int8, QScope::PerTensor, false);
  w8a8.weight = scheme(QDtype::Int8, QScope::PerChannel);
  w8a8.weight_codes = at::zeros({4, 3}, at::kChar);
  w8a8.weight_scale = at::ones({4, 1}, at::kFloat);
  w8a8.weight_offset = at::zeros({4, 1}, at::kFloat);
  w8a8.input_scale = at::ones({1}, at::kFloat);
  w8a8.input_offset = at::full({1}, 5.0f, at::kFloat);
  EXPECT_NO_THROW(w8a8.validate());

  DeployedLinear mx;
  mx.name = "mx";
  mx.tag = DeployedTag::W4A8MxFp;
  mx.act = scheme(QDtype::MxFp8, QScope::PerBlock, true, 32);
  mx.weight = scheme(QDtype::MxFp4, QScope::PerBlock, true, 32);
  mx.weight_codes = at::full({2, 40}, 1.5f, at::kFloat);
  mx.weight_scale = at::full({2, 2}, -3, at::kInt);
  EXPECT_NO_THROW(mx.validate());

  DeployedLinear fp8;
  fp8.name = "f";
  fp8.tag = DeployedTag::WFp8AFp8Dynamic;
  fp8.act = scheme(QDtype::Fp8E4M3, QScope::PerToken);
  fp8.weight = scheme(QDtype::Fp8E4M3, QScope::PerChannel);
  fp8.weight_codes = at::full({2, 3}, 448.0f, at::kFloat);
  fp8.weight_scale = at::ones({2, 1}, at::kFloat);
  EXPECT_NO_THROW(fp8.validate());

  DeployedLinear plain;
  plain.name = "lm_head";
  plain.weight_codes = at::zeros({3, 2}, at::kBFloat16);
  EXPECT_NO_THROW(plain.validate());
}

TEST(DeployedLinearValidate, NamesTheTensorAndTheProblem) {
  auto bad_scale = w8a16_group();
  bad_scale.weight_scale = at::ones({6, 1}, at::kFloat);
  EXPECT_ERROR_WITH(bad_scale.validate(), "'model.layers.0.mlp.up_proj'", "W8A16", "weight_scale",
                    "[6, 2]", "[6, 1]");

  auto bad_dtype = w8a16_group();
  bad_dtype.weight_codes = at::zeros({6, 8}, at::kFloat);
  EXPECT_ERROR_WITH(bad_dtype.validate(), "weight_codes must be Char", "found Float");

  auto bad_group = w8a16_group();
  bad_group.weight.group_size = 3;
  EXPECT_ERROR_WITH(bad_group.validate(), "group_size 3 does not divide the input dim 8");

  auto wrong_tag = w8a16_group();
  wrong_tag.tag = DeployedTag::W8A8Dynamic;
  EXPECT_ERROR_WITH(wrong_tag.validate(), "deploys as W8A16, not as W8A8_DYNAMIC");

  auto missing = w8a16_group();
  missing.weight_offset = at::Tensor();
  EXPECT_ERROR_WITH(missing.validate(), "weight_offset is missing");

  auto bad_bias = w8a16_group();
  bad_bias.bias = at::zeros({5}, at::kFloat);
  EXPECT_ERROR_WITH(bad_bias.validate(), "bias must be a floating [6] tensor", "[5]");

  auto sym_offset = w8a16_group();
  sym_offset.weight.symmetric = true;
  EXPECT_ERROR_WITH(sym_offset.validate(), "weight_offset must be all zeros");

  DeployedLinear int4;
  int4.name = "o";
  int4.tag = DeployedTag::W4A8Dynamic;
  int4.act = scheme(QDtype::Int8, QScope::PerToken);
  int4.weight = scheme(QDtype::Int4, QScope::PerChannel);
  int4.weight_codes = at::full({4, 3}, 8, at::kChar);
  int4.weight_scale = at::ones({4, 1}, at::kFloat);
  int4.weight_offset = at::zeros({4, 1}, at::kFloat);
  EXPECT_ERROR_WITH(int4.validate(), "weight_codes values must lie in [-8, 7]", "8]");
  int4.weight_codes = at::zeros({3, 3}, at::kChar);
  int4.weight_scale = at::ones({3, 1}, at::kFloat);
  int4.weight_offset = at::zeros({3, 1}, at::kFloat);
  EXPECT_ERROR_WITH(int4.validate(), "output dim, which must be even", "3");

  DeployedLinear mx;
  mx.name = "mx";
  mx.tag = DeployedTag::W8A8MxFp8;
  mx.act = scheme(QDtype::MxFp8, QScope::PerBlock);
  mx.weight = scheme(QDtype::MxFp8, QScope::PerBlock);
  mx.weight_codes = at::zeros({2, 33}, at::kFloat);
  mx.weight_scale = at::zeros({2, 1}, at::kInt);
  EXPECT_ERROR_WITH(mx.validate(), "weight_scale must have shape [2, 2]", "[2, 1]");
  mx.weight_scale = at::full({2, 2}, 128, at::kInt);
  EXPECT_ERROR_WITH(mx.validate(), "shared exponents", "[-127, 127]");

  DeployedLinear w8a8;
  w8a8.name = "q";
  w8a8.tag = DeployedTag::W8A8;
  w8a8.act = scheme(QDtype::Int8, QScope::PerTensor, false);
  w8a8.weight = scheme(QDtype::Int8, QScope::PerChannel);
  w8a8.weight_codes = at::zeros({4, 3}, at::kChar);
  w8a8.weight_scale = at::ones({4, 1}, at::kFloat);
  w8a8.weight_offset = at::zeros({4, 1}, at::kFloat);
  EXPECT_ERROR_WITH(w8a8.validate(), "input_scale is missing");

  DeployedLinear plain;
  plain.name = "lm_head";
  plain.weight_codes = at::zeros({3, 2}, at::kChar);
  EXPECT_ERROR_WITH(plain.validate(), "'lm_head'", "FLOAT", "floating weight");
}

}  // namespace
}  // namespace slim::quant
