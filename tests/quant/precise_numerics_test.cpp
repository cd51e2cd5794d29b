// Numerics::Precise (docs/quantization.md "Rounding conventions"): fp32 arithmetic whatever the
// weight dtype, symmetric scale amax / ((qmax − qmin) / 2), asymmetric (max' − min') / (2^b − 1)
// with zero-point round(−min'/scale) + qmin. The fused deploy_linear kernel, the ATen path
// (calculate_qparam + quantize) and fake_quantize_weight are checked against a scalar loop on
// random and adversarial weights; Numerics::MsModelSlim stays the default and differs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "slim/quant/numerics.h"
#include "slim/quant/observer.h"
#include "support/expect_error.h"

namespace slim::quant {
namespace {

QScheme int_scheme(QDtype dtype, bool symmetric, int64_t group_size) {
  QScheme s;
  s.dtype = dtype;
  s.scope = group_size > 0 ? QScope::PerGroup : QScope::PerChannel;
  s.symmetric = symmetric;
  s.group_size = group_size;
  return s;
}

// Rows of the weight: random magnitudes spanning many octaves, then adversarial rows: all zeros,
// huge, tiny, a single nonzero, all negative, and exact .5 ties of the symmetric scale.
at::Tensor adversarial_weight(int64_t rows, int64_t cols, at::ScalarType dtype, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> octave(-10.0f, 6.0f);
  const bool half = dtype == at::kHalf;
  const float huge = half ? 8.0e3f : 1.0e30f;  // |normal| < 8: finite in fp16
  const float tiny = half ? 1.0e-6f : 1.0e-30f;
  std::vector<float> data(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = data.data() + r * cols;
    const float s = std::exp2(octave(gen));
    for (int64_t k = 0; k < cols; ++k)
      row[k] = normal(gen) * s;
    switch (r % 10) {
      case 1:
        for (int64_t k = 0; k < cols; ++k)
          row[k] = 0.0f;
        break;
      case 2:
        for (int64_t k = 0; k < cols; ++k)
          row[k] = normal(gen) * huge;
        break;
      case 3:
        for (int64_t k = 0; k < cols; ++k)
          row[k] = normal(gen) * tiny;
        break;
      case 4:
        for (int64_t k = 0; k < cols; ++k)
          row[k] = k == 5 ? -s : 0.0f;
        break;
      case 5:
        for (int64_t k = 0; k < cols; ++k)
          row[k] = -std::fabs(row[k]) - s;
        break;
      case 6:
      case 7: {
        // amax = half_range · q (q a power of two), the others (k + 0.5)·q: every ratio of the
        // symmetric scale is an exact tie (int4 with 7.5, int8 with 127.5; both exact in bf16).
        const float half_range = r % 10 == 6 ? 7.5f : 127.5f;
        const float q = std::exp2(std::round(octave(gen)));
        const int n = static_cast<int>(half_range - 0.5f);
        for (int64_t k = 0; k < cols; ++k) {
          row[k] = (static_cast<float>(static_cast<int>(k % (2 * n + 1)) - n) + 0.5f) * q;
        }
        row[0] = half_range * q;
        if (cols > 32) row[32] = -half_range * q;
        break;
      }
      default:
        break;
    }
  }
  return at::tensor(data).reshape({rows, cols}).to(dtype);
}

struct Reference {
  std::vector<int8_t> codes;   // [rows, cols]
  std::vector<float> scales;   // [rows, groups]
  std::vector<float> offsets;  // [rows, groups]
  std::vector<float> fake;     // (q − offset)·scale in fp32
};

// fp32 arithmetic, one operation at a time: each operation computed in double (exact or with
// room to spare) and rounded to fp32, which is the correctly rounded fp32 operation.
float f32(double v) {
  return static_cast<float>(v);
}

Reference reference(const at::Tensor& weight, const QScheme& s) {
  const at::Tensor w = weight.to(at::kFloat).contiguous();
  const int64_t rows = w.size(0);
  const int64_t cols = w.size(1);
  const int64_t group = s.group_size > 0 ? s.group_size : cols;
  const int64_t groups = cols / group;
  const double qlo = s.dtype == QDtype::Int8 ? -128.0 : -8.0;
  const double qhi = s.dtype == QDtype::Int8 ? 127.0 : 7.0;
  const double levels = qhi - qlo;  // 2^b − 1
  const float* x = w.data_ptr<float>();
  Reference out;
  out.codes.resize(rows * cols);
  out.fake.resize(rows * cols);
  out.scales.resize(rows * groups);
  out.offsets.resize(rows * groups);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const float* src = x + r * cols + g * group;
      double mn = 0.0;
      double mx = 0.0;
      for (int64_t k = 0; k < group; ++k) {
        mn = std::min(mn, static_cast<double>(src[k]));
        mx = std::max(mx, static_cast<double>(src[k]));
      }
      float scale;
      float offset = 0.0f;
      if (s.symmetric) {
        scale = f32(std::max(-mn, mx) / (levels / 2.0));
      } else {
        scale = f32(static_cast<double>(f32(mx - mn)) / levels);
      }
      scale = std::max(scale, FLT_EPSILON);
      if (!s.symmetric) {
        offset = f32(std::nearbyint(static_cast<double>(f32(-mn / scale))) + qlo);
      }
      out.scales[r * groups + g] = scale;
      out.offsets[r * groups + g] = offset;
      for (int64_t k = 0; k < group; ++k) {
        const float ratio = f32(static_cast<double>(src[k]) / scale);
        const double v = f32(static_cast<double>(ratio) + offset);
        const double q = std::min(std::max(std::nearbyint(v), qlo), qhi);
        const int64_t at = r * cols + g * group + k;
        out.codes[at] = static_cast<int8_t>(q);
        out.fake[at] = f32((q - offset) * scale);
      }
    }
  }
  return out;
}

