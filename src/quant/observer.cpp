// Min/max observers (spec msmodelslim-v1.md §5.1).
#include "slim/quant/observer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "slim/core/error.h"
#include "slim/core/text.h"

namespace slim::quant {
namespace {

void check_floating(const std::string& name, const at::Tensor& x) {
  SLIM_CHECK(x.defined(), "tensor ", quote(name), " is missing");
  SLIM_CHECK(at::isFloatingType(x.scalar_type()), "tensor ", quote(name),
             " must be floating point to be observed, found ", c10::toString(x.scalar_type()));
  SLIM_CHECK(x.numel() > 0, "tensor ", quote(name), " is empty (shape ", shape_text(x), ")");
}

// NaN propagates through amin/amax and Inf shows as an infinite extreme: checking the statistics
// catches every non-finite element without another pass over the tensor.
MinMax checked(const std::string& name, at::ScalarType dtype, at::Tensor min, at::Tensor max) {
  const bool finite = at::isfinite(min).all().item<bool>() && at::isfinite(max).all().item<bool>();
  SLIM_CHECK(finite, "tensor ", quote(name), " contains NaN or Inf");
  return {min.to(dtype), max.to(dtype)};
}

// libtorch 1.13 lacks fp16 min/max kernels on the CPU: fp16 is observed through fp32 (exact).
at::Tensor observable(const at::Tensor& x) {
  return x.scalar_type() == at::kHalf ? x.to(at::kFloat) : x;
}

void check_weight(const std::string& name, const at::Tensor& weight) {
  check_floating(name, weight);
  SLIM_CHECK(weight.dim() == 2, "weight ", quote(name), " must be 2-D [out, in], found shape ",
             shape_text(weight));
}

// One pass over contiguous rows of a weight: min and max of every group of `group` values,
// vectorized (the two ATen reductions read the tensor twice, and slowly for bf16). Values are
// compared as fp32 (exact for bf16/fp16) and returned in the weight's dtype.
float to_float(float v) {
  return v;
}
float to_float(c10::BFloat16 v) {
  const uint32_t u = static_cast<uint32_t>(v.x) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
float to_float(c10::Half v) {
  return static_cast<float>(v);
}

template <typename T>
bool grouped_minmax(const T* x, int64_t rows, int64_t cols, int64_t group, float* mins,
                    float* maxs) {
  const int64_t groups = cols / group;
  std::atomic<bool> finite{true};
  at::parallel_for(0, rows, std::max<int64_t>(1, 65536 / cols), [&](int64_t begin, int64_t end) {
    int bad = 0;
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        const T* src = x + r * cols + g * group;
        float mn = std::numeric_limits<float>::infinity();
        float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(min : mn) reduction(max : mx) reduction(| : bad)
        for (int64_t k = 0; k < group; ++k) {
          const float v = to_float(src[k]);
          bad |= static_cast<int>(!(std::fabs(v) <= 3.4028234663852886e38f));
          mn = std::min(mn, v);
          mx = std::max(mx, v);
        }
        mins[r * groups + g] = mn;
        maxs[r * groups + g] = mx;
      }
    }
    if (bad) finite = false;
  });
  return finite.load();
}

// [O, I / group] statistics of a 2-D weight.
MinMax weight_groups(const std::string& name, const at::Tensor& weight, int64_t group) {
  const at::Tensor w = weight.contiguous();
  const int64_t rows = w.size(0);
  const int64_t cols = w.size(1);
  at::Tensor mins = at::empty({rows, cols / group}, at::kFloat);
  at::Tensor maxs = at::empty({rows, cols / group}, at::kFloat);
  bool finite = true;
  switch (w.scalar_type()) {
    case at::kFloat:
      finite = grouped_minmax(w.data_ptr<float>(), rows, cols, group, mins.data_ptr<float>(),
                              maxs.data_ptr<float>());
      break;
    case at::kBFloat16:
      finite = grouped_minmax(w.data_ptr<c10::BFloat16>(), rows, cols, group,
                              mins.data_ptr<float>(), maxs.data_ptr<float>());
      break;
    case at::kHalf:
      finite = grouped_minmax(w.data_ptr<c10::Half>(), rows, cols, group, mins.data_ptr<float>(),
                              maxs.data_ptr<float>());
      break;
    default: {
      const at::Tensor grouped = w.reshape({rows, cols / group, group});
      return checked(name, w.scalar_type(), at::amin(grouped, {2}), at::amax(grouped, {2}));
    }
  }
  SLIM_CHECK(finite, "tensor ", quote(name), " contains NaN or Inf");
  return {mins.to(w.scalar_type()), maxs.to(w.scalar_type())};
}

}  // namespace

