// deployed_linear_forward against a scalar fp64 reference written from the spec's formulas (loops
// over tokens, outputs and inputs) for every tag, on random and adversarial activations (zeros,
// constant rows, one huge outlier, exact ties of every rounding rule), and against the fake-
// quantized layer that quant::deploy_linear's numerics describe.
#include "slim/quant/deployed_forward.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "quant/quant_reference.h"
#include "slim/quant/numerics.h"
#include "slim/quant/observer.h"
#include "support/deployed_records.h"
#include "support/expect_error.h"

namespace slim::quant {
namespace {

using testing::qscheme;
using testing::random_linear;
using testing::RandomLinearOptions;

constexpr const char* kModule = "model.layers.0.mlp.up_proj";

// ------------------------------------------------------------------ the scalar reference

// Rounds v to `dtype` (fp64: unchanged).
double round_to(double v, at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return ref::rnd(v, ref::Prec::F32);
    case at::kBFloat16:
      return ref::rnd(v, ref::Prec::BF16);
    case at::kHalf:
      return ref::rnd(v, ref::Prec::F16);
    default:
      return v;
  }
}

// One unit in the last place of |v| in `dtype` (fp16: subnormal spacing below 2^-14).
double ulp(double v, at::ScalarType dtype) {
  const int e = v == 0 ? -1000 : static_cast<int>(std::floor(std::log2(std::fabs(v))));
  switch (dtype) {
    case at::kFloat:
      return std::ldexp(1.0, std::max(e, -126) - 23);
    case at::kBFloat16:
      return std::ldexp(1.0, std::max(e, -126) - 7);
    case at::kHalf:
      return std::ldexp(1.0, std::max(e, -14) - 10);
    default:
      return std::ldexp(1.0, std::max(e, -1022) - 52);
  }
}

struct Reference {
  std::vector<double> y;    // [T, O]
  std::vector<double> mag;  // Σ |terms| + |bias|: the scale of summation error
};

// The record's weight, exactly: (q − z)·s per channel/group, q·s (fp8), q·2^e (MX), or w.
std::vector<double> exact_weight(const DeployedLinear& r) {
  const int64_t O = r.out_features();
  const int64_t I = r.in_features();
  const std::vector<double> q = ref::values_of(r.weight_codes);
  std::vector<double> w(O * I);
  const bool mx = r.weight.dtype == QDtype::MxFp8 || r.weight.dtype == QDtype::MxFp4;
  const std::vector<double> s =
      r.weight_scale.defined() ? ref::values_of(r.weight_scale) : std::vector<double>();
  const std::vector<double> z = r.weight_offset.defined() ? ref::values_of(r.weight_offset)
                                                          : std::vector<double>(s.size(), 0.0);
  const int64_t cols = r.weight_scale.defined() ? r.weight_scale.size(1) : 1;
  for (int64_t o = 0; o < O; ++o) {
    for (int64_t k = 0; k < I; ++k) {
      const double code = q[o * I + k];
      if (r.weight.dtype == QDtype::Float) {
        w[o * I + k] = code;
      } else if (mx) {
        w[o * I + k] = std::ldexp(code, static_cast<int>(s[o * cols + k / 32]));
      } else {
        const int64_t g = k / (I / cols);
        w[o * I + k] = (code - z[o * cols + g]) * s[o * cols + g];
      }
    }
  }
  return w;
}

// y = s·Σ_k a_k·W[o,k] + b for each token, a and s the activation as the tag quantizes it.
Reference reference(const DeployedLinear& r, const at::Tensor& x2d, MixStage stage) {
  const int64_t T = x2d.size(0);
  const int64_t I = x2d.size(1);
  const int64_t O = r.out_features();
  const at::ScalarType dtype = x2d.scalar_type();
  const std::vector<double> x = ref::values_of(x2d);
  std::vector<double> w = exact_weight(r);
  const std::vector<double> bias = r.bias ? ref::values_of(*r.bias) : std::vector<double>(O, 0.0);

  enum class Act { None, Static, Int8Token, Int4Token, Fp8Token, MxFp8, MxFp4 } act = Act::None;
  switch (r.tag) {
    case DeployedTag::W8A8:
      act = Act::Static;
      break;
    case DeployedTag::W8A8Mix:
      act = stage == MixStage::Prefill ? Act::Int8Token : Act::Static;
      break;
    case DeployedTag::W8A8Dynamic:
    case DeployedTag::W4A8Dynamic:
      act = Act::Int8Token;
      break;
    case DeployedTag::W4A4Dynamic:
      act = Act::Int4Token;
      break;
    case DeployedTag::WFp8AFp8Dynamic:
      act = Act::Fp8Token;
      break;
    case DeployedTag::W8A8MxFp8:
    case DeployedTag::W4A8MxFp:
      act = Act::MxFp8;
      break;
    case DeployedTag::W4A4MxFp4:
      act = Act::MxFp4;
      break;
    default:
      act = Act::None;
  }
  if (act == Act::None && dtype != at::kDouble) {
    // Weight-only: dequantized in fp32, then rounded to the activation dtype.
    for (double& v : w)
      v = round_to(round_to(v, at::kFloat), dtype);
  }

  Reference out{std::vector<double>(T * O), std::vector<double>(T * O)};
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> row(x.begin() + t * I, x.begin() + (t + 1) * I);
    // Quantized activations are computed in fp32.
    if (act != Act::None) {
      for (double& v : row)
        v = round_to(v, at::kFloat);
    }
    double mn = 0, mx = 0;
    for (double v : row) {
      mn = std::min(mn, v);
      mx = std::max(mx, v);
    }
    std::vector<double> a(I);
    double s = 1;
    switch (act) {
      case Act::None:
        a = row;
        break;
      case Act::Static: {
        const ref::IntParam p{r.input_scale.item<double>(), r.input_offset.item<double>()};
        for (int64_t k = 0; k < I; ++k)
          a[k] = ref::int_quant(row[k], p, 8, ref::Prec::F32) - p.offset;
        s = p.scale;
        break;
      }
      case Act::Int8Token:
      case Act::Int4Token: {
        const int bits = act == Act::Int8Token ? 8 : 4;
        const ref::IntParam p = ref::int_qparam(mn, mx, bits, true, ref::Prec::F32);
        for (int64_t k = 0; k < I; ++k)
          a[k] = ref::int_quant(row[k], p, bits, ref::Prec::F32);
        s = p.scale;
        break;
      }
      case Act::Fp8Token:
        s = ref::fp8_scale(mn, mx, ref::Prec::F32);
        for (int64_t k = 0; k < I; ++k)
          a[k] = ref::fp8_quant(row[k], s, ref::Prec::F32);
        break;
      case Act::MxFp8:
      case Act::MxFp4:
        for (int64_t start = 0; start < I; start += 32) {
          const std::vector<double> block(row.begin() + start,
                                          row.begin() + std::min<int64_t>(start + 32, I));
          const ref::MxBlock b =
              act == Act::MxFp8 ? ref::mxfp8_block(block) : ref::mxfp4_block(block);
          for (size_t k = 0; k < block.size(); ++k)
            a[start + k] = std::ldexp(b.values[k], b.exponent);
        }
        break;
    }
    for (int64_t o = 0; o < O; ++o) {
      double sum = 0, abs_sum = 0;
      for (int64_t k = 0; k < I; ++k) {
        sum += a[k] * w[o * I + k];
        abs_sum += std::fabs(a[k] * w[o * I + k]);
      }
      out.y[t * O + o] = s * sum + bias[o];
      out.mag[t * O + o] = std::fabs(s) * abs_sum + std::fabs(bias[o]);
    }
  }
  return out;
}

