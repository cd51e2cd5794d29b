// Quantization arithmetic (spec msmodelslim-v1.md §4, §7.6; docs/quantization.md).
#include "slim/quant/numerics.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <array>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "slim/core/error.h"
#include "slim/core/text.h"
#include "slim/quant/deployed_forms.h"
#include "slim/quant/observer.h"

namespace slim::quant {
namespace {

// NaN propagates through amin/amax and Inf is an extreme: two reductions, much faster than
// isfinite().all() on bf16.
bool finite_values(const at::Tensor& x) {
  if (x.numel() == 0) return true;
  const at::Tensor v = x.scalar_type() == at::kHalf ? x.to(at::kFloat) : x;
  return std::isfinite(v.amin().item<double>()) && std::isfinite(v.amax().item<double>());
}

void check_finite(const std::string& name, const at::Tensor& x) {
  SLIM_CHECK(finite_values(x), "tensor ", quote(name), " contains NaN or Inf");
}

void check_floating(const std::string& name, const at::Tensor& x) {
  SLIM_CHECK(x.defined(), "tensor ", quote(name), " is missing");
  SLIM_CHECK(at::isFloatingType(x.scalar_type()), "tensor ", quote(name),
             " must be floating point, found ", c10::toString(x.scalar_type()));
}

// Powers of two 2^k as fp32 for an integer tensor k (exact for k in [-149, 127]).
at::Tensor pow2(const at::Tensor& k) {
  return at::exp2(k.to(at::kFloat));
}

// floor(log2(|x|)) of nonzero finite values, exactly (frexp: x = m·2^ex, m in [0.5, 1)).
at::Tensor floor_log2(const at::Tensor& x) {
  return std::get<1>(at::frexp(x)) - 1;
}

// Arithmetic "in a dtype": native for fp32, fp64 and bf16. libtorch 1.13 has few fp16 CPU
// kernels, so fp16 is computed in fp32 with every result rounded to fp16 — the same values, since
// rounding an fp32 result of an operation on fp16 operands to fp16 is innocuous double rounding
// (24 >= 2·11 + 2 bits).
struct Arith {
  explicit Arith(at::ScalarType dtype) : emulate(dtype == at::kHalf) {}
  at::Tensor in(const at::Tensor& t) const { return emulate ? t.to(at::kFloat) : t; }
  at::Tensor r(const at::Tensor& t) const { return emulate ? t.to(at::kHalf).to(at::kFloat) : t; }
  at::Tensor out(const at::Tensor& t) const { return emulate ? t.to(at::kHalf) : t; }
  bool emulate;
};

// Per-group quantization views the last dim as [..., I / g, g] and the parameters as
// [..., I / g, 1]; other scopes broadcast as they are.
struct Grouped {
  at::Tensor x;
  at::Tensor scale;
  at::Tensor offset;
};

Grouped group_view(const std::string& name, const at::Tensor& x, const QParams& params) {
  SLIM_CHECK(params.scale.defined() && params.offset.defined(), "tensor ", quote(name),
             ": quantization parameters are missing");
  if (params.scheme.scope != QScope::PerGroup) {
    try {
      at::infer_size(x.sizes(), params.scale.sizes());
      at::infer_size(x.sizes(), params.offset.sizes());
    } catch (const std::exception&) {
      SLIM_FAIL("tensor ", quote(name), " of shape ", shape_text(x), ": ",
                qscope_name(params.scheme.scope), " parameters of shape ", shape_text(params.scale),
                " do not broadcast against it");
    }
    return {x, params.scale, params.offset};
  }
  const int64_t g = params.scheme.group_size;
  SLIM_CHECK(x.dim() >= 1, "tensor ", quote(name), " needs a last dim to group");
  const int64_t in = x.size(-1);
  SLIM_CHECK(g > 0 && in % g == 0, "tensor ", quote(name), ": group size ", g,
             " does not divide the input dim ", in, " (shape ", shape_text(x), ")");
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end() - 1);
  std::vector<int64_t> param_shape = shape;
  param_shape.push_back(in / g);
  SLIM_CHECK(params.scale.sizes() == at::IntArrayRef(param_shape) &&
                 params.offset.sizes() == params.scale.sizes(),
             "tensor ", quote(name), " of shape ", shape_text(x), " with group size ", g,
             ": per-group parameters must have shape ", shape_text(param_shape), ", found scale ",
             shape_text(params.scale), " and offset ", shape_text(params.offset));
  shape.push_back(in / g);
  shape.push_back(g);
  return {x.reshape(shape), params.scale.unsqueeze(-1), params.offset.unsqueeze(-1)};
}

// The same with ATen operations, for every broadcastable layout.
at::Tensor quantize_generic(const Grouped& g, const QParams& params, at::IntArrayRef shape) {
  const QDtype dtype = params.scheme.dtype;
  const Arith a(at::promote_types(g.x.scalar_type(), params.scale.scalar_type()));
  const at::Tensor ratio = a.r(a.in(g.x).div(a.in(g.scale)));
  at::Tensor q;
  if (is_integer(dtype)) {
    q = at::round(a.r(ratio.add(a.in(g.offset))))
            .clamp(static_cast<double>(qmin(dtype)), static_cast<double>(qmax(dtype)))
            .to(at::kChar);
  } else {
    q = round_to_e4m3(ratio.clamp(-kE4M3Max, kE4M3Max).to(at::kFloat));
  }
  return q.reshape(shape);
}

// Fused integer quantization of rows of `cols` values, each row split into groups of `group`
// with one (scale, offset) per group, in one pass: q = clamp(round(x/s + o), qmin, qmax) with
// x/s and the sum each rounded to the working dtype as ATen's operations on that dtype do
// (an fp32 operation rounded to bf16/fp16 is the correctly rounded bf16/fp16 operation).
struct RoundF32 {
  static float in(float v) { return v; }
  static float r(float v) { return v; }
};
struct RoundBF16 {
  static float in(c10::BFloat16 v) {
    const uint32_t u = static_cast<uint32_t>(v.x) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  // Round to nearest even at bf16 (inputs here are finite or ±inf).
  static float r(float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    u += 0x7FFFu + ((u >> 16) & 1u);
    u &= 0xFFFF0000u;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};
struct RoundF16 {
  static float in(c10::Half v) { return static_cast<float>(v); }
  static float r(float v) { return static_cast<float>(c10::Half(v)); }
};
// Numerics::Precise: every value read as fp32, no rounding after an operation.
struct RoundNone {
  static float in(float v) { return v; }
  static float in(c10::BFloat16 v) { return RoundBF16::in(v); }
  static float in(c10::Half v) { return static_cast<float>(v); }
  static float r(float v) { return v; }
};
inline float to_float_of(float v) {
  return v;
}
inline float to_float_of(c10::BFloat16 v) {
  return RoundBF16::in(v);
}
inline float to_float_of(c10::Half v) {
  return static_cast<float>(v);
}

// Round half to even of |v| <= 2^22 with the fp32 adder (vectorizes, unlike std::nearbyint
// without SSE4.1): v + 1.5·2^23 lands where the fp32 spacing is 1.
inline float round_half_even(float v) {
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}

inline uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// Clamp that vectorizes (GCC 12 does not if-convert std::min/max against constants); NaN passes.
inline float clampf(float v, float lo, float hi) {
  v = v > hi ? hi : v;
  return v < lo ? lo : v;
}
// 2^k for k in the normal range [-126, 127], built from the exponent bits.
inline float pow2f(int k) {
  return float_of(static_cast<uint32_t>(k + 127) << 23);
}
// floor(log2 |v|) of a normal |v|, exactly; −127 for zero and subnormals; 128 for Inf/NaN.
inline int floor_log2_bits(float v) {
  return static_cast<int>((bits_of(v) >> 23) & 0xFF) - 127;
}

// Nearest E4M3 value of v in [−448, 448] (or NaN): quantum 2^(E−3) with
// E = max(floor(log2|v|), −6), ties to even; the sign of zero kept.
inline float e4m3_round(float v) {
  const float a = std::fabs(v);
  const int e = std::max(floor_log2_bits(a), -6);
  return std::copysign(round_half_even(a * pow2f(3 - e)) * pow2f(e - 3), v);
}

// One group: codes of n values with one (scale, offset). Returns nonzero when `Check` and a value
// is NaN or Inf. Branch-free, so that the loop vectorizes.
template <typename T, typename R, bool Check>
int quantize_group(const T* src, int8_t* dst, int64_t n, float s, float o, float lo, float hi) {
  int bad = 0;
#pragma omp simd reduction(| : bad)
  for (int64_t k = 0; k < n; ++k) {
    float xv = R::in(src[k]);
    if constexpr (Check) {
      const bool finite = std::fabs(xv) <= 3.4028234663852886e38f;
      bad |= static_cast<int>(!finite);
      xv = finite ? xv : 0.0f;  // keeps the conversion below defined; the caller throws
    }
    // clamp(round(v), lo, hi) == round(clamp(v, lo, hi)) for integer bounds.
    const float v = std::min(std::max(R::r(R::r(xv / s) + o), lo), hi);
    dst[k] = static_cast<int8_t>(round_half_even(v));
  }
  return bad;
}

// Returns false when `Check` finds NaN or Inf in x.
template <typename T, typename R, bool Check>
bool quantize_groups(const T* x, const T* scale, const T* offset, int8_t* out, int64_t rows,
                     int64_t cols, int64_t group, float lo, float hi) {
  const int64_t groups = cols / group;
  std::atomic<bool> finite{true};
  at::parallel_for(0, rows, std::max<int64_t>(1, 32768 / cols), [&](int64_t begin, int64_t end) {
    int bad = 0;
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t at = r * cols + g * group;
        bad |= quantize_group<T, R, Check>(x + at, out + at, group, R::in(scale[r * groups + g]),
                                           R::in(offset[r * groups + g]), lo, hi);
      }
    }
    if (bad) finite = false;
  });
  return finite.load();
}

template <typename T, typename R>
bool quantize_groups(const T* x, const T* scale, const T* offset, int8_t* out, int64_t rows,
                     int64_t cols, int64_t group, float lo, float hi, bool check) {
  return check ? quantize_groups<T, R, true>(x, scale, offset, out, rows, cols, group, lo, hi)
               : quantize_groups<T, R, false>(x, scale, offset, out, rows, cols, group, lo, hi);
}

// Integer weights in one pass per group (deploy_linear): min/max, §4.1 parameters with the
// dtype's rounding after every operation (as calculate_qparam computes them with ATen), then the
// codes while the group is in cache. One parallel region per weight. Scales/offsets are written
// as fp32 (exact: they are values of the weight's dtype). Returns false on NaN/Inf.
// `precise` (R = RoundNone): Numerics::Precise, symmetric scale amax / ((qmax − qmin) / 2),
// asymmetric (max' − min') / (2^b − 1), all in fp32.
template <typename T, typename R>
bool quantize_weight_groups(const T* x, int64_t rows, int64_t cols, int64_t group, QDtype dtype,
                            bool symmetric, bool precise, int8_t* out, float* scales,
                            float* offsets) {
  const int64_t groups = cols / group;
  const float lo_code = static_cast<float>(qmin(dtype));
  const float hi_code = static_cast<float>(qmax(dtype));
  const float half_range = (hi_code - lo_code) / 2.0f;  // 7.5 / 127.5, exact
  const float bound = dtype == QDtype::Int8 ? 255.0f : 15.0f;
  const float eps = FLT_EPSILON;  // 2^-23: exact in bf16 and fp16
  std::atomic<bool> finite{true};
  at::parallel_for(0, rows, std::max<int64_t>(1, 32768 / cols), [&](int64_t begin, int64_t end) {
    int bad = 0;
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        const T* src = x + r * cols + g * group;
        float mn = std::numeric_limits<float>::infinity();
        float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(min : mn) reduction(max : mx) reduction(| : bad)
        for (int64_t k = 0; k < group; ++k) {
          const float v = R::in(src[k]);
          bad |= static_cast<int>(!(std::fabs(v) <= 3.4028234663852886e38f));
          mn = std::min(mn, v);
          mx = std::max(mx, v);
        }
        const float lo = std::min(mn, 0.0f);
        const float hi = std::max(mx, 0.0f);
        float scale;
        float offset = 0.0f;
        if (precise && symmetric) {
          scale = std::max(std::max(-lo, hi) / half_range, eps);
        } else if (precise) {
          scale = std::max((hi - lo) / bound, eps);
          offset = round_half_even(-lo / scale) + lo_code;
        } else if (symmetric) {
          scale = std::max(R::r(std::max(-lo, hi) / hi_code), eps);
        } else {
          scale = std::max(R::r(R::r(hi / bound) - R::r(lo / bound)), eps);
          offset = round_half_even(R::r(-lo / scale)) + lo_code;
        }
        scales[r * groups + g] = scale;
        offsets[r * groups + g] = offset;
        quantize_group<T, R, false>(src, out + r * cols + g * group, group, scale, offset, lo_code,
                                    hi_code);
      }
    }
    if (bad) finite = false;
  });
  return finite.load();
}