at::Tensor as_tensor(const std::vector<float>& v, int64_t rows) {
  return at::tensor(v).reshape({rows, -1});
}

struct Case {
  at::ScalarType dtype;
  QDtype qdtype;
  bool symmetric;
  int64_t group_size;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const auto dtype : {at::kBFloat16, at::kHalf, at::kFloat}) {
    for (const auto q : {QDtype::Int8, QDtype::Int4}) {
      for (const bool sym : {true, false}) {
        for (const int64_t g : {int64_t{0}, int64_t{32}})
          out.push_back({dtype, q, sym, g});
      }
    }
  }
  return out;
}

std::string describe(const Case& c) {
  return std::string(c10::toString(c.dtype)) + " " +
         int_scheme(c.qdtype, c.symmetric, c.group_size).to_string();
}

TEST(PreciseNumerics, EveryPathEqualsTheScalarFp32Reference) {
  uint32_t seed = 7;
  for (const Case& c : cases()) {
    SCOPED_TRACE(describe(c));
    const QScheme s = int_scheme(c.qdtype, c.symmetric, c.group_size);
    const at::Tensor w = adversarial_weight(40, 128, c.dtype, ++seed);
    const Reference ref = reference(w, s);
    const int64_t rows = w.size(0);
    const at::Tensor codes = at::tensor(std::vector<int64_t>(ref.codes.begin(), ref.codes.end()))
                                 .reshape({rows, -1})
                                 .to(at::kChar);
    const at::Tensor scales = as_tensor(ref.scales, rows);
    const at::Tensor offsets = as_tensor(ref.offsets, rows);

    // The fused kernel.
    const DeployedLinear d =
        deploy_linear("m", w, std::nullopt, QScheme{}, s, std::nullopt, c.dtype, Numerics::Precise);
    EXPECT_TRUE(at::equal(d.weight_scale, scales));
    EXPECT_TRUE(at::equal(d.weight_offset, offsets));
    EXPECT_TRUE(at::equal(d.weight_codes, codes))
        << (d.weight_codes != codes).sum().item<int64_t>() << " codes differ";

    // The ATen path: calculate_qparam of the weight's statistics, quantize.
    const MinMax mm = c.group_size > 0 ? weight_minmax_per_group("m", w, c.group_size)
                                       : weight_minmax_per_channel("m", w);
    const QParams p = calculate_qparam("m", mm.min, mm.max, s, Numerics::Precise);
    EXPECT_EQ(p.scale.scalar_type(), at::kFloat);
    EXPECT_TRUE(at::equal(p.scale, scales));
    EXPECT_TRUE(at::equal(p.offset, offsets));
    EXPECT_TRUE(at::equal(quantize("m", w, p), codes));

    // The fake-quantized weight: the reference's fp32 values rounded once to the weight's dtype,
    // equal to the record's dequantized weight.
    const at::Tensor fake = fake_quantize_weight("m", w, s, Numerics::Precise);
    EXPECT_EQ(fake.scalar_type(), c.dtype);
    EXPECT_TRUE(at::equal(fake, as_tensor(ref.fake, rows).to(c.dtype)));
    EXPECT_TRUE(at::equal(dequantize_weight(d, c.dtype), fake));

    // fp64 weights are read as fp32.
    const DeployedLinear d64 = deploy_linear("m", w.to(at::kDouble), std::nullopt, QScheme{}, s,
                                             std::nullopt, at::kFloat, Numerics::Precise);
    EXPECT_TRUE(at::equal(d64.weight_codes, codes));
    EXPECT_TRUE(at::equal(d64.weight_scale, scales));
  }
}