// Compares deployed_linear_forward with the reference: the same value up to summation error
// (fp32 accumulation for weight-only tags, fp64 otherwise) and the final rounding to the dtype.
// With `product` kFloat, the quantized-activation product runs on an fp32 operand (the
// calibration forward's), whose summation error is fp32's.
void expect_matches_reference(const DeployedLinear& r, const at::Tensor& x, MixStage stage,
                              at::ScalarType product = at::kDouble) {
  const bool weight_only = r.act.is_float();
  const at::Tensor got =
      product == at::kDouble || weight_only
          ? deployed_linear_forward(r, x, stage)
          : quantized_forward(r, quantized_operand(r, x.device(), product), x, stage);
  ASSERT_EQ(got.scalar_type(), x.scalar_type());
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = r.out_features();
  ASSERT_EQ(got.sizes(), at::IntArrayRef(shape));
  const Reference want = reference(r, x.reshape({-1, x.size(-1)}), stage);
  const std::vector<double> y = ref::values_of(got);
  const bool fp32_sum = weight_only ? x.scalar_type() != at::kDouble : product == at::kFloat;
  const double relative = fp32_sum ? 5e-6 : 1e-13;
  int64_t failures = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    const double tol = relative * want.mag[i] +
                       ulp(std::max(std::fabs(want.y[i]), std::fabs(y[i])), x.scalar_type());
    if (!(std::fabs(y[i] - want.y[i]) <= tol) && failures++ < 5) {
      ADD_FAILURE() << "output " << i << " (token " << i / r.out_features() << "): got " << y[i]
                    << ", reference " << want.y[i] << ", tolerance " << tol;
    }
  }
  EXPECT_EQ(failures, 0);
}