// FP8 E4M3 weights per output channel in one pass per row: amax, scale = max(amax, tiny)/448
// (tiny = 1e-12 in the arithmetic's dtype), codes = e4m3(clamp(x/scale, ±448)), each operation
// rounded as calculate_qparam + quantize round it (`R`: the weight's dtype, fp32 for fp16).
template <typename T, typename R>
bool quantize_fp8_rows(const T* x, int64_t rows, int64_t cols, float tiny, float* codes,
                       float* scales) {
  std::atomic<bool> finite{true};
  at::parallel_for(0, rows, std::max<int64_t>(1, 32768 / cols), [&](int64_t begin, int64_t end) {
    int bad = 0;
    for (int64_t r = begin; r < end; ++r) {
      const T* src = x + r * cols;
      float* dst = codes + r * cols;
      float amax = 0.0f;
#pragma omp simd reduction(max : amax) reduction(| : bad)
      for (int64_t k = 0; k < cols; ++k) {
        const float a = std::fabs(to_float_of(src[k]));
        bad |= static_cast<int>(!(a <= 3.4028234663852886e38f));
        amax = std::max(amax, a);
      }
      if (bad) break;  // the caller throws
      const float scale = R::r(std::max(amax, tiny) / static_cast<float>(kE4M3Max));
      scales[r] = scale;
#pragma omp simd
      for (int64_t k = 0; k < cols; ++k) {
        dst[k] = e4m3_round(clampf(R::r(to_float_of(src[k]) / scale), -448.0f, 448.0f));
      }
    }
    if (bad) finite = false;
  });
  return finite.load();
}