TEST(PreciseNumerics, ScaleRulesAndTies) {
  // int4 symmetric: amax / 7.5, so +amax → 7.5 → clamped to 7 and −amax → −7.5 → −8 (ties to
  // even); ±0.5·scale → 0, 1.5·scale → 2, 2.5·scale → 2.
  const at::Tensor w =
      at::tensor({7.5f, -7.5f, 0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 3.0f}).reshape({1, 8});
  const DeployedLinear d =
      deploy_linear("m", w, std::nullopt, QScheme{}, int_scheme(QDtype::Int4, true, 0),
                    std::nullopt, at::kFloat, Numerics::Precise);
  EXPECT_FLOAT_EQ(d.weight_scale.item<float>(), 1.0f);
  const std::vector<int64_t> want = {7, -8, 0, 0, 2, 2, -2, 3};
  EXPECT_TRUE(at::equal(d.weight_codes, at::tensor(want).reshape({1, 8}).to(at::kChar)));
  // int8 symmetric: amax / 127.5.
  const DeployedLinear d8 =
      deploy_linear("m", w, std::nullopt, QScheme{}, int_scheme(QDtype::Int8, true, 0),
                    std::nullopt, at::kFloat, Numerics::Precise);
  EXPECT_EQ(d8.weight_scale.item<float>(), static_cast<float>(7.5 / 127.5));
  // Asymmetric: (max' − min') / 15 and round(−min'/scale) + qmin.
  const at::Tensor a = at::tensor({-1.0f, 2.0f, 0.5f, 0.0f}).reshape({1, 4});
  const DeployedLinear da =
      deploy_linear("m", a, std::nullopt, QScheme{}, int_scheme(QDtype::Int4, false, 0),
                    std::nullopt, at::kFloat, Numerics::Precise);
  EXPECT_EQ(da.weight_scale.item<float>(), 3.0f / 15.0f);
  EXPECT_EQ(da.weight_offset.item<float>(), std::nearbyint(1.0f / (3.0f / 15.0f)) - 8.0f);
  // All-zero rows: scale FLT_EPSILON; asymmetric: offset round(0) + qmin, codes qmin.
  const DeployedLinear dz = deploy_linear("m", at::zeros({2, 8}), std::nullopt, QScheme{},
                                          int_scheme(QDtype::Int8, false, 0), std::nullopt,
                                          at::kFloat, Numerics::Precise);
  EXPECT_TRUE(at::equal(dz.weight_scale, at::full({2, 1}, FLT_EPSILON)));
  EXPECT_TRUE(at::equal(dz.weight_offset, at::full({2, 1}, -128.0f)));
  EXPECT_TRUE(at::equal(dz.weight_codes, at::full({2, 8}, -128, at::kChar)));
  // NaN is still an error naming the tensor.
  at::Tensor bad = at::ones({2, 8});
  bad[1][3] = NAN;
  EXPECT_ERROR_WITH(
      deploy_linear("m", bad, std::nullopt, QScheme{}, int_scheme(QDtype::Int8, true, 0),
                    std::nullopt, at::kFloat, Numerics::Precise),
      "m.weight", "NaN");
}

