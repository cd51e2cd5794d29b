// make_deployed_linear: records built from codes and scales an algorithm computed itself equal
// what deploy_linear (min/max, one user of it) builds; wrong parts are errors naming the module
// and the tensor.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <vector>

#include "quant/quant_reference.h"
#include "slim/quant/deployed_forms.h"
#include "slim/quant/numerics.h"
#include "slim/quant/observer.h"
#include "support/deployed_records.h"
#include "support/expect_error.h"
#include "support/expect_records.h"

namespace slim::quant {
namespace {

using slim::testing::expect_same_record;

DeployedForm form_of(DeployedTag tag, int64_t group_size = 0, bool asym = false) {
  return make_form(deployed_form_spec(tag), group_size, asym);
}

// The parts of a record as an algorithm may hold them: codes in a wider dtype and not
// contiguous, scales in fp64 (fp32 values, so exact), MX exponents as int64, the activation
// scale as a 0-dim tensor, symmetric offsets left out.
struct Parts {
  at::Tensor codes;
  at::Tensor scale;
  at::Tensor offset;
  at::Tensor input_scale;
  at::Tensor input_offset;
};

at::Tensor strided(const at::Tensor& t) {
  return t.t().contiguous().t();  // same values, column-major strides
}

Parts loosened(const DeployedLinear& d) {
  Parts p;
  switch (d.weight.dtype) {
    case QDtype::Float:
      p.codes = strided(d.weight_codes);
      break;
    case QDtype::Int8:
    case QDtype::Int4:
      p.codes = strided(d.weight_codes.to(d.weight.dtype == QDtype::Int8 ? at::kDouble : at::kInt));
      p.scale = d.weight_scale.to(at::kDouble);
      if (!d.weight.symmetric) p.offset = d.weight_offset.to(at::kDouble);
      break;
    case QDtype::Fp8E4M3:
      p.codes = strided(d.weight_codes.to(at::kDouble));
      p.scale = d.weight_scale.to(at::kDouble);
      break;
    case QDtype::MxFp8:
    case QDtype::MxFp4:
      p.codes = strided(d.weight_codes.to(at::kDouble));
      p.scale = d.weight_scale.to(at::kLong);
      break;
  }
  if (d.input_scale.defined()) p.input_scale = d.input_scale.to(at::kDouble).reshape({});
  if (d.input_offset.defined() && !d.act.symmetric) p.input_offset = d.input_offset;
  return p;
}

DeployedLinear rebuild(const DeployedLinear& d, const Parts& p) {
  return make_deployed_linear(d.name, d.form(), p.codes, p.scale, p.offset, d.bias, p.input_scale,
                              p.input_offset, d.model_dtype);
}

TEST(MakeDeployedLinear, HandMadeCodesEqualDeployLinear) {
  // int8 per channel, symmetric: each row's amax / 127 is the scale exactly, so min/max
  // quantization of codes * scale gives the codes back.
  const at::Tensor codes = at::tensor({127, -64, 0, 5, -127, 1, 2, 3}, at::kLong).reshape({2, 4});
  const at::Tensor scale = at::tensor({0.5, 0.25}, at::kDouble).reshape({2, 1});
  const at::Tensor weight = (codes.to(at::kDouble) * scale).to(at::kFloat);
  const at::Tensor bias = at::tensor({1.0f, -2.0f});
  const DeployedForm form = form_of(DeployedTag::W8A16);
  const DeployedLinear expected = deploy_linear("model.layers.0.mlp.up_proj", weight, bias,
                                                form.act, form.weight, std::nullopt, at::kBFloat16);
  const DeployedLinear built = make_deployed_linear("model.layers.0.mlp.up_proj", form, codes,
                                                    scale, {}, bias, {}, {}, at::kBFloat16);
  expect_same_record(expected, built, false);
  EXPECT_EQ(built.weight_codes.scalar_type(), at::kChar);
  EXPECT_TRUE(at::equal(built.weight_codes, codes.to(at::kChar)));
  EXPECT_TRUE(at::equal(built.weight_offset, at::zeros({2, 1})));

  // int4 per group of 2, asymmetric: x = (q - z) * s with the zero-point given.
  const at::Tensor q4 = at::tensor({-8, 7, 0, 3}, at::kLong).reshape({1, 4});
  const DeployedLinear grouped = make_deployed_linear(
      "g", form_of(DeployedTag::W4A16, 2, true), q4, at::tensor({0.5f, 0.125f}).reshape({1, 2}),
      at::tensor({-8.0f, 0.0f}).reshape({1, 2}), std::nullopt, {}, {}, at::kFloat);
  EXPECT_TRUE(at::equal(dequantize_weight(grouped),
                        at::tensor({0.0f, 7.5f, 0.0f, 0.375f}).reshape({1, 4})));
}

TEST(MakeDeployedLinear, EveryFormRebuiltFromLoosePartsEqualsDeployLinear) {
  at::Tensor w = ref::random_matrix(16, 128, 31);
  w[0].zero_();
  w[1][5] = 40.0f;
  for (at::ScalarType dtype : {at::kBFloat16, at::kFloat}) {
    const at::Tensor weight = w.to(dtype);
    const at::Tensor bias = at::linspace(-1, 1, 16).to(dtype);
    for (const DeployedForm& form : every_form(32)) {
      if (!deployed_form_spec(form.tag).selected_by_schemes) continue;  // W16A16S: below
      SCOPED_TRACE(str(form.to_string(), " ", c10::toString(dtype)));
      std::optional<QParams> act_params;
      if (deployed_form_spec(form.tag).activations == Activations::Static) {
        const MinMax mm = minmax_per_tensor("x", ref::random_matrix(4, 128, 7).to(dtype));
        act_params = calculate_qparam(
            "x", mm.min, mm.max,
            slim::testing::qscheme(QDtype::Int8, QScope::PerTensor, form.act.symmetric));
      }
      const DeployedLinear d = deploy_linear("model.layers.3.self_attn.q_proj", weight, bias,
                                             form.act, form.weight, act_params, dtype);
      expect_same_record(d, rebuild(d, loosened(d)), false);
      EXPECT_TRUE(rebuild(d, loosened(d)).weight_codes.is_contiguous());
    }
  }
  // W16A16S: the pruned weight itself.
  const DeployedLinear sparse = make_deployed_linear("m", form_of(DeployedTag::W16A16S), strided(w),
                                                     {}, {}, std::nullopt, {}, {}, at::kFloat);
  EXPECT_EQ(sparse.tag, DeployedTag::W16A16S);
  EXPECT_TRUE(at::equal(sparse.weight_codes, w));
}

TEST(MakeDeployedLinear, MovesPartsToTheCpu) {
  // CUDA-independent: the CPU case always runs; CUDA parts only where a GPU is present.
  const at::Tensor w = ref::random_matrix(8, 64, 3);
  const DeployedForm form = form_of(DeployedTag::W8A8Dynamic, 32, false);
  const DeployedLinear d =
      deploy_linear("m", w, std::nullopt, form.act, form.weight, std::nullopt, at::kFloat);
  const Parts p = loosened(d);
  for (const at::Device device : {at::Device(at::kCPU), at::Device(at::kCUDA)}) {
    if (device.is_cuda() && !at::hasCUDA()) continue;
    const DeployedLinear built = make_deployed_linear(
        "m", form, p.codes.to(device), p.scale.to(device), {}, std::nullopt, {}, {}, at::kFloat);
    EXPECT_TRUE(built.weight_codes.device().is_cpu());
    EXPECT_TRUE(built.weight_scale.device().is_cpu());
    expect_same_record(d, built, false);
  }
}

TEST(MakeDeployedLinear, WrongPartsNameTheModuleAndTensor) {
  const DeployedForm w8a16 = form_of(DeployedTag::W8A16);
  const at::Tensor codes = at::zeros({2, 4}, at::kChar);
  const at::Tensor scale = at::ones({2, 1});
  const std::optional<at::Tensor> none;
  const auto make = [&](const DeployedForm& form, const at::Tensor& c, const at::Tensor& s,
                        const at::Tensor& o, const at::Tensor& xs = {}, const at::Tensor& xo = {}) {
    return make_deployed_linear("model.layers.1.mlp.down_proj", form, c, s, o, none, xs, xo,
                                at::kBFloat16);
  };
  const char* module = "'model.layers.1.mlp.down_proj'";
  EXPECT_ERROR_WITH(make(w8a16, codes, at::ones({2, 2}), {}), module, "weight_scale", "[2, 1]",
                    "[2, 2]");
  EXPECT_ERROR_WITH(make(w8a16, at::full({2, 4}, 0.5), scale, {}), module, "weight_codes",
                    "integers");
  EXPECT_ERROR_WITH(make(w8a16, at::full({2, 4}, 300, at::kLong), scale, {}), module,
                    "weight_codes", "do not fit");
  EXPECT_ERROR_WITH(make(w8a16, at::zeros({2, 4}, at::kBool), scale, {}), module, "weight_codes",
                    "floating or integer");
  EXPECT_ERROR_WITH(make(w8a16, codes, {}, {}), module, "weight_scale is missing");
  EXPECT_ERROR_WITH(
      make(form_of(DeployedTag::W4A16, 0, false), at::full({2, 4}, 9, at::kChar), scale, {}),
      module, "weight_codes", "[-8, 7]");
  EXPECT_ERROR_WITH(make(form_of(DeployedTag::W8A16, 2, true), codes, at::ones({2, 2}), {}), module,
                    "weight_offset is missing", "asymmetric");
  EXPECT_ERROR_WITH(make(w8a16, codes, at::full({2, 1}, NAN), {}), module, "weight_scale", "NaN");
  EXPECT_ERROR_WITH(
      make(form_of(DeployedTag::WFp8AFp8Dynamic), at::zeros({2, 4}, at::kByte), scale, {}), module,
      "E4M3", "floating tensor");
  const DeployedForm mx = form_of(DeployedTag::W8A8MxFp8);
  EXPECT_ERROR_WITH(make(mx, at::zeros({2, 4}), at::zeros({2, 1}, at::kInt), at::zeros({2, 1})),
                    module, "weight_offset must be absent", "MX");
  EXPECT_ERROR_WITH(make(mx, at::zeros({2, 4}), at::full({2, 1}, 0.5), {}), module,
                    "shared exponents", "integers");
  EXPECT_ERROR_WITH(make(form_of(DeployedTag::Float), at::zeros({2, 4}), scale, {}), module,
                    "weight_scale must be absent");
  // Activations: static forms need one positive scale; the others store none.
  const DeployedForm w8a8 = form_of(DeployedTag::W8A8);
  EXPECT_ERROR_WITH(make(w8a8, codes, scale, {}), module, "input_scale is missing");
  EXPECT_ERROR_WITH(make(w8a8, codes, scale, {}, at::ones({2})), module, "input_scale", "one value",
                    "[2]");
  EXPECT_ERROR_WITH(make(w8a8, codes, scale, {}, at::zeros({1})), module, "input_scale",
                    "positive");
  EXPECT_NO_THROW(make(w8a8, codes, scale, {}, at::ones({1})));  // symmetric: offset zeros
  DeployedForm w8a8_asym = w8a8;
  w8a8_asym.act.symmetric = false;
  EXPECT_ERROR_WITH(make(w8a8_asym, codes, scale, {}, at::ones({1})), module,
                    "input_offset is missing");
  EXPECT_ERROR_WITH(make(form_of(DeployedTag::W8A8Dynamic), codes, scale, {}, at::ones({1})),
                    module, "input_scale must be absent", "quantized at run time");
  EXPECT_ERROR_WITH(make(w8a16, codes, scale, {}, at::ones({1})), module,
                    "input_scale must be absent", "not quantized");
  // Forms that do not exist.
  DeployedForm wrong = w8a16;
  wrong.tag = DeployedTag::W8A8Dynamic;
  EXPECT_ERROR_WITH(make(wrong, codes, scale, {}), module, "deploys as W8A16, not as W8A8_DYNAMIC");
  DeployedForm bad_group = form_of(DeployedTag::W8A16, 4);
  bad_group.weight.group_size = 0;
  EXPECT_ERROR_WITH(make(bad_group, codes, scale, {}), module, "per_group needs a positive");
  EXPECT_ERROR_WITH(
      make_deployed_linear("m", w8a16, codes, scale, {}, at::ones({3}), {}, {}, at::kBFloat16),
      "'m'", "bias");
}

}  // namespace
}  // namespace slim::quant