// The fused kernel's layout: params shaped like x but for the last dim, which holds one entry
// per group (per-group) or a single one (per-row scopes); same floating dtype; CPU.
bool fusable(const at::Tensor& x, const QParams& p) {
  const at::ScalarType t = x.scalar_type();
  if (t != at::kFloat && t != at::kBFloat16 && t != at::kHalf) return false;
  if (p.scale.scalar_type() != t || p.offset.scalar_type() != t) return false;
  if (!x.device().is_cpu() || x.dim() < 1 || x.numel() == 0) return false;
  if (p.scale.dim() != x.dim() || p.offset.sizes() != p.scale.sizes()) return false;
  for (int64_t d = 0; d + 1 < x.dim(); ++d) {
    if (p.scale.size(d) != x.size(d)) return false;
  }
  const int64_t last = p.scale.size(-1);
  if (p.scheme.scope == QScope::PerGroup) {
    return p.scheme.group_size > 0 && last * p.scheme.group_size == x.size(-1);
  }
  return last == 1;
}

// Returns an undefined tensor when `check` finds NaN or Inf in x.
at::Tensor quantize_fused(const at::Tensor& x, const QParams& p, bool check) {
  const at::Tensor xc = x.contiguous();
  const at::Tensor sc = p.scale.contiguous();
  const at::Tensor oc = p.offset.contiguous();
  at::Tensor out = at::empty(x.sizes(), x.options().dtype(at::kChar));
  const int64_t cols = x.size(-1);
  const int64_t rows = x.numel() / cols;
  const int64_t group = cols / sc.size(-1);
  const float lo = static_cast<float>(qmin(p.scheme.dtype));
  const float hi = static_cast<float>(qmax(p.scheme.dtype));
  int8_t* dst = out.data_ptr<int8_t>();
  bool finite = true;
  switch (x.scalar_type()) {
    case at::kFloat:
      finite = quantize_groups<float, RoundF32>(xc.data_ptr<float>(), sc.data_ptr<float>(),
                                                oc.data_ptr<float>(), dst, rows, cols, group, lo,
                                                hi, check);
      break;
    case at::kBFloat16:
      finite = quantize_groups<c10::BFloat16, RoundBF16>(
          xc.data_ptr<c10::BFloat16>(), sc.data_ptr<c10::BFloat16>(), oc.data_ptr<c10::BFloat16>(),
          dst, rows, cols, group, lo, hi, check);
      break;
    case at::kHalf:
      finite = quantize_groups<c10::Half, RoundF16>(
          xc.data_ptr<c10::Half>(), sc.data_ptr<c10::Half>(), oc.data_ptr<c10::Half>(), dst, rows,
          cols, group, lo, hi, check);
      break;
    default:
      SLIM_INTERNAL_ASSERT(false, "quantize_fused on ", c10::toString(x.scalar_type()));
  }
  return finite ? out : at::Tensor();
}

// quantize() without the NaN/Inf pass (for callers whose statistics already checked it).
at::Tensor quantize_unchecked(const std::string& name, const at::Tensor& x, const QParams& params) {
  const QDtype dtype = params.scheme.dtype;
  SLIM_CHECK(is_integer(dtype) || dtype == QDtype::Fp8E4M3, "tensor ", quote(name),
             ": quantize() handles int8, int4 and fp8_e4m3, not ", qdtype_name(dtype));
  const Grouped g = group_view(name, x, params);  // also checks the shapes
  if (is_integer(dtype) && fusable(x, params)) return quantize_fused(x, params, false);
  return quantize_generic(g, params, x.sizes());
}

// E4M3FN byte of an fp32 value in the low 8 bits; bit 8 is set when the value is not on the grid
// (or beyond ±448, or not finite). Branch-free so that encoding loops vectorize.
inline uint32_t e4m3_byte(float v) {
  const uint32_t u = bits_of(v);
  const uint32_t ua = u & 0x7FFFFFFFu;
  const uint32_t sign = (u >> 24) & 0x80u;
  // Normal E4M3 (|v| >= 2^-6): fp32 exponent field 121..135 -> 1..15, top 3 mantissa bits kept,
  // the other 20 must be zero; |v| <= 448 (0x43E00000).
  const bool normal = ua >= 0x3C800000u;
  const uint32_t normal_byte = ((((ua >> 23) - 120u) << 3) | ((ua >> 20) & 7u)) & 0x7Fu;
  const bool normal_ok = (ua & 0xFFFFFu) == 0 && ua <= 0x43E00000u;
  // Subnormal E4M3 (and zero): |v| = m·2^-9 with m in 0..7.
  const float m = (normal ? 0.0f : float_of(ua)) * 512.0f;  // in range for the conversion
  const int32_t mi = static_cast<int32_t>(m);
  const bool sub_ok = static_cast<float>(mi) == m;
  const uint32_t bad = (normal ? normal_ok : sub_ok) ? 0u : 0x100u;
  return bad | sign | (normal ? normal_byte : static_cast<uint32_t>(mi) & 7u);
}

std::array<float, 256> make_e4m3_table() {
  std::array<float, 256> table{};
  for (int b = 0; b < 256; ++b) {
    const int exponent = (b >> 3) & 0xF;
    const int mant = b & 7;
    float a;
    if (exponent == 15 && mant == 7) {
      a = std::numeric_limits<float>::quiet_NaN();
    } else if (exponent == 0) {
      a = std::ldexp(static_cast<float>(mant), -9);
    } else {
      a = std::ldexp(static_cast<float>(8 + mant), exponent - 7 - 3);
    }
    table[b] = (b & 0x80) ? -a : a;
  }
  return table;
}

constexpr std::array<float, 8> kE2M1Magnitudes = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

// E2M1 nibble of an fp32 value: index of |v| in kE2M1Magnitudes | signbit << 3; `ok` is false off
// the grid. Branch-free.
inline uint32_t e2m1_code(float v, bool& ok) {
  const float a = std::fabs(v);
  const float twice = (a <= 2.0f ? a : 0.0f) * 2.0f;  // in range for the conversion
  const int32_t small = static_cast<int32_t>(twice);  // |v| <= 2: index = 2|v|
  const uint32_t index =
      a <= 2.0f ? static_cast<uint32_t>(small) : (a == 3.0f ? 5u : (a == 4.0f ? 6u : 7u));
  const float decoded =
      a <= 2.0f ? static_cast<float>(small) * 0.5f : (a == 3.0f ? 3.0f : (a == 4.0f ? 4.0f : 6.0f));
  ok = decoded == a;
  return index | ((bits_of(v) >> 28) & 8u);
}

}  // namespace