TEST(PreciseNumerics, MsModelSlimStaysTheDefaultAndDiffers) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(describe(c));
    const QScheme s = int_scheme(c.qdtype, c.symmetric, c.group_size);
    const at::Tensor w = adversarial_weight(40, 128, c.dtype, 1234);
    const DeployedLinear by_default =
        deploy_linear("m", w, std::nullopt, QScheme{}, s, std::nullopt, c.dtype);
    const DeployedLinear ms = deploy_linear("m", w, std::nullopt, QScheme{}, s, std::nullopt,
                                            c.dtype, Numerics::MsModelSlim);
    const DeployedLinear precise =
        deploy_linear("m", w, std::nullopt, QScheme{}, s, std::nullopt, c.dtype, Numerics::Precise);
    EXPECT_TRUE(at::equal(ms.weight_codes, by_default.weight_codes));
    EXPECT_TRUE(at::equal(ms.weight_scale, by_default.weight_scale));
    EXPECT_TRUE(at::equal(ms.weight_offset, by_default.weight_offset));
    EXPECT_TRUE(at::equal(fake_quantize_weight("m", w, s, Numerics::MsModelSlim),
                          fake_quantize_weight("m", w, s)));
    const MinMax mm = c.group_size > 0 ? weight_minmax_per_group("m", w, c.group_size)
                                       : weight_minmax_per_channel("m", w);
    EXPECT_TRUE(at::equal(calculate_qparam("m", mm.min, mm.max, s, Numerics::MsModelSlim).scale,
                          calculate_qparam("m", mm.min, mm.max, s).scale));
    // MsModelSlim: symmetric scale amax / qmax in the weight's dtype.
    if (c.symmetric) {
      const bool half = c.dtype == at::kHalf;  // fp16: fp32 operations rounded to fp16
      const at::Tensor amax = at::maximum(mm.min.neg(), mm.max);
      const double q = c.qdtype == QDtype::Int8 ? 127.0 : 7.0;
      const at::Tensor want =
          half ? amax.to(at::kFloat).clamp_min(0).div(q).to(at::kHalf).to(at::kFloat)
               : amax.clamp_min(0).div(q).to(at::kFloat);
      EXPECT_TRUE(at::equal(ms.weight_scale, want.clamp_min(FLT_EPSILON)));
    }
    EXPECT_FALSE(at::equal(ms.weight_scale, precise.weight_scale));
  }
}

TEST(PreciseNumerics, Fp8IsTheFp32ArithmeticAndMxIsUnchanged) {
  QScheme f8;
  f8.dtype = QDtype::Fp8E4M3;
  f8.scope = QScope::PerChannel;
  QScheme f8_act = f8;
  f8_act.scope = QScope::PerToken;
  for (const auto dtype : {at::kBFloat16, at::kHalf, at::kFloat}) {
    SCOPED_TRACE(c10::toString(dtype));
    const at::Tensor w = adversarial_weight(20, 64, dtype, 5);
    const DeployedLinear precise =
        deploy_linear("m", w, std::nullopt, f8_act, f8, std::nullopt, dtype, Numerics::Precise);
    const DeployedLinear fp32 = deploy_linear("m", w.to(at::kFloat), std::nullopt, f8_act, f8,
                                              std::nullopt, dtype, Numerics::MsModelSlim);
    EXPECT_TRUE(at::equal(precise.weight_scale, fp32.weight_scale));
    EXPECT_TRUE(at::equal(precise.weight_codes, fp32.weight_codes));
    EXPECT_TRUE(at::equal(fake_quantize_weight("m", w, f8, Numerics::Precise),
                          dequantize_weight(precise, dtype)));
  }
  QScheme mx;
  mx.dtype = QDtype::MxFp4;
  mx.scope = QScope::PerBlock;
  mx.group_size = 32;
  const at::Tensor w = adversarial_weight(8, 64, at::kBFloat16, 9);
  EXPECT_TRUE(at::equal(fake_quantize_weight("m", w, mx, Numerics::Precise),
                        fake_quantize_weight("m", w, mx, Numerics::MsModelSlim)));
}

TEST(PreciseNumerics, Names) {
  EXPECT_EQ(parse_numerics("precise"), Numerics::Precise);
  EXPECT_EQ(parse_numerics("msmodelslim"), Numerics::MsModelSlim);
  EXPECT_STREQ(numerics_name(Numerics::Precise), "precise");
  EXPECT_STREQ(numerics_name(Numerics::MsModelSlim), "msmodelslim");
  EXPECT_ERROR_WITH(parse_numerics("fp32"), "numerics", "fp32");
}

}  // namespace
}  // namespace slim::quant