// ------------------------------------------------------------------ records and inputs

struct TagCase {
  DeployedTag tag;
  int64_t group_size;
  bool asym;
};

std::string case_name(const TagCase& c) {
  return str(tag_name(c.tag), c.group_size ? str(" g", c.group_size) : "", c.asym ? " asym" : "");
}

const std::vector<TagCase>& every_case() {
  static const std::vector<TagCase> cases = {
      {DeployedTag::Float, 0, false},
      {DeployedTag::W16A16S, 0, false},
      {DeployedTag::W8A16, 0, false},
      {DeployedTag::W8A16, 0, true},
      {DeployedTag::W8A16, 16, true},
      {DeployedTag::W4A16, 0, false},
      {DeployedTag::W4A16, 16, true},
      {DeployedTag::W8A8, 0, false},
      {DeployedTag::W8A8, 0, true},
      {DeployedTag::W8A8Mix, 0, false},
      {DeployedTag::W8A8Dynamic, 0, false},
      {DeployedTag::W8A8Dynamic, 40, false},
      {DeployedTag::W8A8Dynamic, 16, true},
      {DeployedTag::W4A8Dynamic, 0, false},
      {DeployedTag::W4A4Dynamic, 0, true},
      {DeployedTag::W4A4Dynamic, 16, false},
      {DeployedTag::WFp8AFp8Dynamic, 0, false},
      {DeployedTag::W8A8MxFp8, 0, false},
      {DeployedTag::W4A8MxFp, 0, false},
      {DeployedTag::W4A4MxFp4, 0, false},
  };
  return cases;
}

constexpr int64_t kIn = 80;  // MX: two full blocks and a padded one

// A random record (out 6, in 80) with fp16-safe magnitudes; W8A8 activations use `input_scale`
// (offset 5 when asymmetric).
DeployedLinear make_record(const TagCase& c, float input_scale, uint64_t seed) {
  RandomLinearOptions options;
  options.out = 6;
  options.in = kIn;
  options.group_size = c.group_size;
  options.asym = c.asym;
  options.seed = seed;
  DeployedLinear r = random_linear(c.tag, kModule, options);
  if (r.weight.dtype == QDtype::MxFp8 || r.weight.dtype == QDtype::MxFp4) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed + 100);
    r.weight_scale = at::randint(-10, -4, r.weight_scale.sizes(), gen, at::kLong).to(at::kInt);
  }
  if (r.input_scale.defined()) {
    r.input_scale = at::full({1}, input_scale, at::kFloat);
    r.input_offset = at::full({1}, r.act.symmetric ? 0.0f : 5.0f, at::kFloat);
  }
  r.validate();
  return r;
}