int64_t qmin(QDtype dtype) {
  SLIM_CHECK(is_integer(dtype), "qmin: ", qdtype_name(dtype), " is not an integer dtype");
  return dtype == QDtype::Int8 ? -128 : -8;
}

int64_t qmax(QDtype dtype) {
  SLIM_CHECK(is_integer(dtype), "qmax: ", qdtype_name(dtype), " is not an integer dtype");
  return dtype == QDtype::Int8 ? 127 : 7;
}

QParams calculate_qparam(const std::string& name, const at::Tensor& min, const at::Tensor& max,
                         const QScheme& scheme, Numerics numerics) {
  SLIM_CHECK(is_integer(scheme.dtype) || scheme.dtype == QDtype::Fp8E4M3, "tensor ", quote(name),
             ": calculate_qparam handles int8, int4 and fp8_e4m3, not ", qdtype_name(scheme.dtype),
             " (MX formats use mx_quantize)");
  check_floating(name + " (min)", min);
  check_floating(name + " (max)", max);
  SLIM_CHECK(min.sizes() == max.sizes() && min.scalar_type() == max.scalar_type(), "tensor ",
             quote(name), ": min ", shape_text(min), " ", c10::toString(min.scalar_type()),
             " and max ", shape_text(max), " ", c10::toString(max.scalar_type()), " differ");
  SLIM_CHECK(finite_values(min) && finite_values(max), "tensor ", quote(name),
             " contains NaN or Inf (its statistics are not finite)");
  if (scheme.scope == QScope::PerGroup) {
    SLIM_CHECK(scheme.group_size > 0, "tensor ", quote(name),
               ": per_group needs a positive group_size, found ", scheme.group_size);
  }

  // fp16 FP8 scales are computed in fp32: in fp16, amax/448 underflows to zero for
  // amax < 2^-14 (docs/quantization.md).
  // Numerics::Precise: everything in fp32.
  const bool precise = numerics == Numerics::Precise;
  const at::ScalarType dtype =
      precise || (scheme.dtype == QDtype::Fp8E4M3 && min.scalar_type() == at::kHalf)
          ? at::kFloat
          : min.scalar_type();
  const Arith a(dtype);
  const at::Tensor lo = at::clamp_max(a.in(min.to(dtype)), 0);  // min' = min(min, 0)
  const at::Tensor hi = at::clamp_min(a.in(max.to(dtype)), 0);  // max' = max(max, 0)
  QParams params;
  params.scheme = scheme;
  if (scheme.dtype == QDtype::Fp8E4M3) {
    // max(amax, 1e-12) with 1e-12 in the dtype, then / 448.
    const double tiny = at::scalar_tensor(1e-12, at::kDouble).to(dtype).item<double>();
    params.scale = a.out(a.r(at::maximum(lo.neg(), hi).clamp_min(tiny).div(kE4M3Max)));
    params.offset = at::zeros_like(params.scale);
    return params;
  }
  const double eps = static_cast<double>(FLT_EPSILON);  // 2^-23, exact in bf16 and fp16
  at::Tensor scale;
  at::Tensor offset;
  if (precise) {
    const double bits_range = scheme.dtype == QDtype::Int8 ? 255.0 : 15.0;  // qmax − qmin
    if (scheme.symmetric) {
      scale = at::maximum(lo.neg(), hi).div(bits_range / 2.0).clamp_min(eps);
      offset = at::zeros_like(scale);
    } else {
      scale = hi.sub(lo).div(bits_range).clamp_min(eps);
      offset = at::round(lo.neg().div(scale)).add(static_cast<double>(qmin(scheme.dtype)));
    }
  } else if (scheme.symmetric) {
    scale =
        a.r(at::maximum(lo.neg(), hi).div(static_cast<double>(qmax(scheme.dtype)))).clamp_min(eps);
    offset = at::zeros_like(scale);
  } else {
    const double bound = scheme.dtype == QDtype::Int8 ? 255.0 : 15.0;
    scale = a.r(a.r(hi.div(bound)).sub(a.r(lo.div(bound)))).clamp_min(eps);
    offset = at::round(a.r(lo.neg().div(scale))).add(static_cast<double>(qmin(scheme.dtype)));
  }
  params.scale = a.out(scale);
  params.offset = a.out(offset);
  return params;
}

at::Tensor quantize(const std::string& name, const at::Tensor& x, const QParams& params) {
  check_floating(name, x);
  if (is_integer(params.scheme.dtype) && fusable(x, params)) {
    group_view(name, x, params);  // shape checks
    at::Tensor q = quantize_fused(x, params, true);
    SLIM_CHECK(q.defined(), "tensor ", quote(name), " contains NaN or Inf");
    return q;
  }
  check_finite(name, x);
  return quantize_unchecked(name, x, params);
}

at::Tensor dequantize(const at::Tensor& codes, const QParams& params) {
  const Grouped g = group_view("codes", codes, params);
  const Arith a(params.scale.scalar_type());
  const at::Tensor scale = a.in(g.scale);
  const at::Tensor values = g.x.to(scale.scalar_type());
  at::Tensor out;
  if (is_integer(params.scheme.dtype)) {
    out = a.r(values.sub(a.in(g.offset))).mul(scale);
  } else {
    SLIM_CHECK(params.scheme.dtype == QDtype::Fp8E4M3, "dequantize() handles int8, int4 and ",
               "fp8_e4m3, not ", qdtype_name(params.scheme.dtype));
    out = values.mul(scale);
  }
  return a.out(out).reshape(codes.sizes());
}

at::Tensor fake_quantize(const std::string& name, const at::Tensor& x, const QParams& params) {
  return dequantize(quantize(name, x, params), params).to(x.scalar_type());
}

// ------------------------------------------------------------------ E4M3

at::Tensor round_to_e4m3(const at::Tensor& x) {
  const at::Tensor in = x.to(at::kFloat).contiguous();
  at::Tensor out = at::empty(in.sizes(), in.options());
  const float* src = in.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, in.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      const float v = src[i];
      // Saturate first (NaN passes through).
      dst[i] = e4m3_round(clampf(v, -448.0f, 448.0f));
    }
  });
  return out;
}

