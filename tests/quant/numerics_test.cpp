// Quantization kernels against the scalar fp64 reference (quant_reference.h) and hand-computed
// examples from the spec.
#include "slim/quant/numerics.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "quant/quant_reference.h"
#include "slim/quant/observer.h"
#include "support/expect_error.h"

namespace slim::quant {
namespace {

using ref::Prec;

QScheme scheme(QDtype dtype, QScope scope, bool symmetric = true, int64_t group_size = 0) {
  QScheme out;
  out.dtype = dtype;
  out.scope = scope;
  out.symmetric = symmetric;
  out.group_size = group_size;
  return out;
}

// Rows that break naive kernels, appended to random ones: all zeros, constant positive, constant
// negative, one huge outlier, denormals only, denormals next to normal values, mixed signs of one
// magnitude.
at::Tensor adversarial_matrix(int64_t cols, uint32_t seed) {
  at::Tensor w = ref::random_matrix(12, cols, seed);
  w[0].zero_();
  w[1].fill_(0.75f);
  w[2].fill_(-3.0f);
  w[3][cols / 2] = 6.0e4f;
  w[4].fill_(1e-40f);  // fp32 denormal (bf16 keeps it as a denormal too)
  w[4][1] = -3e-39f;
  w[5][0] = 1e-41f;
  w[5][cols - 1] = -2e-39f;
  for (int64_t c = 0; c < cols; ++c)
    w[6][c] = (c % 2 ? -1.0f : 1.0f) * 0.125f;
  w[7].zero_();
  w[7][0] = -1e-3f;  // only a negative value: asym max' = 0
  return w;
}

struct IntCase {
  QDtype dtype;
  QScope scope;
  bool symmetric;
  int64_t group;
};

std::string describe(const IntCase& c, Prec p) {
  return str(scheme(c.dtype, c.scope, c.symmetric, c.group).to_string(), " ",
             c10::toString(ref::scalar_type(p)));
}

// Checks scales, offsets, codes and fake-quantized values of one weight against the reference.
void check_int_weight(const at::Tensor& w32, const IntCase& c, Prec p) {
  SCOPED_TRACE(describe(c, p));
  const at::Tensor w = w32.to(ref::scalar_type(p));
  const QScheme s = scheme(c.dtype, c.scope, c.symmetric, c.group);
  const MinMax mm = c.scope == QScope::PerGroup ? weight_minmax_per_group("w", w, c.group)
                                                : weight_minmax_per_channel("w", w);
  const QParams params = calculate_qparam("w", mm.min, mm.max, s);
  EXPECT_EQ(params.scale.scalar_type(), w.scalar_type());
  const at::Tensor codes = quantize("w", w, params);
  ASSERT_EQ(codes.scalar_type(), at::kChar);
  ASSERT_EQ(codes.sizes(), w.sizes());
  const at::Tensor fq = fake_quantize("w", w, params);
  ASSERT_EQ(fq.scalar_type(), w.scalar_type());

  const int bits = c.dtype == QDtype::Int8 ? 8 : 4;
  const int64_t rows = w.size(0);
  const int64_t cols = w.size(1);
  const int64_t g = c.scope == QScope::PerGroup ? c.group : cols;
  const auto x = ref::values_of(w);
  const auto got_codes = ref::values_of(codes);
  const auto got_fq = ref::values_of(fq);
  const auto got_scale = ref::values_of(params.scale);
  const auto got_offset = ref::values_of(params.offset);
  int mismatches = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g0 = 0; g0 < cols; g0 += g) {
      double mn = x[r * cols + g0];
      double mx = mn;
      for (int64_t k = g0; k < g0 + g; ++k) {
        mn = std::min(mn, x[r * cols + k]);
        mx = std::max(mx, x[r * cols + k]);
      }
      const ref::IntParam q = ref::int_qparam(mn, mx, bits, c.symmetric, p);
      const int64_t pi = r * (cols / g) + g0 / g;
      EXPECT_EQ(got_scale[pi], q.scale) << "row " << r << " group " << g0 / g;
      EXPECT_EQ(got_offset[pi], q.offset) << "row " << r << " group " << g0 / g;
      for (int64_t k = g0; k < g0 + g; ++k) {
        const double code = ref::int_quant(x[r * cols + k], q, bits, p);
        const double deq = ref::int_dequant(code, q, p);
        if (got_codes[r * cols + k] != code || got_fq[r * cols + k] != deq) {
          if (++mismatches <= 5) {
            ADD_FAILURE() << "[" << r << ", " << k << "] x=" << x[r * cols + k] << " code "
                          << got_codes[r * cols + k] << " vs " << code << ", fake "
                          << got_fq[r * cols + k] << " vs " << deq;
          }
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(QuantNumerics, IntegerWeightsMatchTheScalarReference) {
  const at::Tensor random = ref::random_matrix(48, 256, 7);
  const at::Tensor adversarial = adversarial_matrix(256, 11);
  const std::vector<IntCase> cases = {
      {QDtype::Int8, QScope::PerChannel, true, 0},  {QDtype::Int8, QScope::PerChannel, false, 0},
      {QDtype::Int4, QScope::PerChannel, true, 0},  {QDtype::Int4, QScope::PerChannel, false, 0},
      {QDtype::Int8, QScope::PerGroup, true, 32},   {QDtype::Int8, QScope::PerGroup, false, 128},
      {QDtype::Int4, QScope::PerGroup, true, 128},  {QDtype::Int4, QScope::PerGroup, false, 64},
      {QDtype::Int4, QScope::PerGroup, false, 256}, {QDtype::Int8, QScope::PerGroup, true, 1},
  };
  for (Prec p : {Prec::F32, Prec::BF16, Prec::F16}) {
    for (const auto& c : cases) {
      check_int_weight(random, c, p);
      check_int_weight(adversarial, c, p);
    }
  }
}

TEST(QuantNumerics, FusedAndBroadcastKernelsAgree) {
  // Per-channel parameters [O, 1] take the fused row kernel; the same parameters expanded to
  // [O, I] take the ATen broadcast path. Both must give the same codes, NaN checks included.
  const at::Tensor w32 = at::cat({ref::random_matrix(16, 96, 61), adversarial_matrix(96, 67)});
  for (at::ScalarType st : {at::kFloat, at::kBFloat16, at::kHalf}) {
    for (QDtype dtype : {QDtype::Int8, QDtype::Int4}) {
      for (bool sym : {true, false}) {
        const at::Tensor w = w32.to(st);
        const MinMax mm = weight_minmax_per_channel("w", w);
        const QParams rows =
            calculate_qparam("w", mm.min, mm.max, scheme(dtype, QScope::PerChannel, sym));
        const QParams full{rows.scheme, rows.scale.expand(w.sizes()).contiguous(),
                           rows.offset.expand(w.sizes()).contiguous()};
        EXPECT_TRUE(at::equal(quantize("w", w, rows), quantize("w", w, full)))
            << c10::toString(st) << " " << rows.scheme.to_string();
        at::Tensor bad = w.clone();
        bad[3][7] = std::numeric_limits<float>::infinity();
        EXPECT_ERROR_WITH(quantize("bad.weight", bad, rows), "'bad.weight'", "NaN or Inf");
        EXPECT_ERROR_WITH(quantize("bad.weight", bad, full), "'bad.weight'", "NaN or Inf");
      }
    }
  }
}

TEST(QuantNumerics, RoundsHalfToEven) {
  // Symmetric int8 with max 127: scale is exactly 1, so x/scale is x and ties are exact.
  const at::Tensor w =
      at::tensor({127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.5f, -126.5f, 125.5f})
          .reshape({1, -1});
  for (Prec p : {Prec::F32, Prec::BF16}) {
    const at::Tensor x = w.to(ref::scalar_type(p));
    const MinMax mm = weight_minmax_per_channel("w", x);
    const QParams params =
        calculate_qparam("w", mm.min, mm.max, scheme(QDtype::Int8, QScope::PerChannel));
    EXPECT_EQ(params.scale.item<double>(), 1.0);
    const auto codes = ref::values_of(quantize("w", x, params));
    const std::vector<double> expected = {127, 0, 2, 2, -0, -2, -2, 4, -126, 126};
    EXPECT_EQ(codes, expected);
  }
}

TEST(QuantNumerics, AsymmetricHandExample) {
  // min −1, max 3, int8 asym in fp32: scale = 3/255 − (−1/255) = 4/255 (rounded per operation),
  // offset = round(1/scale) − 128 = round(63.75) − 128 = −64.
  const at::Tensor w = at::tensor({-1.0f, 3.0f, 0.0f, 1.0f}).reshape({1, 4});
  const MinMax mm = weight_minmax_per_channel("w", w);
  const QParams params =
      calculate_qparam("w", mm.min, mm.max, scheme(QDtype::Int8, QScope::PerChannel, false));
  const float expected_scale = 3.0f / 255.0f - (-1.0f / 255.0f);
  EXPECT_EQ(params.scale.item<float>(), expected_scale);
  EXPECT_EQ(params.offset.item<float>(), -64.0f);
  const auto codes = ref::values_of(quantize("w", w, params));
  // −1/s − 64 = −127.75 → −128; 3/s − 64 = 127.25 → 127; 0 → −64; 1/s − 64 = −0.25 → −0.
  EXPECT_EQ(codes, (std::vector<double>{-128, 127, -64, 0}));
}

TEST(QuantNumerics, ZeroRowGetsEpsScaleAndZeroCodes) {
  const at::Tensor w = at::zeros({2, 8}, at::kBFloat16);
  for (bool sym : {true, false}) {
    const MinMax mm = weight_minmax_per_channel("w", w);
    const QParams params =
        calculate_qparam("w", mm.min, mm.max, scheme(QDtype::Int4, QScope::PerChannel, sym));
    EXPECT_EQ(params.scale[0][0].item<double>(), std::ldexp(1.0, -23));
    EXPECT_EQ(params.offset[0][0].item<double>(), sym ? 0.0 : -8.0);
    EXPECT_TRUE(at::equal(fake_quantize("w", w, params), w));
  }
}

TEST(QuantNumerics, ActivationScopesMatchTheReference) {
  // x [2, 5, 64]: per-token (dynamic), per-channel and per-tensor, int8 sym/asym and int4.
  const at::Tensor x32 = ref::random_matrix(10, 64, 3).reshape({2, 5, 64});
  for (Prec p : {Prec::F32, Prec::BF16, Prec::F16}) {
    const at::Tensor x = x32.to(ref::scalar_type(p));
    const auto xv = ref::values_of(x);
    for (bool sym : {true, false}) {
      for (QDtype dtype : {QDtype::Int8, QDtype::Int4}) {
        const int bits = dtype == QDtype::Int8 ? 8 : 4;
        {  // per token
          const MinMax mm = act_minmax_per_token("x", x);
          ASSERT_EQ(mm.min.sizes(), (at::IntArrayRef{2, 5, 1}));
          const QParams params =
              calculate_qparam("x", mm.min, mm.max, scheme(dtype, QScope::PerToken, sym));
          const auto fq = ref::values_of(fake_quantize("x", x, params));
          for (int64_t t = 0; t < 10; ++t) {
            double mn = xv[t * 64], mx = xv[t * 64];
            for (int64_t c = 0; c < 64; ++c) {
              mn = std::min(mn, xv[t * 64 + c]);
              mx = std::max(mx, xv[t * 64 + c]);
            }
            const auto q = ref::int_qparam(mn, mx, bits, sym, p);
            for (int64_t c = 0; c < 64; ++c) {
              const double v = xv[t * 64 + c];
              ASSERT_EQ(fq[t * 64 + c], ref::int_dequant(ref::int_quant(v, q, bits, p), q, p))
                  << "token " << t << " channel " << c;
            }
          }
        }
        {  // per channel
          const MinMax mm = act_minmax_per_channel("x", x);
          ASSERT_EQ(mm.min.sizes(), (at::IntArrayRef{64}));
          const QParams params =
              calculate_qparam("x", mm.min, mm.max, scheme(dtype, QScope::PerChannel, sym));
          const auto fq = ref::values_of(fake_quantize("x", x, params));
          for (int64_t c = 0; c < 64; ++c) {
            double mn = xv[c], mx = xv[c];
            for (int64_t t = 0; t < 10; ++t) {
              mn = std::min(mn, xv[t * 64 + c]);
              mx = std::max(mx, xv[t * 64 + c]);
            }
            const auto q = ref::int_qparam(mn, mx, bits, sym, p);
            for (int64_t t = 0; t < 10; ++t) {
              ASSERT_EQ(fq[t * 64 + c],
                        ref::int_dequant(ref::int_quant(xv[t * 64 + c], q, bits, p), q, p));
            }
          }
        }
        {  // per tensor
          const MinMax mm = minmax_per_tensor("x", x);
          ASSERT_EQ(mm.min.sizes(), (at::IntArrayRef{1}));
          const QParams params =
              calculate_qparam("x", mm.min, mm.max, scheme(dtype, QScope::PerTensor, sym));
          const auto fq = ref::values_of(fake_quantize("x", x, params));
          const auto q = ref::int_qparam(*std::min_element(xv.begin(), xv.end()),
                                         *std::max_element(xv.begin(), xv.end()), bits, sym, p);
          for (size_t i = 0; i < xv.size(); ++i) {
            ASSERT_EQ(fq[i], ref::int_dequant(ref::int_quant(xv[i], q, bits, p), q, p));
          }
        }
      }
    }
  }
}

TEST(QuantNumerics, PerHeadActivations) {
  // x [B=2, H=3, S=4, D=8]: one parameter per head.
  const at::Tensor x = ref::random_matrix(24, 8, 5).reshape({2, 3, 4, 8});
  const MinMax mm = act_minmax_per_head("x", x);
  ASSERT_EQ(mm.min.sizes(), (at::IntArrayRef{3, 1, 1}));
  const QParams params =
      calculate_qparam("x", mm.min, mm.max, scheme(QDtype::Int8, QScope::PerHead));
  const auto fq = ref::values_of(fake_quantize("x", x, params));
  const auto xv = ref::values_of(x);
  for (int64_t h = 0; h < 3; ++h) {
    double amax = 0;
    for (int64_t b = 0; b < 2; ++b) {
      for (int64_t i = 0; i < 32; ++i)
        amax = std::max(amax, std::fabs(xv[(b * 3 + h) * 32 + i]));
    }
    double mn = 0, mx = 0;
    for (int64_t b = 0; b < 2; ++b) {
      for (int64_t i = 0; i < 32; ++i) {
        mn = std::min(mn, xv[(b * 3 + h) * 32 + i]);
        mx = std::max(mx, xv[(b * 3 + h) * 32 + i]);
      }
    }
    const auto q = ref::int_qparam(mn, mx, 8, true, Prec::F32);
    EXPECT_EQ(params.scale[h].item<double>(), q.scale);
    for (int64_t b = 0; b < 2; ++b) {
      for (int64_t i = 0; i < 32; ++i) {
        const int64_t at = (b * 3 + h) * 32 + i;
        ASSERT_EQ(fq[at], ref::int_dequant(ref::int_quant(xv[at], q, 8, Prec::F32), q, Prec::F32));
      }
    }
  }
}

// ------------------------------------------------------------------ FP8

TEST(QuantNumerics, E4M3RoundingMatchesExhaustiveNearest) {
  std::vector<float> values = {0.0f,          -0.0f,    448.0f,    -448.0f, 449.0f,    463.9f,
                               464.0f,        1000.0f,  -1e6f,     1.0625f, 1.1875f,   -1.0625f,
                               0x1p-10f,      0x3p-10f, -0x1p-10f, 0x1p-9f, 0x1.8p-7f, 0x1.2p-6f,
                               1e-30f,        1e-40f,   240.0f,    248.0f,  232.0f,    15.5f,
                               0.0146484375f, 3.4e38f};
  std::mt19937 gen(17);
  std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-14, 10);
  for (int i = 0; i < 20000; ++i)
    values.push_back(std::ldexp(mant(gen), exponent(gen)));
  // Every midpoint between neighbouring grid values (ties to even).
  const auto& grid = ref::e4m3_grid();
  for (size_t i = 0; i + 1 < grid.size(); ++i) {
    values.push_back(static_cast<float>((grid[i].value + grid[i + 1].value) / 2));
    values.push_back(static_cast<float>(-(grid[i].value + grid[i + 1].value) / 2));
  }
  const at::Tensor got = round_to_e4m3(at::tensor(values));
  ASSERT_EQ(got.scalar_type(), at::kFloat);
  const auto g = ref::values_of(got);
  for (size_t i = 0; i < values.size(); ++i) {
    const double want = ref::e4m3_nearest(values[i]);
    ASSERT_EQ(g[i], want) << "x = " << values[i];
    ASSERT_EQ(std::signbit(g[i]), std::signbit(want)) << "x = " << values[i];
  }
  // Hand-checked ties: 1.0625 → 1 (mantissa 0), 1.1875 → 1.25, 2^-10 → 0, 3·2^-10 → 2^-8.
  EXPECT_EQ(g[9], 1.0);
  EXPECT_EQ(g[10], 1.25);
  EXPECT_EQ(g[12], 0.0);
  EXPECT_EQ(g[13], std::ldexp(1.0, -8));
  EXPECT_EQ(g[4], 448.0);  // saturation
  EXPECT_EQ(g[7], 448.0);
  EXPECT_EQ(g[8], -448.0);
}

TEST(QuantNumerics, E4M3BytesRoundTripEveryCode) {
  std::vector<uint8_t> all(256);
  for (int b = 0; b < 256; ++b)
    all[b] = static_cast<uint8_t>(b);
  const at::Tensor bytes = at::from_blob(all.data(), {256}, at::kByte).clone();
  const at::Tensor values = e4m3_from_bytes(bytes);
  const auto v = ref::values_of(values);
  EXPECT_TRUE(std::isnan(v[0x7F]));
  EXPECT_TRUE(std::isnan(v[0xFF]));
  EXPECT_EQ(v[0x7E], 448.0);
  EXPECT_EQ(v[0xFE], -448.0);
  EXPECT_EQ(v[0x38], 1.0);
  EXPECT_EQ(v[0x01], std::ldexp(1.0, -9));
  EXPECT_EQ(v[0x08], std::ldexp(1.0, -6));
  EXPECT_TRUE(v[0x80] == 0.0 && std::signbit(v[0x80]));
  // Every non-NaN code encodes back to itself.
  const at::Tensor finite = at::cat({values.slice(0, 0, 0x7F), values.slice(0, 0x80, 0xFF)});
  const at::Tensor codes = at::cat({bytes.slice(0, 0, 0x7F), bytes.slice(0, 0x80, 0xFF)});
  EXPECT_TRUE(at::equal(e4m3_to_bytes("v", finite), codes));
  EXPECT_ERROR_WITH(e4m3_to_bytes("layer.weight", at::tensor({1.0f, 1.1f})), "'layer.weight'",
                    "element 1", "not an E4M3 value");
  EXPECT_ERROR_WITH(e4m3_to_bytes("w", at::tensor({480.0f})), "not an E4M3 value");
}

TEST(QuantNumerics, Fp8PerChannelMatchesTheReference) {
  const at::Tensor w32 = at::cat({ref::random_matrix(24, 96, 23), adversarial_matrix(96, 29)});
  for (Prec input : {Prec::F32, Prec::BF16, Prec::F16}) {
    SCOPED_TRACE(c10::toString(ref::scalar_type(input)));
    // fp16 FP8 scales are computed in fp32 (fp16 would underflow amax/448 to zero).
    const Prec p = input == Prec::F16 ? Prec::F32 : input;
    const at::Tensor w = w32.to(ref::scalar_type(input));
    const MinMax mm = weight_minmax_per_channel("w", w);
    const QParams params =
        calculate_qparam("w", mm.min, mm.max, scheme(QDtype::Fp8E4M3, QScope::PerChannel));
    const at::Tensor codes = quantize("w", w, params);
    ASSERT_EQ(codes.scalar_type(), at::kFloat);
    const auto x = ref::values_of(w);
    const auto c = ref::values_of(codes);
    const auto fq = ref::values_of(fake_quantize("w", w, params));
    const auto sc = ref::values_of(params.scale);
    const int64_t cols = w.size(1);
    for (int64_t r = 0; r < w.size(0); ++r) {
      double mn = x[r * cols], mx = x[r * cols];
      for (int64_t k = 0; k < cols; ++k) {
        mn = std::min(mn, x[r * cols + k]);
        mx = std::max(mx, x[r * cols + k]);
      }
      const double s = ref::fp8_scale(mn, mx, p);
      ASSERT_EQ(sc[r], s) << "row " << r;
      for (int64_t k = 0; k < cols; ++k) {
        const double q = ref::fp8_quant(x[r * cols + k], s, p);
        ASSERT_EQ(c[r * cols + k], q) << "[" << r << ", " << k << "]";
        ASSERT_EQ(fq[r * cols + k], ref::rnd(q * s, input));
      }
    }
    // The row maximum lands on ±448.
    EXPECT_EQ(codes.abs().amax().item<double>(), 448.0);
    EXPECT_NO_THROW(e4m3_to_bytes("w", codes));
  }
}

// ------------------------------------------------------------------ MX

void check_mx(const at::Tensor& x, QDtype dtype) {
  SCOPED_TRACE(str(qdtype_name(dtype), " ", c10::toString(x.scalar_type()), " shape [", x.size(0),
                   ", ", x.size(1), "]"));
  const MxQuantized q = mx_quantize("x", x, dtype);
  const int64_t rows = x.size(0);
  const int64_t cols = x.size(1);
  const int64_t blocks = (cols + 31) / 32;
  ASSERT_EQ(q.values.sizes(), x.sizes());
  ASSERT_EQ(q.values.scalar_type(), at::kFloat);
  ASSERT_EQ(q.exponents.sizes(), (at::IntArrayRef{rows, blocks}));
  ASSERT_EQ(q.exponents.scalar_type(), at::kInt);
  // The public exponent helpers agree with the fused kernel.
  EXPECT_TRUE(
      at::equal(mx_shared_exponents(mx_block_amax("x", x), dtype).clamp_min(-127), q.exponents));
  const auto xv = ref::values_of(x);
  const auto values = ref::values_of(q.values);
  const auto exps = ref::values_of(q.exponents);
  const auto fq = ref::values_of(mx_fake_quantize("x", x, dtype));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < blocks; ++b) {
      std::vector<double> block;
      for (int64_t k = b * 32; k < std::min(cols, b * 32 + 32); ++k)
        block.push_back(xv[r * cols + k]);
      const ref::MxBlock want =
          dtype == QDtype::MxFp8 ? ref::mxfp8_block(block) : ref::mxfp4_block(block);
      ASSERT_EQ(exps[r * blocks + b], want.exponent) << "row " << r << " block " << b;
      for (size_t i = 0; i < block.size(); ++i) {
        const int64_t at = r * cols + b * 32 + static_cast<int64_t>(i);
        ASSERT_EQ(values[at], want.values[i]) << "[" << r << ", " << at % cols << "] x=" << xv[at];
        const double deq = want.values[i] * std::ldexp(1.0, want.exponent);
        ASSERT_EQ(fq[at],
                  x.scalar_type() == at::kFloat ? static_cast<float>(deq) : ref::to_bf16(deq));
      }
    }
  }
}

TEST(QuantNumerics, MxMatchesTheReference) {
  // 100 columns: three full blocks and a padded one of 4.
  const at::Tensor random = ref::random_matrix(32, 100, 41);
  const at::Tensor adversarial = adversarial_matrix(100, 43);
  at::Tensor tiny = ref::random_matrix(4, 64, 47).mul(1e-37);  // exponents near −127
  tiny[1].fill_(1e-45f);                                       // the smallest denormal
  for (QDtype dtype : {QDtype::MxFp8, QDtype::MxFp4}) {
    for (at::ScalarType st : {at::kFloat, at::kBFloat16}) {
      check_mx(random.to(st), dtype);
      check_mx(adversarial.to(st), dtype);
    }
    check_mx(tiny, dtype);
  }
}

TEST(QuantNumerics, Mxfp4HandExampleOnTheE2M1Grid) {
  // Block amax 6 → e = floor(log2(6/0.875 + 9.6e-7)) − 2 = 0, so elements quantize directly;
  // ties round half away from zero (floor(y + 0.5)).
  std::vector<float> row = {6.0f,  0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f,
                            -5.0f, -0.2f, 0.5f,  1.0f,  1.5f,  2.0f, 3.0f, 4.0f};
  row.resize(32, 0.0f);
  const MxQuantized q = mx_quantize("x", at::tensor(row).reshape({1, 32}), QDtype::MxFp4);
  EXPECT_EQ(q.exponents.item<int>(), 0);
  const auto v = ref::values_of(q.values);
  const std::vector<double> expected = {6, 0.5, 1, 1.5, 2, 3, 4, 6, -6, -0.0, 0.5, 1, 1.5, 2, 3, 4};
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(v[i], expected[i]) << "element " << i;
  EXPECT_TRUE(std::signbit(v[9]));  // −0.2 → −0 (sign kept, nibble 8)
  // A value beyond 6·2^e saturates at 6: amax 7 → e = floor(log2(8.0000..)) − 2 = 1, 7/2 → 4·2.
  const MxQuantized q2 = mx_quantize("x", at::tensor({7.0f, 0.6f}).reshape({1, 2}), QDtype::MxFp4);
  EXPECT_EQ(q2.exponents.item<int>(), 1);
  EXPECT_EQ(q2.values[0][0].item<float>(), 4.0f);
  EXPECT_EQ(q2.values[0][1].item<float>(), 0.5f);  // 0.3 → m = floor(0.6 + 0.5) = 1 → 0.5
}

TEST(QuantNumerics, Mxfp8HandExample) {
  // amax 1 → e = 0 − 8 = −8: y = x·256. 1 → 256 (on the grid); 0.5 + 1/512 → y = 128.5,
  // p = 7, 128.5/16 = 8.03 → 8 → 128, then ·2^−8 = 0.5.
  const MxQuantized q = mx_quantize(
      "x", at::tensor({1.0f, 0.5f + 1.0f / 512, -0.75f, 0.0f}).reshape({1, 4}), QDtype::MxFp8);
  EXPECT_EQ(q.exponents.item<int>(), -8);
  EXPECT_EQ(q.values[0][0].item<float>(), 256.0f);
  EXPECT_EQ(q.values[0][1].item<float>(), 128.0f);
  EXPECT_EQ(q.values[0][2].item<float>(), -192.0f);
  EXPECT_EQ(q.values[0][3].item<float>(), 0.0f);
  // All-zero block: e clamps to −127, values 0.
  const MxQuantized z = mx_quantize("x", at::zeros({2, 40}), QDtype::MxFp8);
  EXPECT_TRUE(at::equal(z.exponents, at::full({2, 2}, -127, at::kInt)));
  EXPECT_TRUE(at::equal(z.values, at::zeros({2, 40})));
  // A block whose amax needs saturation: 255 → e = 7 − 8 = −1, y = 510 → 512 → clamp 448.
  const MxQuantized s = mx_quantize("x", at::tensor({255.0f}).reshape({1, 1}), QDtype::MxFp8);
  EXPECT_EQ(s.exponents.item<int>(), -1);
  EXPECT_EQ(s.values.item<float>(), 448.0f);
}

TEST(QuantNumerics, Mxfp4ExponentFloorComesFromTheEpsilon) {
  // The 9.6e−7 inside log2 bounds e below: an all-zero (or tiny) block gets
  // e = floor(log2(9.6e−7)) − 2 = −22, never the −127 clip, and its values are zeros.
  const MxQuantized z = mx_quantize("x", at::zeros({1, 32}), QDtype::MxFp4);
  EXPECT_EQ(z.exponents.item<int>(), -22);
  EXPECT_TRUE(at::equal(z.values, at::zeros({1, 32})));
  const MxQuantized t = mx_quantize("x", at::full({1, 32}, 1e-30f), QDtype::MxFp4);
  EXPECT_EQ(t.exponents.item<int>(), -22);
  EXPECT_TRUE(at::equal(t.values, at::zeros({1, 32})));
}

// ------------------------------------------------------------------ packing

TEST(QuantNumerics, Int4PackingAlongTheOutputAxis) {
  // codes [4, 3]; packed[j, i] = (codes[2j+1, i] << 4) | (codes[2j, i] & 0x0F).
  const at::Tensor codes =
      at::tensor({1, -8, 7, 2, 3, -1, -2, 0, 5, -7, 6, -3}, at::kChar).reshape({4, 3});
  const at::Tensor packed = pack_int4_along_out("w", codes);
  ASSERT_EQ(packed.scalar_type(), at::kChar);
  ASSERT_EQ(packed.sizes(), (at::IntArrayRef{2, 3}));
  // [0, i] = (row1 << 4) | (row0 & 0xF): 0x21, 0x38, 0xF7; [1, i] = (row3 << 4) | (row2 & 0xF):
  // 0x9E, 0x60, 0xD5 (as int8).
  const std::vector<int> want = {33, 56, -9, -98, 96, -43};
  const at::Tensor flat = packed.reshape({-1}).to(at::kInt);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(flat[i].item<int>(), want[i]) << "byte " << i;
  EXPECT_TRUE(at::equal(unpack_int4_along_out(packed), codes));

  const at::Tensor random = at::randint(-8, 8, {64, 48}, at::kChar);
  EXPECT_TRUE(at::equal(unpack_int4_along_out(pack_int4_along_out("w", random)), random));
  EXPECT_ERROR_WITH(pack_int4_along_out("m.weight", at::zeros({3, 4}, at::kChar)), "'m.weight'",
                    "output dim must be even", "3");
  EXPECT_ERROR_WITH(pack_int4_along_out("m.weight", at::full({2, 2}, 8, at::kChar)), "[-8, 7]");
}

TEST(QuantNumerics, E2M1PackingLowNibbleFirst) {
  // codes: 0.5 → 1, −6 → 8|7 = 15, 3 → 5, −0 → 8, 1.5 → 3, 4 → 6.
  const at::Tensor v = at::tensor({0.5f, -6.0f, 3.0f, -0.0f, 1.5f, 4.0f}).reshape({1, 6});
  const at::Tensor packed = pack_e2m1("w", v);
  ASSERT_EQ(packed.scalar_type(), at::kByte);
  ASSERT_EQ(packed.sizes(), (at::IntArrayRef{1, 3}));
  EXPECT_EQ(packed[0][0].item<int>(), 0xF1);
  EXPECT_EQ(packed[0][1].item<int>(), 0x85);
  EXPECT_EQ(packed[0][2].item<int>(), 0x63);
  const at::Tensor back = unpack_e2m1(packed);
  EXPECT_TRUE(at::equal(back, v));
  EXPECT_TRUE(std::signbit(back[0][3].item<float>()));
  // Every code round-trips.
  std::vector<uint8_t> all(256);
  for (int b = 0; b < 256; ++b)
    all[b] = static_cast<uint8_t>(b);
  const at::Tensor bytes = at::from_blob(all.data(), {16, 16}, at::kByte).clone();
  EXPECT_TRUE(at::equal(pack_e2m1("w", unpack_e2m1(bytes)), bytes));
  EXPECT_ERROR_WITH(pack_e2m1("m.weight", at::tensor({0.5f, 2.5f}).reshape({1, 2})), "'m.weight'",
                    "[0, 1] = 2.5", "not an E2M1 value");
  EXPECT_ERROR_WITH(pack_e2m1("m.weight", at::zeros({2, 3})), "must be even", "3");
}

// ------------------------------------------------------------------ errors

TEST(QuantNumerics, NanOrInfIsAnErrorNamingTheTensor) {
  at::Tensor w = ref::random_matrix(4, 64, 1);
  w[2][5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_ERROR_WITH(weight_minmax_per_channel("layers.0.q_proj.weight", w),
                    "'layers.0.q_proj.weight'", "NaN or Inf");
  EXPECT_ERROR_WITH(weight_minmax_per_group("layers.0.q_proj.weight", w, 32),
                    "'layers.0.q_proj.weight'", "NaN or Inf");
  for (at::ScalarType st : {at::kBFloat16, at::kHalf}) {
    at::Tensor inf = ref::random_matrix(4, 64, 1).to(st);
    inf[3][63] = -std::numeric_limits<float>::infinity();
    EXPECT_ERROR_WITH(weight_minmax_per_channel("layers.1.o_proj.weight", inf),
                      "'layers.1.o_proj.weight'", "NaN or Inf");
    EXPECT_ERROR_WITH(weight_minmax_per_group("layers.1.o_proj.weight", inf, 16),
                      "'layers.1.o_proj.weight'", "NaN or Inf");
  }
  EXPECT_ERROR_WITH(mx_quantize("layers.0.q_proj.weight", w, QDtype::MxFp4),
                    "'layers.0.q_proj.weight'", "NaN or Inf");
  EXPECT_ERROR_WITH(
      deploy_linear("layers.0.q_proj", w, std::nullopt, QScheme{},
                    scheme(QDtype::Int8, QScope::PerChannel), std::nullopt, at::kBFloat16),
      "'layers.0.q_proj.weight'", "NaN or Inf");
  at::Tensor x = ref::random_matrix(3, 16, 2);
  x[1][1] = -std::numeric_limits<float>::infinity();
  EXPECT_ERROR_WITH(act_minmax_per_token("layers.0.act", x), "'layers.0.act'", "NaN or Inf");
  EXPECT_ERROR_WITH(act_minmax_per_channel("layers.0.act", x), "'layers.0.act'", "NaN or Inf");
  // A static scale applied to an activation with Inf.
  const QParams params{scheme(QDtype::Int8, QScope::PerTensor), at::ones({1}), at::zeros({1})};
  EXPECT_ERROR_WITH(quantize("layers.0.act", x, params), "'layers.0.act'", "NaN or Inf");
  EXPECT_ERROR_WITH(calculate_qparam("s", at::full({1}, NAN), at::ones({1}),
                                     scheme(QDtype::Int8, QScope::PerTensor)),
                    "'s'", "NaN or Inf");
}

TEST(QuantNumerics, GroupSizeMustDivideTheInputDim) {
  const at::Tensor w = ref::random_matrix(4, 96, 1);
  EXPECT_ERROR_WITH(weight_minmax_per_group("mlp.down_proj.weight", w, 64),
                    "'mlp.down_proj.weight'", "group size 64", "input dim 96");
  EXPECT_ERROR_WITH(
      deploy_linear("mlp.down_proj", w, std::nullopt, QScheme{},
                    scheme(QDtype::Int4, QScope::PerGroup, true, 128), std::nullopt, at::kBFloat16),
      "'mlp.down_proj.weight'", "group size 128", "input dim 96");
  const QParams params{scheme(QDtype::Int8, QScope::PerGroup, true, 40), at::ones({4, 2}),
                       at::zeros({4, 2})};
  EXPECT_ERROR_WITH(quantize("x", w, params), "group size 40", "input dim 96");
  const QParams wrong_shape{scheme(QDtype::Int8, QScope::PerGroup, true, 32), at::ones({4, 2}),
                            at::zeros({4, 2})};
  EXPECT_ERROR_WITH(quantize("x", w, wrong_shape), "must have shape [4, 3]", "[4, 2]");
  const QParams bad_broadcast{scheme(QDtype::Int8, QScope::PerChannel), at::ones({5, 1}),
                              at::zeros({5, 1})};
  EXPECT_ERROR_WITH(quantize("x", w, bad_broadcast), "do not broadcast");
}

TEST(QuantNumerics, RejectsNonIntegerSchemes) {
  EXPECT_ERROR_WITH(
      calculate_qparam("x", at::zeros({1}), at::ones({1}), scheme(QDtype::MxFp8, QScope::PerBlock)),
      "'x'", "mxfp8");
  EXPECT_ERROR_WITH(mx_quantize("x", at::ones({1, 4}), QDtype::Int8), "'x'", "int8");
}

}  // namespace
}  // namespace slim::quant