at::Tensor random_input(int64_t tokens, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({tokens, kIn}, gen, at::kFloat);
}

// Rows that probe every rounding and range rule.
at::Tensor adversarial_input() {
  std::vector<std::vector<float>> rows;
  const auto row_of = [](auto f) {
    std::vector<float> row(kIn);
    for (int64_t k = 0; k < kIn; ++k)
      row[k] = f(k);
    return row;
  };
  rows.push_back(row_of([](int64_t) { return 0.0f; }));
  rows.push_back(row_of([](int64_t) { return 0.75f; }));
  rows.push_back(row_of([](int64_t) { return -2.0f; }));
  // One huge outlier among small values.
  rows.push_back(
      row_of([](int64_t k) { return k == 3 ? 1000.0f : 0.01f * static_cast<float>(k % 7 - 3); }));
  // int8 per token: amax 127 gives s = 1, so half-integers are ties (to even).
  rows.push_back(
      row_of([](int64_t k) { return k == 0 ? 127.0f : static_cast<float>(k % 20) - 9.5f; }));
  // int4 per token: amax 7 gives s = 1.
  rows.push_back(
      row_of([](int64_t k) { return k == 0 ? -7.0f : static_cast<float>(k % 14) - 6.5f; }));
  // W8A8 with s_x = 0.25: odd multiples of 0.125 are ties, with and without the offset 5.
  rows.push_back(row_of([](int64_t k) { return 0.125f * static_cast<float>(2 * (k % 40) - 39); }));
  // FP8 per token: amax 448 gives s = 1; midpoints of the E4M3 grid are ties (to even mantissa).
  // MXFP8: amax 256 gives e = 0; the same midpoints round half away from zero.
  const float e4m3_midpoints[] = {1.0625f, 1.1875f, 17.0f, 19.0f, 0.53125f, 2.375f, 112.0f, 3.25f};
  rows.push_back(row_of(
      [&](int64_t k) { return k == 0 ? 448.0f : (k % 2 ? -1.0f : 1.0f) * e4m3_midpoints[k % 8]; }));
  rows.push_back(row_of([&](int64_t k) {
    return k % 32 == 0 ? 256.0f : (k % 2 ? -1.0f : 1.0f) * e4m3_midpoints[k % 8];
  }));
  // MXFP4: amax 6 gives e = 0; midpoints of the E2M1 grid round half away from zero.
  const float e2m1_midpoints[] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f};
  rows.push_back(row_of([&](int64_t k) {
    return k % 32 == 0 ? 6.0f : (k % 3 ? -1.0f : 1.0f) * e2m1_midpoints[k % 7];
  }));
  // Tiny values (scales clamp at eps; MX exponents near the bottom) and a negative-only row.
  rows.push_back(row_of([](int64_t k) { return 1e-30f * static_cast<float>(k + 1); }));
  rows.push_back(row_of([](int64_t k) { return -0.5f - 0.01f * static_cast<float>(k); }));
  at::Tensor out = at::empty({static_cast<int64_t>(rows.size()), kIn}, at::kFloat);
  for (size_t r = 0; r < rows.size(); ++r) {
    out[static_cast<int64_t>(r)] = at::tensor(rows[r]);
  }
  return out;
}

const std::vector<at::ScalarType>& input_dtypes() {
  static const std::vector<at::ScalarType> dtypes = {at::kFloat, at::kBFloat16, at::kHalf,
                                                     at::kDouble};
  return dtypes;
}

// ------------------------------------------------------------------ tests

TEST(DeployedForward, EveryTagMatchesTheScalarReferenceOnRandomInputs) {
  uint64_t seed = 1;
  for (const auto& c : every_case()) {
    const DeployedLinear r = make_record(c, 0.02f, seed++);
    for (at::ScalarType dtype : input_dtypes()) {
      SCOPED_TRACE(str(case_name(c), " input ", c10::toString(dtype)));
      // [2, 5, in]: leading dims are kept.
      const at::Tensor x = random_input(10, seed).reshape({2, 5, kIn}).to(dtype);
      for (MixStage stage : {MixStage::Prefill, MixStage::Decode}) {
        expect_matches_reference(r, x, stage);
      }
    }
  }
}