at::Tensor e4m3_to_bytes(const std::string& name, const at::Tensor& values) {
  SLIM_CHECK(values.defined() && values.scalar_type() == at::kFloat, "tensor ", quote(name),
             ": E4M3 values must be fp32");
  const at::Tensor in = values.contiguous();
  at::Tensor out = at::empty(in.sizes(), at::kByte);
  const float* src = in.data_ptr<float>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  std::atomic<bool> any_bad{false};
  at::parallel_for(0, in.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    int bad = 0;
    const float* from = src;  // locals, not the captured references: no aliasing with dst
    uint8_t* to = dst;
#pragma omp simd reduction(| : bad)
    for (int64_t i = begin; i < end; ++i) {
      const uint32_t b = e4m3_byte(from[i]);
      to[i] = static_cast<uint8_t>(b);
      bad |= static_cast<int>(b >> 8);
    }
    if (bad) any_bad = true;
  });
  if (any_bad.load()) {
    for (int64_t i = 0; i < in.numel(); ++i) {
      SLIM_CHECK(e4m3_byte(src[i]) < 0x100u, "tensor ", quote(name), ": element ", i, " = ", src[i],
                 " is not an E4M3 value (the grid within ±448)");
    }
  }
  return out;
}

at::Tensor e4m3_from_bytes(const at::Tensor& bytes) {
  static const std::array<float, 256> table = make_e4m3_table();
  SLIM_CHECK(bytes.defined() && bytes.scalar_type() == at::kByte,
             "E4M3 bytes must be a uint8 tensor");
  const at::Tensor lut = at::from_blob(const_cast<float*>(table.data()), {256}, at::kFloat);
  return lut.index_select(0, bytes.reshape({-1}).to(at::kLong)).reshape(bytes.sizes());
}

// ------------------------------------------------------------------ MX

at::Tensor mx_shared_exponents(const at::Tensor& block_amax, QDtype dtype) {
  SLIM_CHECK(is_mx(dtype), "mx_shared_exponents: ", qdtype_name(dtype), " is not an MX dtype");
  if (dtype == QDtype::MxFp8) {
    // e = floor(log2(amax + 2^-126·[amax == 0])) − emax(8); e < −127 → −127. (e > 127 would need
    // amax ≥ 2^136, beyond every finite fp32.)
    const at::Tensor a = block_amax.to(at::kFloat);
    const at::Tensor safe = at::where(a == 0, at::full({}, 0x1p-126f, a.options()), a);
    return at::clamp_min(floor_log2(safe) - 8, -127).to(at::kInt);
  }
  // e = floor(log2(amax / (1 − 0.5^3) + 9.6e−7)) − emax(2), clipped to [−129, 125]; evaluated in
  // fp64 so that floor(log2(·)) is exact for every fp32 amax.
  const at::Tensor t = block_amax.to(at::kDouble).div(0.875).add(9.6e-7);
  return at::clamp(floor_log2(t) - 2, -129, 125).to(at::kInt);
}

at::Tensor mx_block_amax(const std::string& name, const at::Tensor& x) {
  check_floating(name, x);
  SLIM_CHECK(x.dim() >= 1 && x.size(-1) > 0, "tensor ", quote(name), " of shape ", shape_text(x),
             " has no elements along its last dim to form MX blocks");
  const int64_t n = x.size(-1);
  const int64_t blocks = (n + kMxBlock - 1) / kMxBlock;
  at::Tensor a = x.to(at::kFloat).abs();
  if (blocks * kMxBlock != n) a = at::constant_pad_nd(a, {0, blocks * kMxBlock - n}, 0);
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end() - 1);
  shape.push_back(blocks);
  shape.push_back(kMxBlock);
  const at::Tensor amax = std::get<0>(a.reshape(shape).max(-1));
  SLIM_CHECK(finite_values(amax), "tensor ", quote(name), " contains NaN or Inf");
  return amax;
}

namespace {

inline float to_f32(float v) {
  return v;
}
inline float to_f32(c10::BFloat16 v) {
  return RoundBF16::in(v);
}
inline float to_f32(c10::Half v) {
  return static_cast<float>(v);
}

// One row of MX blocks: exponents and element values exactly as mx_shared_exponents and the §4.4
// element formulas say (numerics.h), in fp32. Returns nonzero on NaN/Inf.
template <typename T>
int mx_row(const T* x, int64_t cols, bool fp4, float* values, int32_t* exponents) {
  int bad = 0;
  for (int64_t start = 0, b = 0; start < cols; start += kMxBlock, ++b) {
    const int64_t n = std::min<int64_t>(kMxBlock, cols - start);
    const T* src = x + start;
    float* dst = values + start;
    float amax = 0.0f;
#pragma omp simd reduction(max : amax) reduction(| : bad)
    for (int64_t k = 0; k < n; ++k) {
      const float a = std::fabs(to_f32(src[k]));
      bad |= static_cast<int>(!(a <= 3.4028234663852886e38f));
      amax = std::max(amax, a);
    }
    if (bad) return bad;  // the caller throws
    if (!fp4) {
      // e = floor(log2(amax)) − 8 (amax = 0 → 2^-126), at least −127.
      const int e = amax < 0x1p-126f ? -127 : std::max(floor_log2_bits(amax) - 8, -127);
      const float inv = pow2f(-e);
#pragma omp simd
      for (int64_t k = 0; k < n; ++k) {
        const float xv = to_f32(src[k]);
        const float y = xv == 0.0f ? 0.0f : xv * inv;
        const float ay = std::fabs(y);
        const int p = std::max(floor_log2_bits(ay), -6);
        // floor(|a| + 0.5) by truncation (|a| < 16).
        const float m = static_cast<float>(static_cast<int32_t>(ay * pow2f(3 - p) + 0.5f));
        dst[k] = std::copysign(clampf(m * pow2f(p - 3), 0.0f, 448.0f), y);
      }
      exponents[b] = e;
    } else {
      int ex = 0;
      std::frexp(static_cast<double>(amax) / 0.875 + 9.6e-7, &ex);
      const int e = std::min(std::max(ex - 1 - 2, -129), 125);
      const float step = std::ldexp(1.0f, e);
      const bool zero = e < -127;
#pragma omp simd
      for (int64_t k = 0; k < n; ++k) {
        const float xv = to_f32(src[k]);
        const float y = std::fabs(xv) / step;
        const int p = std::min(std::max(floor_log2_bits(y + 9.6e-7f), 0), 2);
        const float m = static_cast<float>(static_cast<int32_t>(y * pow2f(1 - p) + 0.5f));
        const float v = zero ? 0.0f : clampf(m * pow2f(p - 1), 0.0f, 6.0f);
        dst[k] = xv < 0.0f ? -v : (xv > 0.0f ? v : 0.0f);  // sign(x)·v
      }
      exponents[b] = std::max(e, -127);
    }
  }
  return bad;
}

template <typename T>
bool mx_rows(const T* x, int64_t rows, int64_t cols, bool fp4, float* values, int32_t* exps) {
  const int64_t blocks = (cols + kMxBlock - 1) / kMxBlock;
  std::atomic<bool> finite{true};
  at::parallel_for(0, rows, std::max<int64_t>(1, 16384 / cols), [&](int64_t begin, int64_t end) {
    int bad = 0;
    for (int64_t r = begin; r < end; ++r) {
      bad |= mx_row(x + r * cols, cols, fp4, values + r * cols, exps + r * blocks);
    }
    if (bad) finite = false;
  });
  return finite.load();
}

}  // namespace

