// deploy_linear / dequantize_weight for every tag, and the observers.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "quant/quant_reference.h"
#include "slim/quant/deployed_forms.h"
#include "slim/quant/numerics.h"
#include "slim/quant/observer.h"
#include "support/deployed_records.h"
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

std::optional<QParams> static_act_params(const DeployedForm& form, at::ScalarType dtype) {
  if (deployed_form_spec(form.tag).activations != Activations::Static) return std::nullopt;
  ActPerTensorMinMaxObserver observer("layer.input");
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    observer.update(ref::random_matrix(8, 256, seed).to(dtype));
  }
  const MinMax mm = observer.get();
  return calculate_qparam("layer.input", mm.min, mm.max,
                          scheme(QDtype::Int8, QScope::PerTensor, form.act.symmetric));
}

TEST(DeployLinear, EveryTagValidatesAndDequantizesToTheFakeQuantizedWeight) {
  // 64 × 256 with adversarial rows; the bias keeps its dtype.
  at::Tensor w = ref::random_matrix(64, 256, 99);
  w[0].zero_();
  w[1].fill_(-0.5f);
  w[2][17] = 300.0f;
  w[3].fill_(1e-40f);
  for (at::ScalarType dtype : {at::kBFloat16, at::kFloat, at::kHalf}) {
    const at::Tensor weight = w.to(dtype);
    const at::Tensor bias = at::linspace(-1, 1, 64).to(dtype);
    for (const DeployedForm& c : slim::testing::selectable_forms(64, true)) {
      SCOPED_TRACE(str(c.to_string(), " ", c10::toString(dtype)));
      const DeployedLinear d = deploy_linear("model.layers.0.mlp.up_proj", weight, bias, c.act,
                                             c.weight, static_act_params(c, dtype), dtype);
      EXPECT_EQ(d.form(), c);
      EXPECT_EQ(d.name, "model.layers.0.mlp.up_proj");
      EXPECT_NO_THROW(d.validate());
      ASSERT_TRUE(d.bias.has_value());
      EXPECT_TRUE(at::equal(*d.bias, bias));
      const at::Tensor fake = fake_quantize_weight("w", weight, c.weight);
      const at::Tensor deq = dequantize_weight(d);
      ASSERT_EQ(deq.scalar_type(), dtype);
      EXPECT_TRUE(at::equal(deq, fake))
          << "max diff " << (deq.to(at::kDouble) - fake.to(at::kDouble)).abs().max().item<double>();
      if (c.tag == DeployedTag::Float) {
        EXPECT_TRUE(at::equal(deq, weight));
      }
    }
  }
}

TEST(DeployLinear, FusedIntegerPathEqualsObserverPlusCalculateQparam) {
  // deploy_linear quantizes integer weights in one fused pass; its scales, offsets and codes must
  // be those of the observer + calculate_qparam + quantize path (checked against the scalar
  // reference in numerics_test).
  at::Tensor w = ref::random_matrix(24, 256, 71);
  w[0].zero_();
  w[1].fill_(2.5f);
  w[2].fill_(-1e-3f);
  w[3][9] = -4e4f;
  w[4].fill_(1e-40f);
  for (at::ScalarType dtype : {at::kBFloat16, at::kFloat, at::kHalf}) {
    for (QDtype q : {QDtype::Int8, QDtype::Int4}) {
      for (bool sym : {true, false}) {
        for (int64_t group : {0, 32, 256}) {
          const QScheme ws = scheme(q, group ? QScope::PerGroup : QScope::PerChannel, sym, group);
          SCOPED_TRACE(str(ws.to_string(), " ", c10::toString(dtype)));
          const at::Tensor weight = w.to(dtype);
          const DeployedLinear d =
              deploy_linear("m", weight, std::nullopt, QScheme{}, ws, std::nullopt, dtype);
          const MinMax mm = group ? weight_minmax_per_group("m", weight, group)
                                  : weight_minmax_per_channel("m", weight);
          const QParams p = calculate_qparam("m", mm.min, mm.max, ws);
          EXPECT_TRUE(at::equal(d.weight_scale, p.scale.to(at::kFloat)));
          EXPECT_TRUE(at::equal(d.weight_offset, p.offset.to(at::kFloat)));
          EXPECT_TRUE(at::equal(d.weight_codes, quantize("m", weight, p)));
        }
      }
    }
    // FP8 per channel takes a fused path too.
    const QScheme f8 = scheme(QDtype::Fp8E4M3, QScope::PerChannel);
    const at::Tensor weight = w.to(dtype);
    const DeployedLinear d =
        deploy_linear("m", weight, std::nullopt, scheme(QDtype::Fp8E4M3, QScope::PerToken), f8,
                      std::nullopt, dtype);
    const MinMax mm = weight_minmax_per_channel("m", weight);
    const QParams p = calculate_qparam("m", mm.min, mm.max, f8);
    EXPECT_TRUE(at::equal(d.weight_scale, p.scale.to(at::kFloat))) << c10::toString(dtype);
    EXPECT_TRUE(at::equal(d.weight_codes, quantize("m", weight, p))) << c10::toString(dtype);
  }
}