TEST(DeployedForward, EveryTagMatchesTheScalarReferenceOnAdversarialInputs) {
  const at::Tensor x = adversarial_input();
  uint64_t seed = 50;
  for (const auto& c : every_case()) {
    const DeployedLinear r = make_record(c, 0.25f, seed++);
    for (at::ScalarType dtype : input_dtypes()) {
      SCOPED_TRACE(str(case_name(c), " input ", c10::toString(dtype)));
      for (MixStage stage : {MixStage::Prefill, MixStage::Decode}) {
        expect_matches_reference(r, x.to(dtype), stage);
      }
    }
  }
}

TEST(DeployedForward, TheFp32ProductMatchesTheReferenceUpToFp32Summation) {
  const at::Tensor adversarial = adversarial_input();
  uint64_t seed = 200;
  for (const auto& c : every_case()) {
    if (is_weight_only(c.tag)) continue;
    const DeployedLinear r = make_record(c, 0.25f, seed++);
    for (at::ScalarType dtype : input_dtypes()) {
      SCOPED_TRACE(str(case_name(c), " input ", c10::toString(dtype)));
      for (MixStage stage : {MixStage::Prefill, MixStage::Decode}) {
        expect_matches_reference(r, random_input(10, seed).to(dtype), stage, at::kFloat);
        expect_matches_reference(r, adversarial.to(dtype), stage, at::kFloat);
      }
    }
  }
}

TEST(DeployedForward, TiesRoundAsEachFormatSays) {
  // Hand-computed single outputs: one input element against a one-hot weight picks the
  // quantized activation out (times its scale).
  const auto one_hot = [](DeployedTag tag, int64_t k) {
    RandomLinearOptions options;
    options.out = 2;
    options.in = 32;
    options.bias = false;
    DeployedLinear r = random_linear(tag, kModule, options);
    r.weight_codes.zero_();
    if (r.weight.dtype == QDtype::Int8 || r.weight.dtype == QDtype::Int4) {
      r.weight_codes[0][k] = 1;
      r.weight_scale.fill_(1.0f);
    } else {
      r.weight_codes[0][k] = 1.0f;
      r.weight_scale.zero_();  // fp8: scale 0 is allowed; MX: exponent 0
      if (r.weight.dtype == QDtype::Fp8E4M3) r.weight_scale.fill_(1.0f);
    }
    return r;
  };
  const auto first = [](const DeployedLinear& r, std::vector<float> values) {
    const at::Tensor x = at::zeros({1, 32});
    for (size_t k = 0; k < values.size(); ++k)
      x[0][static_cast<int64_t>(k)] = values[k];
    return deployed_linear_forward(r, x)[0][0].item<double>();
  };
  // int8 per token, s = 127/127 = 1: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2.
  EXPECT_EQ(first(one_hot(DeployedTag::W8A8Dynamic, 1), {127, 2.5f}), 2.0);
  EXPECT_EQ(first(one_hot(DeployedTag::W8A8Dynamic, 1), {127, 3.5f}), 4.0);
  EXPECT_EQ(first(one_hot(DeployedTag::W8A8Dynamic, 1), {-127, -2.5f}), -2.0);
  // int4 per token, s = 1: 6.5 -> 6.
  EXPECT_EQ(first(one_hot(DeployedTag::W4A4Dynamic, 1), {7, 6.5f}), 6.0);
  // W8A8 static, s_x = 0.5, z_x = 3: x = 0.25 -> round(0.5 + 3) = 4 (even) -> (4 - 3)·0.5.
  DeployedLinear w8a8 = one_hot(DeployedTag::W8A8, 1);
  w8a8.input_scale.fill_(0.5f);
  w8a8.input_offset.fill_(3.0f);
  w8a8.act.symmetric = false;
  EXPECT_EQ(first(w8a8, {0, 0.25f}), 0.5);
  EXPECT_EQ(first(w8a8, {0, 1000.0f}), (127 - 3) * 0.5);  // clamped at 127
  // FP8 per token, s = 448/448 = 1: 1.0625 (between 1 and 1.125) -> 1 (even mantissa).
  EXPECT_EQ(first(one_hot(DeployedTag::WFp8AFp8Dynamic, 1), {448, 1.0625f}), 1.0);
  EXPECT_EQ(first(one_hot(DeployedTag::WFp8AFp8Dynamic, 1), {448, 1.1875f}), 1.25);
  // MXFP8, amax 256 -> e = 0: 1.0625 rounds half away from zero -> 1.125.
  EXPECT_EQ(first(one_hot(DeployedTag::W8A8MxFp8, 1), {256, 1.0625f}), 1.125);
  // MXFP4, amax 6 -> e = 0: 2.5 -> 3, 0.25 -> 0.5, -5 -> -6.
  EXPECT_EQ(first(one_hot(DeployedTag::W4A4MxFp4, 1), {6, 2.5f}), 3.0);
  EXPECT_EQ(first(one_hot(DeployedTag::W4A4MxFp4, 1), {6, 0.25f}), 0.5);
  EXPECT_EQ(first(one_hot(DeployedTag::W4A4MxFp4, 1), {6, -5.0f}), -6.0);
}