MxQuantized mx_quantize(const std::string& name, const at::Tensor& x, QDtype dtype) {
  SLIM_CHECK(is_mx(dtype), "tensor ", quote(name), ": mx_quantize needs mxfp8 or mxfp4, not ",
             qdtype_name(dtype));
  check_floating(name, x);
  SLIM_CHECK(x.dim() >= 1 && x.size(-1) > 0, "tensor ", quote(name), " of shape ", shape_text(x),
             " has no elements along its last dim to form MX blocks");
  const at::ScalarType t = x.scalar_type();
  const at::Tensor in =
      (t == at::kFloat || t == at::kBFloat16 || t == at::kHalf ? x : x.to(at::kFloat)).contiguous();
  const int64_t cols = x.size(-1);
  const int64_t rows = x.numel() / cols;
  const int64_t blocks = (cols + kMxBlock - 1) / kMxBlock;
  at::Tensor values = at::empty(x.sizes(), at::kFloat);
  std::vector<int64_t> exp_shape(x.sizes().begin(), x.sizes().end() - 1);
  exp_shape.push_back(blocks);
  at::Tensor exponents = at::empty(exp_shape, at::kInt);
  const bool fp4 = dtype == QDtype::MxFp4;
  float* v = values.data_ptr<float>();
  int32_t* e = exponents.data_ptr<int32_t>();
  bool finite = true;
  switch (in.scalar_type()) {
    case at::kBFloat16:
      finite = mx_rows(in.data_ptr<c10::BFloat16>(), rows, cols, fp4, v, e);
      break;
    case at::kHalf:
      finite = mx_rows(in.data_ptr<c10::Half>(), rows, cols, fp4, v, e);
      break;
    default:
      finite = mx_rows(in.data_ptr<float>(), rows, cols, fp4, v, e);
      break;
  }
  SLIM_CHECK(finite, "tensor ", quote(name), " contains NaN or Inf");
  return {values, exponents};
}

at::Tensor mx_dequantize(const at::Tensor& values, const at::Tensor& exponents,
                         at::ScalarType dtype) {
  SLIM_CHECK(values.dim() >= 1 && exponents.dim() == values.dim(), "MX values ", shape_text(values),
             " and exponents ", shape_text(exponents), " must have the same rank");
  const int64_t n = values.size(-1);
  const int64_t blocks = (n + kMxBlock - 1) / kMxBlock;
  SLIM_CHECK(exponents.size(-1) == blocks, "MX values ", shape_text(values), " need ", blocks,
             " exponents per row, found ", shape_text(exponents));
  const at::Tensor scale = pow2(exponents).repeat_interleave(kMxBlock, -1).narrow(-1, 0, n);
  return values.to(at::kFloat).mul(scale).to(dtype);
}

at::Tensor mx_fake_quantize(const std::string& name, const at::Tensor& x, QDtype dtype) {
  const MxQuantized q = mx_quantize(name, x, dtype);
  return mx_dequantize(q.values, q.exponents, x.scalar_type());
}

// ------------------------------------------------------------------ packing

at::Tensor pack_int4_along_out(const std::string& name, const at::Tensor& codes) {
  SLIM_CHECK(codes.defined() && codes.scalar_type() == at::kChar && codes.dim() == 2, "tensor ",
             quote(name), ": int4 codes must be int8 [out, in], found ", shape_text(codes));
  const int64_t out = codes.size(0);
  const int64_t in = codes.size(1);
  SLIM_CHECK(out % 2 == 0, "tensor ", quote(name),
             ": int4 packing pairs output channels, so the output dim must be even, found ", out);
  const at::Tensor c = codes.contiguous();
  at::Tensor packed = at::empty({out / 2, in}, codes.options());
  const int8_t* src = c.data_ptr<int8_t>();
  int8_t* dst = packed.data_ptr<int8_t>();
  std::atomic<bool> out_of_range{false};
  at::parallel_for(0, out / 2, std::max<int64_t>(1, 65536 / std::max<int64_t>(in, 1)),
                   [&](int64_t begin, int64_t end) {
                     bool bad = false;
                     for (int64_t j = begin; j < end; ++j) {
                       const int8_t* even = src + (2 * j) * in;
                       const int8_t* odd = src + (2 * j + 1) * in;
                       int8_t* o = dst + j * in;
#pragma omp simd reduction(| : bad)
                       for (int64_t i = 0; i < in; ++i) {
                         bad |= even[i] < -8 || even[i] > 7 || odd[i] < -8 || odd[i] > 7;
                         // Shifted as unsigned: a negative int8 shifted left is undefined.
                         const auto high = static_cast<uint8_t>(static_cast<uint8_t>(odd[i]) << 4);
                         o[i] = static_cast<int8_t>(high | static_cast<uint8_t>(even[i] & 0x0F));
                       }
                     }
                     if (bad) out_of_range = true;
                   });
  if (out_of_range.load()) {
    const auto [lo, hi] = at::aminmax(codes);
    SLIM_FAIL("tensor ", quote(name), ": int4 codes must lie in [-8, 7], found [", lo.item<int>(),
              ", ", hi.item<int>(), "]");
  }
  return packed;
}

at::Tensor unpack_int4_along_out(const at::Tensor& packed) {
  SLIM_CHECK(packed.defined() && packed.scalar_type() == at::kChar && packed.dim() == 2,
             "packed int4 must be int8 [out/2, in], found ", shape_text(packed));
  const at::Tensor bytes = packed.view(at::kByte).to(at::kInt);
  // Sign-extend a nibble n: (n ^ 8) − 8.
  const at::Tensor even = bytes.bitwise_and(0x0F).bitwise_xor(8).sub(8);
  const at::Tensor odd = bytes.div(16, "floor").bitwise_xor(8).sub(8);
  return at::stack({even, odd}, 1).reshape({packed.size(0) * 2, packed.size(1)}).to(at::kChar);
}