TEST(DeployLinear, IntegerErrorIsAtMostHalfAStep) {
  // fp32, symmetric per channel: no clipping, so |w − ŵ| ≤ scale/2 (+ fp32 rounding).
  const at::Tensor w = ref::random_matrix(32, 128, 5);
  for (QDtype dtype : {QDtype::Int8, QDtype::Int4}) {
    const DeployedLinear d =
        deploy_linear("m", w, std::nullopt, QScheme{}, scheme(dtype, QScope::PerChannel),
                      std::nullopt, at::kFloat);
    const at::Tensor err = (dequantize_weight(d) - w).abs();
    const at::Tensor bound = d.weight_scale * (0.5 * (1 + 1e-5));
    EXPECT_TRUE(at::all(err <= bound).item<bool>()) << qdtype_name(dtype);
    // The largest magnitude of each row maps to ±qmax.
    const at::Tensor codes_amax = d.weight_codes.abs().amax(1).to(at::kInt);
    EXPECT_TRUE(at::all(codes_amax == qmax(dtype)).item<bool>());
  }
}

TEST(DeployLinear, StaticActivationRecordAndW8A8Arithmetic) {
  const at::Tensor w = ref::random_matrix(16, 64, 8);
  ActPerTensorMinMaxObserver observer("x");
  const at::Tensor x = ref::random_matrix(5, 64, 9);
  observer.update(x);
  const MinMax mm = observer.get();
  const QParams act =
      calculate_qparam("x", mm.min, mm.max, scheme(QDtype::Int8, QScope::PerTensor, false));
  const DeployedLinear d =
      deploy_linear("q", w, std::nullopt, scheme(QDtype::Int8, QScope::PerTensor, false),
                    scheme(QDtype::Int8, QScope::PerChannel), act, at::kFloat);
  ASSERT_EQ(d.input_scale.sizes(), (at::IntArrayRef{1}));
  EXPECT_EQ(d.input_scale.item<float>(), act.scale.item<float>());
  EXPECT_EQ(d.input_offset.item<float>(), act.offset.item<float>());
  // Integer GEMM with the record's parameters equals the fake-quantized layer (fp32, exact up to
  // fp32 rounding): Σ (q_x − z_x)·q_w · s_x·s_w.
  const at::Tensor qx = quantize("x", x, act).to(at::kDouble);
  const at::Tensor acc =
      (qx - d.input_offset.to(at::kDouble)).matmul(d.weight_codes.to(at::kDouble).t());
  const at::Tensor y_int =
      acc * (d.input_scale.to(at::kDouble) * d.weight_scale.to(at::kDouble).reshape({1, -1}));
  const at::Tensor y_fake =
      fake_quantize("x", x, act).to(at::kDouble).matmul(dequantize_weight(d).to(at::kDouble).t());
  EXPECT_LT((y_int - y_fake).abs().max().item<double>(), 1e-5 * y_fake.abs().max().item<double>());

  EXPECT_ERROR_WITH(
      deploy_linear("q", w, std::nullopt, scheme(QDtype::Int8, QScope::PerTensor, false),
                    scheme(QDtype::Int8, QScope::PerChannel), std::nullopt, at::kFloat),
      "'q'", "W8A8", "static activations need calibrated activation parameters");
  EXPECT_ERROR_WITH(deploy_linear("q", w, std::nullopt, scheme(QDtype::Int8, QScope::PerToken),
                                  scheme(QDtype::Int8, QScope::PerChannel), act, at::kFloat),
                    "'q'", "W8A8_DYNAMIC", "quantized dynamically");
  const QParams per_token{scheme(QDtype::Int8, QScope::PerToken), at::ones({5, 1}),
                          at::zeros({5, 1})};
  EXPECT_ERROR_WITH(
      deploy_linear("q", w, std::nullopt, scheme(QDtype::Int8, QScope::PerTensor, false),
                    scheme(QDtype::Int8, QScope::PerChannel), per_token, at::kFloat),
      "must be per-tensor", "[5, 1]");
}

