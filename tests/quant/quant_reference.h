// Scalar fp64 reference of the quantization formulas (spec msmodelslim-v1.md §4), written from
// the spec text independently of src/quant: plain loops over doubles. Where the spec computes in
// the tensor's dtype, each operation's exact result is rounded to that dtype (`Prec`), which is
// what an IEEE operation in that dtype does (rounding a double result to fp32 or bf16 is
// innocuous double rounding for +, −, ×, ÷ on operands of that dtype).
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Half.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace slim::quant::ref {

enum class Prec { F32, BF16, F16 };

inline at::ScalarType scalar_type(Prec p) {
  return p == Prec::F32 ? at::kFloat : p == Prec::BF16 ? at::kBFloat16 : at::kHalf;
}

// Round to nearest even at bf16 (8 significant bits), by hand.
inline double to_bf16(double v) {
  const float f = static_cast<float>(v);
  if (std::isnan(f)) return f;
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFFu + ((u >> 16) & 1u);
  u &= 0xFFFF0000u;
  float out;
  std::memcpy(&out, &u, 4);
  return out;
}

// fp16 (11 significant bits, subnormals from 2^-24) through c10::Half's round-to-nearest-even.
inline double to_f16(double v) {
  return static_cast<float>(c10::Half(static_cast<float>(v)));
}

inline double rnd(double v, Prec p) {
  switch (p) {
    case Prec::F32:
      return static_cast<double>(static_cast<float>(v));
    case Prec::BF16:
      return to_bf16(v);
    case Prec::F16:
      return to_f16(v);
  }
  return v;
}

// Round half to even to an integer.
inline double rne(double v) {
  const double f = std::floor(v);
  const double d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return std::fmod(f, 2.0) == 0 ? f : f + 1;
}

struct IntParam {
  double scale;
  double offset;
};

// §4.1 on one (min, max) pair, every operation in precision p.
inline IntParam int_qparam(double mn, double mx, int bits, bool sym, Prec p) {
  const double lo = std::min(mn, 0.0);
  const double hi = std::max(mx, 0.0);
  const double eps = rnd(1.1920928955078125e-07, p);
  const double qmax = std::ldexp(1.0, bits - 1) - 1;
  const double qmin = -std::ldexp(1.0, bits - 1);
  if (sym) {
    const double s = std::max(rnd(std::max(-lo, hi) / qmax, p), eps);
    return {s, 0.0};
  }
  const double bound = std::ldexp(1.0, bits) - 1;
  const double s = std::max(rnd(rnd(hi / bound, p) - rnd(lo / bound, p), p), eps);
  const double o = rne(rnd(-lo / s, p)) + qmin;
  return {s, o};
}

// §4.2: q = clamp(round(x/s + o), qmin, qmax).
inline double int_quant(double x, IntParam q, int bits, Prec p) {
  const double qmax = std::ldexp(1.0, bits - 1) - 1;
  const double qmin = -std::ldexp(1.0, bits - 1);
  const double v = rne(rnd(rnd(x / q.scale, p) + q.offset, p));
  return std::min(std::max(v, qmin), qmax);
}

inline double int_dequant(double code, IntParam q, Prec p) {
  return rnd((code - q.offset) * q.scale, p);
}

// Every finite non-negative E4M3 (e4m3fn) value with its mantissa bits.
struct GridPoint {
  double value;
  int mantissa;
};
inline const std::vector<GridPoint>& e4m3_grid() {
  static const std::vector<GridPoint> grid = [] {
    std::vector<GridPoint> g;
    for (int m = 0; m < 8; ++m)
      g.push_back({m * std::ldexp(1.0, -9), m});  // subnormals, zero
    for (int e = 1; e <= 15; ++e) {
      for (int m = 0; m < 8; ++m) {
        if (e == 15 && m == 7) continue;  // NaN
        g.push_back({(1 + m / 8.0) * std::ldexp(1.0, e - 7), m});
      }
    }
    return g;
  }();
  return grid;
}

// Nearest E4M3 value by exhaustive search, ties to the even mantissa; saturates at ±448.
inline double e4m3_nearest(double x) {
  const double a = std::min(std::fabs(x), 448.0);
  double best = 0;
  double best_err = std::numeric_limits<double>::infinity();
  int best_m = 0;
  for (const auto& g : e4m3_grid()) {
    const double err = std::fabs(g.value - a);
    if (err < best_err || (err == best_err && (g.mantissa % 2 == 0) && (best_m % 2 != 0))) {
      best = g.value;
      best_err = err;
      best_m = g.mantissa;
    }
  }
  return std::signbit(x) ? -best : best;
}

// §4.3 scale = max(amax, 1e-12)/448 in precision p.
inline double fp8_scale(double mn, double mx, Prec p) {
  const double amax = std::max(-std::min(mn, 0.0), std::max(mx, 0.0));
  return rnd(std::max(amax, rnd(1e-12, p)) / 448.0, p);
}

inline double fp8_quant(double x, double scale, Prec p) {
  const double v = std::min(std::max(rnd(x / scale, p), -448.0), 448.0);
  return e4m3_nearest(v);
}

// §4.4 on one block (double arithmetic; the formulas' floor(log2(·)) taken exactly).
struct MxBlock {
  int exponent;                // stored e (MXFP4 blocks below −127 are stored as −127)
  std::vector<double> values;  // element values on the grid (signed zero kept)
};

inline MxBlock mxfp8_block(const std::vector<double>& x) {
  double amax = 0;
  for (double v : x)
    amax = std::max(amax, std::fabs(v));
  int e = static_cast<int>(std::floor(std::log2(amax == 0 ? std::ldexp(1.0, -126) : amax))) - 8;
  e = std::max(e, -127);
  MxBlock out{e, {}};
  for (double v : x) {
    const double y = v == 0 ? 0.0 : std::ldexp(v, -e);
    const double ay = std::fabs(y);
    const int pe = ay == 0 ? 0 : std::max(static_cast<int>(std::floor(std::log2(ay))), -6);
    const double a = ay * std::ldexp(1.0, 3 - pe);
    double r = std::floor(a + 0.5) * std::ldexp(1.0, pe - 3);
    r = std::min(r, 448.0);
    out.values.push_back(y < 0 ? -r : r);
  }
  return out;
}

inline MxBlock mxfp4_block(const std::vector<double>& x) {
  double amax = 0;
  for (double v : x)
    amax = std::max(amax, std::fabs(v));
  int e = static_cast<int>(std::floor(std::log2(amax / 0.875 + 9.6e-7))) - 2;
  e = std::min(std::max(e, -129), 125);
  MxBlock out{std::max(e, -127), {}};
  for (double v : x) {
    const double y = std::fabs(v) / std::ldexp(1.0, e);
    int pe = static_cast<int>(std::floor(std::log2(y + 9.6e-7)));
    pe = std::min(std::max(pe, 0), 2);
    const double m = std::floor(y / std::ldexp(1.0, pe) * 2 + 0.5);
    double r = std::min(m / 2 * std::ldexp(1.0, pe), 6.0);
    if (e < -127) r = 0;
    out.values.push_back(v < 0 ? -r : (v > 0 ? r : 0.0));
  }
  return out;
}

// ---------------------------------------------------------------- helpers

inline std::vector<double> values_of(const at::Tensor& t) {
  const at::Tensor d = t.to(at::kDouble).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

// Random normal weights [rows, cols] in fp32 with per-row scales spanning several binades.
inline at::Tensor random_matrix(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> log_scale(-8.0f, 4.0f);
  std::vector<float> data(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float s = std::exp2(log_scale(gen));
    const float shift = (r % 3 == 0) ? s * normal(gen) : 0.0f;  // some rows off-centre (asym)
    for (int64_t c = 0; c < cols; ++c)
      data[r * cols + c] = s * normal(gen) + shift;
  }
  return at::tensor(data).reshape({rows, cols});
}

}  // namespace slim::quant::ref