at::Tensor pack_e2m1(const std::string& name, const at::Tensor& values) {
  SLIM_CHECK(values.defined() && values.scalar_type() == at::kFloat && values.dim() == 2, "tensor ",
             quote(name), ": E2M1 values must be fp32 [out, in], found ", shape_text(values));
  const int64_t in = values.size(1);
  SLIM_CHECK(in % 2 == 0, "tensor ", quote(name),
             ": E2M1 packing puts two values per byte along the input dim, which must be even, "
             "found ",
             in);
  const at::Tensor in_values = values.contiguous();
  const float* src = in_values.data_ptr<float>();
  at::Tensor out = at::empty({values.size(0), in / 2}, at::kByte);
  uint8_t* dst = out.data_ptr<uint8_t>();
  const int64_t pairs = values.numel() / 2;
  std::atomic<bool> any_bad{false};
  at::parallel_for(0, pairs, 1 << 15, [&](int64_t begin, int64_t end) {
    // Nibble codes of a chunk first (a contiguous, vectorized loop), then the pairs.
    constexpr int64_t kChunk = 2048;
    uint8_t codes[2 * kChunk];
    int bad = 0;
    for (int64_t c0 = begin; c0 < end; c0 += kChunk) {
      const int64_t n = std::min(kChunk, end - c0);
      const float* in_chunk = src + 2 * c0;
#pragma omp simd reduction(| : bad)
      for (int64_t i = 0; i < 2 * n; ++i) {
        bool ok;
        codes[i] = static_cast<uint8_t>(e2m1_code(in_chunk[i], ok));
        bad |= static_cast<int>(!ok);
      }
      uint8_t* out_chunk = dst + c0;
      for (int64_t k = 0; k < n; ++k) {
        out_chunk[k] = static_cast<uint8_t>(codes[2 * k] | (codes[2 * k + 1] << 4));
      }
    }
    if (bad) any_bad = true;
  });
  if (any_bad.load()) {
    for (int64_t i = 0; i < values.numel(); ++i) {
      bool ok;
      e2m1_code(src[i], ok);
      SLIM_CHECK(ok, "tensor ", quote(name), ": element [", i / in, ", ", i % in, "] = ", src[i],
                 " is not an E2M1 value (0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6)");
    }
  }
  return out;
}

at::Tensor unpack_e2m1(const at::Tensor& packed) {
  SLIM_CHECK(packed.defined() && packed.scalar_type() == at::kByte && packed.dim() == 2,
             "packed E2M1 must be uint8 [out, in/2], found ", shape_text(packed));
  std::vector<float> table(16);
  for (int c = 0; c < 16; ++c)
    table[c] = (c & 8 ? -1.0f : 1.0f) * kE2M1Magnitudes[c & 7];
  const at::Tensor lut = at::tensor(table);
  const at::Tensor bytes = packed.to(at::kLong);
  const at::Tensor codes = at::stack({bytes.bitwise_and(0x0F), bytes.div(16, "floor")}, -1);
  return lut.index_select(0, codes.reshape({-1})).reshape({packed.size(0), packed.size(1) * 2});
}

// ------------------------------------------------------------------ deployed linears

namespace {

QParams weight_qparams(const std::string& tensor, const at::Tensor& weight, const QScheme& scheme,
                       Numerics numerics) {
  const MinMax mm = scheme.scope == QScope::PerGroup
                        ? weight_minmax_per_group(tensor, weight, scheme.group_size)
                        : weight_minmax_per_channel(tensor, weight);
  return calculate_qparam(tensor, mm.min, mm.max, scheme, numerics);
}

// Integer weights of fp32/bf16/fp16 in one pass; false for other dtypes (the ATen path).
// Numerics::Precise reads the weight as fp32 and rounds nothing (RoundNone).
bool quantize_weight_fused(const std::string& tensor, const at::Tensor& weight,
                           const QScheme& scheme, Numerics numerics, DeployedLinear& d) {
  const at::ScalarType t = weight.scalar_type();
  if (t != at::kFloat && t != at::kBFloat16 && t != at::kHalf) return false;
  const int64_t rows = weight.size(0);
  const int64_t cols = weight.size(1);
  int64_t group = cols;
  if (scheme.scope == QScope::PerGroup) {
    group = scheme.group_size;
    SLIM_CHECK(group > 0 && cols % group == 0, "weight ", quote(tensor), ": group size ", group,
               " does not divide the input dim ", cols, " (shape ", shape_text(weight), ")");
  }
  SLIM_CHECK(weight.numel() > 0, "weight ", quote(tensor), " is empty");
  const at::Tensor w = weight.contiguous();
  at::Tensor codes = at::empty({rows, cols}, at::kChar);
  at::Tensor scale = at::empty({rows, cols / group}, at::kFloat);
  at::Tensor offset = at::empty({rows, cols / group}, at::kFloat);
  bool finite = true;
  const auto run = [&](auto* data, auto rounding) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(data)>>;
    using R = decltype(rounding);
    finite = quantize_weight_groups<T, R>(data, rows, cols, group, scheme.dtype, scheme.symmetric,
                                          std::is_same_v<R, RoundNone>, codes.data_ptr<int8_t>(),
                                          scale.data_ptr<float>(), offset.data_ptr<float>());
  };
  if (numerics == Numerics::Precise) {
    if (t == at::kFloat) {
      run(w.data_ptr<float>(), RoundNone{});
    } else if (t == at::kBFloat16) {
      run(w.data_ptr<c10::BFloat16>(), RoundNone{});
    } else {
      run(w.data_ptr<c10::Half>(), RoundNone{});
    }
  } else if (t == at::kFloat) {
    run(w.data_ptr<float>(), RoundF32{});
  } else if (t == at::kBFloat16) {
    run(w.data_ptr<c10::BFloat16>(), RoundBF16{});
  } else {
    run(w.data_ptr<c10::Half>(), RoundF16{});
  }
  SLIM_CHECK(finite, "tensor ", quote(tensor), " contains NaN or Inf");
  d.weight_codes = std::move(codes);
  d.weight_scale = std::move(scale);
  d.weight_offset = std::move(offset);
  return true;
}

// FP8 per-channel weights of fp32/bf16/fp16 in one pass; false for other dtypes (the ATen path).
// Numerics::Precise: scales in fp32 for every dtype.
bool quantize_fp8_weight_fused(const std::string& tensor, const at::Tensor& weight,
                               Numerics numerics, DeployedLinear& d) {
  const at::ScalarType t = weight.scalar_type();
  if (t != at::kFloat && t != at::kBFloat16 && t != at::kHalf) return false;
  SLIM_CHECK(weight.numel() > 0, "weight ", quote(tensor), " is empty");
  const int64_t rows = weight.size(0);
  const int64_t cols = weight.size(1);
  const at::Tensor w = weight.contiguous();
  at::Tensor codes = at::empty({rows, cols}, at::kFloat);
  at::Tensor scale = at::empty({rows, 1}, at::kFloat);
  float* c = codes.data_ptr<float>();
  float* sc = scale.data_ptr<float>();
  bool finite = true;
  if (t == at::kFloat) {
    finite = quantize_fp8_rows<float, RoundF32>(w.data_ptr<float>(), rows, cols, 1e-12f, c, sc);
  } else if (t == at::kBFloat16 && numerics == Numerics::Precise) {
    finite = quantize_fp8_rows<c10::BFloat16, RoundF32>(w.data_ptr<c10::BFloat16>(), rows, cols,
                                                        1e-12f, c, sc);
  } else if (t == at::kBFloat16) {
    const float tiny = static_cast<float>(c10::BFloat16(1e-12f));
    finite = quantize_fp8_rows<c10::BFloat16, RoundBF16>(w.data_ptr<c10::BFloat16>(), rows, cols,
                                                         tiny, c, sc);
  } else {  // fp16: scales in fp32 (see calculate_qparam)
    finite =
        quantize_fp8_rows<c10::Half, RoundF32>(w.data_ptr<c10::Half>(), rows, cols, 1e-12f, c, sc);
  }
  SLIM_CHECK(finite, "tensor ", quote(tensor), " contains NaN or Inf");
  d.weight_codes = std::move(codes);
  d.weight_scale = std::move(scale);
  d.weight_offset = at::zeros({rows, 1}, at::kFloat);
  return true;
}