TEST(DeployLinear, RejectsShapesTheFormatCannotPack) {
  const at::Tensor odd_out = ref::random_matrix(7, 64, 1);
  EXPECT_ERROR_WITH(
      deploy_linear("o_proj", odd_out, std::nullopt, scheme(QDtype::Int8, QScope::PerToken),
                    scheme(QDtype::Int4, QScope::PerChannel), std::nullopt, at::kBFloat16),
      "'o_proj'", "W4A8_DYNAMIC", "must be even", "7");
  const at::Tensor odd_in = ref::random_matrix(4, 33, 1);
  EXPECT_ERROR_WITH(
      deploy_linear("o_proj", odd_in, std::nullopt, scheme(QDtype::MxFp4, QScope::PerBlock),
                    scheme(QDtype::MxFp4, QScope::PerBlock), std::nullopt, at::kBFloat16),
      "'o_proj'", "W4A4_MXFP4", "must be even", "33");
  EXPECT_ERROR_WITH(
      deploy_linear("o_proj", at::ones({4}), std::nullopt, QScheme{},
                    scheme(QDtype::Int8, QScope::PerChannel), std::nullopt, at::kBFloat16),
      "'o_proj.weight'", "2-D");
  EXPECT_ERROR_WITH(
      deploy_linear("o_proj", odd_in, std::nullopt, scheme(QDtype::Int8, QScope::PerToken, false),
                    scheme(QDtype::Int8, QScope::PerChannel), std::nullopt, at::kBFloat16),
      "no deployed form", "valid pairs");
}

TEST(DeployLinear, PackedFormsRoundTrip) {
  const at::Tensor w = ref::random_matrix(32, 128, 4).to(at::kBFloat16);
  const DeployedLinear w4a8 =
      deploy_linear("m", w, std::nullopt, scheme(QDtype::Int8, QScope::PerToken),
                    scheme(QDtype::Int4, QScope::PerChannel), std::nullopt, at::kBFloat16);
  EXPECT_TRUE(at::equal(unpack_int4_along_out(pack_int4_along_out("m", w4a8.weight_codes)),
                        w4a8.weight_codes));
  const DeployedLinear mx =
      deploy_linear("m", w, std::nullopt, scheme(QDtype::MxFp8, QScope::PerBlock),
                    scheme(QDtype::MxFp4, QScope::PerBlock), std::nullopt, at::kBFloat16);
  EXPECT_TRUE(at::equal(unpack_e2m1(pack_e2m1("m", mx.weight_codes)), mx.weight_codes));
  const DeployedLinear fp8 =
      deploy_linear("m", w, std::nullopt, scheme(QDtype::MxFp8, QScope::PerBlock),
                    scheme(QDtype::MxFp8, QScope::PerBlock), std::nullopt, at::kBFloat16);
  EXPECT_TRUE(at::equal(e4m3_from_bytes(e4m3_to_bytes("m", fp8.weight_codes)), fp8.weight_codes));
  EXPECT_TRUE(at::all(fp8.weight_scale.add(127).ge(0)).item<bool>());
}

// ------------------------------------------------------------------ observers