TEST(DeployedForward, PdMixPrefillIsPerTokenAndDecodeIsStatic) {
  const DeployedLinear mix = make_record({DeployedTag::W8A8Mix, 0, false}, 0.02f, 7);
  DeployedLinear dynamic = mix;
  dynamic.tag = DeployedTag::W8A8Dynamic;
  dynamic.act = qscheme(QDtype::Int8, QScope::PerToken);
  dynamic.input_scale = at::Tensor();
  dynamic.input_offset = at::Tensor();
  DeployedLinear stat = mix;
  stat.tag = DeployedTag::W8A8;
  stat.act = qscheme(QDtype::Int8, QScope::PerTensor, false);
  const at::Tensor x = random_input(6, 3);
  EXPECT_TRUE(at::equal(deployed_linear_forward(mix, x), deployed_linear_forward(dynamic, x)));
  EXPECT_TRUE(at::equal(deployed_linear_forward(mix, x, MixStage::Decode),
                        deployed_linear_forward(stat, x)));
  EXPECT_FALSE(at::equal(deployed_linear_forward(mix, x),
                         deployed_linear_forward(mix, x, MixStage::Decode)));
}

// deploy_linear's record run deployed equals the fake-quantized layer (activation and weight
// fake-quantized with numerics.h, fp32) up to fp32 rounding.
TEST(DeployedForward, EqualsTheFakeQuantizedLayerOfDeployLinear) {
  struct Case {
    QScheme act;
    QScheme weight;
  };
  const auto tok = [](QDtype d) { return qscheme(d, QScope::PerToken); };
  const auto ch = [](QDtype d, bool sym = true) { return qscheme(d, QScope::PerChannel, sym); };
  const auto grp = [](QDtype d, int64_t g, bool sym) {
    return qscheme(d, QScope::PerGroup, sym, g);
  };
  const auto blk = [](QDtype d) { return qscheme(d, QScope::PerBlock, true, 32); };
  const QScheme none;
  const std::vector<Case> cases = {
      {none, none},
      {none, ch(QDtype::Int8, false)},
      {none, grp(QDtype::Int8, 32, false)},
      {none, grp(QDtype::Int4, 32, true)},
      {qscheme(QDtype::Int8, QScope::PerTensor, false), ch(QDtype::Int8)},
      {qscheme(QDtype::Int8, QScope::PerTensor, true), ch(QDtype::Int8)},
      {qscheme(QDtype::Int8, QScope::PdMix, false), ch(QDtype::Int8)},
      {tok(QDtype::Int8), ch(QDtype::Int8)},
      {tok(QDtype::Int8), grp(QDtype::Int8, 48, false)},
      {tok(QDtype::Int8), ch(QDtype::Int4)},
      {tok(QDtype::Int4), ch(QDtype::Int4, false)},
      {tok(QDtype::Int4), grp(QDtype::Int4, 32, true)},
      {tok(QDtype::Fp8E4M3), ch(QDtype::Fp8E4M3)},
      {blk(QDtype::MxFp8), blk(QDtype::MxFp8)},
      {blk(QDtype::MxFp8), blk(QDtype::MxFp4)},
      {blk(QDtype::MxFp4), blk(QDtype::MxFp4)},
  };
  at::Tensor w = ref::random_matrix(16, 96, 11);
  w[0].zero_();
  w[1].fill_(0.3f);
  w[2][5] = 40.0f;
  at::Tensor x = ref::random_matrix(7, 96, 12);
  x[0].zero_();
  x[1][7] = 500.0f;
  const at::Tensor bias = at::linspace(-1, 1, 16);
  const QScheme static_act = qscheme(QDtype::Int8, QScope::PerTensor, false);
  ActPerTensorMinMaxObserver observer("x");
  observer.update(x);
  const MinMax act_mm = observer.get();

  for (at::ScalarType wdtype : {at::kFloat, at::kBFloat16}) {
    for (const auto& c : cases) {
      const DeployedTag tag = select_deployed_tag(c.act, c.weight);
      SCOPED_TRACE(str(tag_name(tag), " ", c.act.to_string(), " + ", c.weight.to_string(),
                       " weight ", c10::toString(wdtype)));
      const bool is_static = tag == DeployedTag::W8A8 || tag == DeployedTag::W8A8Mix;
      std::optional<QParams> act_params;
      if (is_static) {
        QScheme s = static_act;
        s.symmetric = c.act.symmetric;
        act_params = calculate_qparam("x", act_mm.min, act_mm.max, s);
      }
      const at::Tensor weight = w.to(wdtype);
      const DeployedLinear d =
          deploy_linear(kModule, weight, bias, c.act, c.weight, act_params, wdtype);
      const at::Tensor w_fake = fake_quantize_weight("w", weight, c.weight).to(at::kDouble);
      for (MixStage stage : {MixStage::Prefill, MixStage::Decode}) {
        at::Tensor x_fake;
        const bool per_token = c.act.scope == QScope::PerToken ||
                               (tag == DeployedTag::W8A8Mix && stage == MixStage::Prefill);
        if (c.act.is_float()) {
          x_fake = x;
        } else if (per_token) {
          const MinMax mm = act_minmax_per_token("x", x);
          const QParams p = calculate_qparam("x", mm.min, mm.max, tok(c.act.dtype));
          x_fake = fake_quantize("x", x, p);
        } else if (is_static) {
          x_fake = fake_quantize("x", x, *act_params);
        } else {
          x_fake = mx_fake_quantize("x", x, c.act.dtype);
        }
        // Weight-only tags multiply in the activation dtype: the weight rounded to it.
        const at::Tensor w_used = c.act.is_float() ? w_fake.to(at::kFloat).to(at::kDouble) : w_fake;
        const at::Tensor want = x_fake.to(at::kDouble).matmul(w_used.t()) + bias.to(at::kDouble);
        const at::Tensor mag =
            x_fake.to(at::kDouble).abs().matmul(w_used.abs().t()) + bias.to(at::kDouble).abs();
        const at::Tensor got = deployed_linear_forward(d, x, stage);
        ASSERT_EQ(got.scalar_type(), at::kFloat);
        const at::Tensor err = (got.to(at::kDouble) - want).abs();
        // fp32 weights: to fp32 rounding (fp32 GEMM for weight-only tags). bf16 weights: the
        // fake-quantized weight is (q − z)·s rounded to bf16, which a deployed linear never
        // computes (it scales the code product in fp32/fp64), so they agree to bf16 rounding.
        const double relative = wdtype == at::kBFloat16 ? 0x1p-8 : (c.act.is_float() ? 2e-6 : 3e-7);
        EXPECT_TRUE(at::all(err <= mag * relative + 1e-30).item<bool>())
            << "max error " << err.max().item<double>() << " relative to "
            << (err / (mag + 1e-30)).max().item<double>();
      }
    }
  }
}