void check_weight(const std::string& tensor, const at::Tensor& weight) {
  check_floating(tensor, weight);
  SLIM_CHECK(weight.dim() == 2, "weight ", quote(tensor), " must be 2-D [out, in], found shape ",
             shape_text(weight));
  SLIM_CHECK(weight.device().is_cpu(), "weight ", quote(tensor), " must be on the CPU");
}

}  // namespace

DeployedLinear deploy_linear(const std::string& name, const at::Tensor& weight_in,
                             const std::optional<at::Tensor>& bias, const QScheme& act,
                             const QScheme& weight_scheme, const std::optional<QParams>& act_params,
                             at::ScalarType model_dtype, Numerics numerics) {
  const std::string tensor = name + ".weight";
  check_weight(tensor, weight_in);
  // Precise arithmetic is fp32: weights of other dtypes (fp64) are read as fp32.
  const at::ScalarType wt = weight_in.scalar_type();
  const at::Tensor weight =
      numerics == Numerics::Precise && wt != at::kFloat && wt != at::kBFloat16 && wt != at::kHalf
          ? weight_in.to(at::kFloat)
          : weight_in;
  const DeployedForm form{select_deployed_tag(act, weight_scheme), act, weight_scheme};
  const char* tag = tag_name(form.tag);

  at::Tensor input_scale;
  at::Tensor input_offset;
  if (deployed_form_spec(form.tag).activations == Activations::Static) {
    SLIM_CHECK(act_params.has_value(), "linear ", quote(name), " (", tag,
               "): static activations need calibrated activation parameters");
    SLIM_CHECK(act_params->scale.defined() && act_params->scale.numel() == 1 &&
                   act_params->offset.defined() && act_params->offset.numel() == 1,
               "linear ", quote(name), " (", tag,
               "): activation parameters must be per-tensor (one scale and one offset), found "
               "scale ",
               shape_text(act_params->scale), " and offset ", shape_text(act_params->offset));
    input_scale = act_params->scale;
    input_offset = act_params->offset;
  } else {
    SLIM_CHECK(!act_params.has_value(), "linear ", quote(name), " (", tag, "): activations are ",
               act.is_float() ? "not quantized" : "quantized dynamically",
               ", so no activation parameters are stored");
  }

  // The codes and scales of min/max statistics, then the record (validated: packing constraints
  // such as even dims, ranges).
  DeployedLinear d;
  switch (weight_scheme.dtype) {
    case QDtype::Float:
      check_finite(tensor, weight);
      d.weight_codes = weight;
      break;
    case QDtype::Int8:
    case QDtype::Int4:
      if (quantize_weight_fused(tensor, weight, weight_scheme, numerics, d)) break;
      [[fallthrough]];
    case QDtype::Fp8E4M3: {
      if (weight_scheme.dtype == QDtype::Fp8E4M3 &&
          quantize_fp8_weight_fused(tensor, weight, numerics, d)) {
        break;
      }
      const QParams params = weight_qparams(tensor, weight, weight_scheme, numerics);
      d.weight_codes = quantize_unchecked(tensor, weight, params);
      d.weight_scale = params.scale;
      d.weight_offset = params.offset;
      break;
    }
    case QDtype::MxFp8:
    case QDtype::MxFp4: {
      MxQuantized q = mx_quantize(tensor, weight, weight_scheme.dtype);
      d.weight_codes = std::move(q.values);
      d.weight_scale = std::move(q.exponents);
      break;
    }
  }
  return make_deployed_linear(name, form, d.weight_codes, d.weight_scale, d.weight_offset, bias,
                              input_scale, input_offset, model_dtype);
}

at::Tensor dequantize_weight(const DeployedLinear& linear, std::optional<at::ScalarType> dtype) {
  const at::ScalarType out = dtype.value_or(linear.model_dtype);
  SLIM_CHECK(linear.weight_codes.defined(), "linear ", quote(linear.name), ": no weight codes");
  switch (linear.weight.dtype) {
    case QDtype::Float:
      return linear.weight_codes.to(out);
    case QDtype::Int8:
    case QDtype::Int4: {
      at::Tensor scale = linear.weight_scale;
      at::Tensor offset = linear.weight_offset;
      if (linear.weight.scope == QScope::PerGroup) {
        const int64_t g = linear.weight.group_size;
        scale = scale.repeat_interleave(g, 1);
        offset = offset.repeat_interleave(g, 1);
      }
      // (q − offset)·scale in fp32: exact for bf16/fp16 scales (at most 9 × 11 significant bits),
      // so one rounding to `out` equals the product computed in that dtype. An fp64 result is
      // computed in fp64, exact for every fp32 scale.
      const at::ScalarType work = out == at::kDouble ? at::kDouble : at::kFloat;
      return linear.weight_codes.to(work).sub(offset.to(work)).mul(scale.to(work)).to(out);
    }
    case QDtype::Fp8E4M3: {
      const at::ScalarType work = out == at::kDouble ? at::kDouble : at::kFloat;
      return linear.weight_codes.to(work).mul(linear.weight_scale.to(work)).to(out);
    }
    case QDtype::MxFp8:
    case QDtype::MxFp4:
      return mx_dequantize(linear.weight_codes, linear.weight_scale, out);
  }
  SLIM_INTERNAL_ASSERT(false, "unknown QDtype");
}

at::Tensor fake_quantize_weight(const std::string& name, const at::Tensor& weight,
                                const QScheme& weight_scheme, Numerics numerics) {
  check_weight(name, weight);
  switch (weight_scheme.dtype) {
    case QDtype::Float:
      check_finite(name, weight);
      return weight;
    case QDtype::Int8:
    case QDtype::Int4:
    case QDtype::Fp8E4M3: {
      // Precise: fp32 codes of an fp32 view of the weight (fp64 weights included).
      const at::Tensor w = numerics == Numerics::Precise ? weight.to(at::kFloat) : weight;
      const QParams params = weight_qparams(name, w, weight_scheme, numerics);
      return dequantize(quantize_unchecked(name, w, params), params).to(weight.scalar_type());
    }
    case QDtype::MxFp8:
    case QDtype::MxFp4:
      return mx_fake_quantize(name, weight, weight_scheme.dtype);
  }
  SLIM_INTERNAL_ASSERT(false, "unknown QDtype");
}

const char* numerics_name(Numerics numerics) {
  return numerics == Numerics::Precise ? "precise" : "msmodelslim";
}

Numerics parse_numerics(const std::string& name) {
  if (name == "precise") return Numerics::Precise;
  if (name == "msmodelslim") return Numerics::MsModelSlim;
  SLIM_FAIL("numerics: expected precise or msmodelslim, found ", quote(name));
}

}  // namespace slim::quant