MinMax weight_minmax_per_channel(const std::string& name, const at::Tensor& weight) {
  check_weight(name, weight);
  return weight_groups(name, weight, weight.size(1));
}

MinMax weight_minmax_per_group(const std::string& name, const at::Tensor& weight,
                               int64_t group_size) {
  check_weight(name, weight);
  const int64_t in = weight.size(1);
  SLIM_CHECK(group_size > 0 && in % group_size == 0, "weight ", quote(name), ": group size ",
             group_size, " does not divide the input dim ", in, " (shape ", shape_text(weight),
             ")");
  return weight_groups(name, weight, group_size);
}

MinMax minmax_per_tensor(const std::string& name, const at::Tensor& x) {
  check_floating(name, x);
  const at::Tensor v = observable(x);
  return checked(name, x.scalar_type(), v.min().reshape({1}), v.max().reshape({1}));
}

MinMax act_minmax_per_token(const std::string& name, const at::Tensor& x) {
  check_floating(name, x);
  SLIM_CHECK(x.dim() >= 1, "activation ", quote(name), " must have a channel dim");
  const at::Tensor v = observable(x);
  return checked(name, x.scalar_type(), at::amin(v, {-1}, true), at::amax(v, {-1}, true));
}

MinMax act_minmax_per_channel(const std::string& name, const at::Tensor& x) {
  check_floating(name, x);
  SLIM_CHECK(x.dim() >= 1, "activation ", quote(name), " must have a channel dim");
  const at::Tensor rows = observable(x).reshape({-1, x.size(-1)});
  return checked(name, x.scalar_type(), at::amin(rows, {0}), at::amax(rows, {0}));
}

MinMax act_minmax_per_head(const std::string& name, const at::Tensor& x) {
  check_floating(name, x);
  SLIM_CHECK(x.dim() == 4, "activation ", quote(name),
             " must be [batch, heads, seq, head_dim] for per-head statistics, found shape ",
             shape_text(x));
  const at::Tensor v = observable(x);
  return checked(name, x.scalar_type(), at::amin(v, {0, 2, 3}).reshape({-1, 1, 1}),
                 at::amax(v, {0, 2, 3}).reshape({-1, 1, 1}));
}

void ActPerTensorMinMaxObserver::update(const at::Tensor& x) {
  const MinMax now = minmax_per_tensor(name_, x);
  if (count_ > 0) {
    SLIM_CHECK(x.scalar_type() == dtype_, "activation ", quote(name_), ": observed ",
               c10::toString(dtype_), " before, now ", c10::toString(x.scalar_type()));
  }
  // fp64 holds every observed value exactly: running extremes (Max) or sums (Mean).
  const at::Tensor mn = now.min.to(at::kDouble);
  const at::Tensor mx = now.max.to(at::kDouble);
  if (count_ == 0) {
    min_ = mn;
    max_ = mx;
  } else if (aggregation_ == Aggregation::Max) {
    min_ = at::minimum(min_, mn);
    max_ = at::maximum(max_, mx);
  } else {
    min_ = min_ + mn;
    max_ = max_ + mx;
  }
  dtype_ = x.scalar_type();
  ++count_;
}

MinMax ActPerTensorMinMaxObserver::get() const {
  SLIM_CHECK(count_ > 0, "activation observer ", quote(name_),
             " has seen no data (was the module never run during calibration?)");
  if (aggregation_ == Aggregation::Max) return {min_.to(dtype_), max_.to(dtype_)};
  const double n = static_cast<double>(count_);
  return {(min_ / n).to(dtype_), (max_ / n).to(dtype_)};
}

void ActPerTensorMinMaxObserver::reset() {
  count_ = 0;
  min_ = at::Tensor();
  max_ = at::Tensor();
}

ActPerTensorMinMaxObserver::Aggregation parse_aggregation(const std::string& text) {
  if (text == "max") return ActPerTensorMinMaxObserver::Aggregation::Max;
  if (text == "mean") return ActPerTensorMinMaxObserver::Aggregation::Mean;
  SLIM_FAIL("unknown aggregation_type ", quote(text), "; valid: max, mean");
}

}  // namespace slim::quant