TEST(DeployedForward, ErrorsNameTheModuleAndTag) {
  const DeployedLinear w8a8 = make_record({DeployedTag::W8A8, 0, false}, 0.02f, 1);
  const at::Tensor x = random_input(3, 1);
  // A record whose schemes deploy as another tag.
  DeployedLinear wrong = make_record({DeployedTag::W8A8Dynamic, 0, false}, 0.02f, 2);
  wrong.tag = DeployedTag::W8A8;
  EXPECT_ERROR_WITH(deployed_linear_forward(wrong, x), str("'", kModule, "'"), "(W8A8)",
                    "deploys as W8A8_DYNAMIC");
  // Static activation parameters missing.
  DeployedLinear missing = w8a8;
  missing.input_scale = at::Tensor();
  EXPECT_ERROR_WITH(deployed_linear_forward(missing, x), str("'", kModule, "'"), "(W8A8)",
                    "input_scale is missing");
  // Weight scales of the wrong shape.
  DeployedLinear bad_scale = make_record({DeployedTag::W8A16, 16, false}, 0.02f, 3);
  bad_scale.weight_scale = at::ones({6, 1});
  EXPECT_ERROR_WITH(deployed_linear_forward(bad_scale, x), str("'", kModule, "'"), "(W8A16)",
                    "weight_scale");
  // Inputs.
  EXPECT_ERROR_WITH(deployed_linear_forward(w8a8, at::ones({3, kIn - 1})), str("'", kModule, "'"),
                    "(W8A8)", "[..., 80]");
  EXPECT_ERROR_WITH(deployed_linear_forward(w8a8, at::ones({3, kIn}, at::kInt)),
                    str("'", kModule, "'"), "floating point");
  at::Tensor nan = random_input(3, 2);
  nan[1][4] = NAN;
  for (DeployedTag tag : {DeployedTag::W8A8, DeployedTag::W8A8Dynamic, DeployedTag::WFp8AFp8Dynamic,
                          DeployedTag::W8A8MxFp8}) {
    EXPECT_ERROR_WITH(deployed_linear_forward(make_record({tag, 0, false}, 0.02f, 4), nan),
                      str("'", kModule, " (input)'"), "NaN or Inf");
  }
}