TEST(QuantObserver, RunningMaxAggregation) {
  ActPerTensorMinMaxObserver observer("layers.0.q_proj.input");
  EXPECT_EQ(observer.aggregation(), ActPerTensorMinMaxObserver::Aggregation::Max);
  observer.update(at::tensor({-1.0f, 2.0f, 0.5f}).to(at::kBFloat16));
  observer.update(at::tensor({-3.0f, 1.0f}).to(at::kBFloat16));
  observer.update(at::tensor({0.25f, 1.5f}).to(at::kBFloat16));
  const MinMax mm = observer.get();
  EXPECT_EQ(observer.count(), 3);
  EXPECT_EQ(mm.min.scalar_type(), at::kBFloat16);
  EXPECT_EQ(mm.min.sizes(), (at::IntArrayRef{1}));
  EXPECT_EQ(mm.min.item<float>(), -3.0f);
  EXPECT_EQ(mm.max.item<float>(), 2.0f);
  observer.reset();
  EXPECT_EQ(observer.count(), 0);
  EXPECT_ERROR_WITH(observer.get(), "'layers.0.q_proj.input'", "has seen no data");
}

TEST(QuantObserver, MeanAggregationAveragesPerForwardExtremesInFp64) {
  ActPerTensorMinMaxObserver observer("x", parse_aggregation("mean"));
  observer.update(at::tensor({-1.0f, 2.0f}).to(at::kBFloat16));
  observer.update(at::tensor({-3.0f, 1.0f}).to(at::kBFloat16));
  observer.update(at::tensor({0.25f, 1.5f}).to(at::kBFloat16));
  const MinMax mm = observer.get();
  EXPECT_EQ(mm.min.scalar_type(), at::kBFloat16);
  // min: (−1 − 3 + 0.25)/3 = −1.25; max: (2 + 1 + 1.5)/3 = 1.5.
  EXPECT_EQ(mm.min.item<float>(), -1.25f);
  EXPECT_EQ(mm.max.item<float>(), 1.5f);
  // A mean that bf16 cannot hold is rounded once, from fp64.
  ActPerTensorMinMaxObserver thirds("x", ActPerTensorMinMaxObserver::Aggregation::Mean);
  thirds.update(at::tensor({0.0f, 1.0f}).to(at::kBFloat16));
  thirds.update(at::tensor({0.0f, 0.0f}).to(at::kBFloat16));
  thirds.update(at::tensor({0.0f, 0.0f}).to(at::kBFloat16));
  EXPECT_EQ(thirds.get().max.item<float>(), static_cast<float>(ref::to_bf16(1.0 / 3.0)));
  EXPECT_ERROR_WITH(parse_aggregation("median"), "'median'", "max, mean");
  EXPECT_ERROR_WITH(observer.update(at::tensor({NAN})), "'x'", "NaN or Inf");
}

TEST(QuantObserver, ShapesPerScope) {
  const at::Tensor w = ref::random_matrix(6, 64, 2);
  const MinMax ch = weight_minmax_per_channel("w", w);
  EXPECT_EQ(ch.min.sizes(), (at::IntArrayRef{6, 1}));
  EXPECT_TRUE(at::equal(ch.max.squeeze(1), std::get<0>(w.max(1))));
  const MinMax g = weight_minmax_per_group("w", w, 16);
  EXPECT_EQ(g.min.sizes(), (at::IntArrayRef{6, 4}));
  EXPECT_EQ(g.min[2][3].item<float>(), w[2].slice(0, 48, 64).min().item<float>());
  const at::Tensor x = ref::random_matrix(12, 8, 3).reshape({3, 4, 8});
  EXPECT_EQ(act_minmax_per_token("x", x).max.sizes(), (at::IntArrayRef{3, 4, 1}));
  EXPECT_EQ(act_minmax_per_channel("x", x).max.sizes(), (at::IntArrayRef{8}));
  EXPECT_EQ(act_minmax_per_channel("x", x).min[5].item<float>(),
            x.select(2, 5).min().item<float>());
  EXPECT_ERROR_WITH(act_minmax_per_head("x", x), "'x'", "[batch, heads, seq, head_dim]");
  EXPECT_ERROR_WITH(weight_minmax_per_channel("w", x), "'w'", "2-D");
  EXPECT_ERROR_WITH(weight_minmax_per_group("w", w, 0), "group size 0", "input dim 64");
  EXPECT_ERROR_WITH(minmax_per_tensor("w", at::zeros({0})), "'w'", "empty");
  EXPECT_ERROR_WITH(minmax_per_tensor("w", at::zeros({2}, at::kInt)), "'w'", "floating");
}

}  // namespace
}  // namespace slim::quant