TEST(DeployedForward, EmptyInputsGiveEmptyOutputs) {
  const DeployedLinear r = make_record({DeployedTag::W8A8Dynamic, 0, false}, 0.02f, 1);
  const at::Tensor y = deployed_linear_forward(r, at::zeros({0, 3, kIn}, at::kBFloat16));
  EXPECT_EQ(y.sizes(), (at::IntArrayRef{0, 3, 6}));
  EXPECT_EQ(y.scalar_type(), at::kBFloat16);
}

TEST(DeployedForward, RunsOnTheInputsDevice) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  const at::Tensor x = random_input(9, 5);
  uint64_t seed = 200;
  for (const auto& c : every_case()) {
    SCOPED_TRACE(case_name(c));
    const DeployedLinear r = make_record(c, 0.02f, seed++);
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      const at::Tensor cpu = deployed_linear_forward(r, x.to(dtype));
      const at::Tensor cuda = deployed_linear_forward(r, x.to(dtype).cuda());
      ASSERT_TRUE(cuda.is_cuda());
      // Same codes; only the GEMM's summation order differs.
      const double scale = cpu.to(at::kDouble).abs().max().item<double>() + 1e-30;
      const double tol = dtype == at::kFloat ? 1e-5 : 1e-2;
      EXPECT_LE((cuda.cpu().to(at::kDouble) - cpu.to(at::kDouble)).abs().max().item<double>(),
                tol * scale)
          << c10::toString(dtype);
    }
  }
}

}  // namespace
}  // namespace slim::quant
