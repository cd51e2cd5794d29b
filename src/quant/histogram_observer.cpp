// Histogram observer (spec msmodelslim-v1.md §5.2); see the header for how it differs from
// msModelSlim's.
#include "slim/quant/histogram_observer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "slim/core/error.h"
#include "slim/core/text.h"

namespace slim::quant {
namespace {

// ∫ density·x² dx over [begin, end] (torch's _get_norm).
double squared_error(double begin, double end, double density) {
  return density * (end * end * end - begin * begin * begin) / 3.0;
}

int64_t bin_of(const Histogram& h, double x) {
  const int64_t bins = static_cast<int64_t>(h.counts.size());
  if (h.hi <= h.lo) return 0;
  // lo is a multiple of the bin width and the width a power of two: exact.
  const double position = (x - h.lo) / (h.hi - h.lo) * static_cast<double>(bins);
  return std::clamp<int64_t>(static_cast<int64_t>(std::floor(position)), 0, bins - 1);
}

// The bin of x on the grid of bins of width 2^exponent numbered from 0 at x = 0.
double grid_bin(double x, int exponent) {
  return std::floor(std::ldexp(x, -exponent));
}

}  // namespace

double histogram_quantization_error(const Histogram& histogram, int64_t start, int64_t end,
                                    int64_t levels) {
  const int64_t bins = static_cast<int64_t>(histogram.counts.size());
  SLIM_CHECK(0 <= start && start <= end && end < bins && levels > 0, "histogram search: bins [",
             start, ", ", end, "] out of [0, ", bins, ")");
  const double bin_width = (histogram.hi - histogram.lo) / static_cast<double>(bins);
  const double step =
      bin_width * static_cast<double>(end - start + 1) / static_cast<double>(levels);
  if (step <= 0) return 0;
  const double last = static_cast<double>(levels - 1);
  double error = 0;
  for (int64_t i = 0; i < bins; ++i) {
    const double count = histogram.counts[i];
    if (count == 0) continue;
    const double density = count / bin_width;
    // The source bin relative to the first level's lower edge, and the levels its ends fall in.
    const double begin = static_cast<double>(i - start) * bin_width;
    const double finish = begin + bin_width;
    const double first_level = std::clamp(std::floor(begin / step), 0.0, last);
    const double last_level = std::clamp(std::floor(finish / step), 0.0, last);
    const double first_center = (first_level + 0.5) * step;
    const double last_center = (last_level + 0.5) * step;
    // From `begin` to the end of its level, the whole levels between, and from the start of the
    // last level to `finish`; one level holding both ends counts the middle term −1 times.
    error += squared_error(begin - first_center, step / 2, density);
    error += (last_level - first_level - 1) * squared_error(-step / 2, step / 2, density);
    error += squared_error(-step / 2, finish - last_center, density);
  }
  return error;
}

std::pair<int64_t, int64_t> histogram_search(const Histogram& histogram, int64_t levels) {
  const int64_t bins = static_cast<int64_t>(histogram.counts.size());
  std::vector<double> cdf(histogram.counts.size());
  double total = 0;
  for (int64_t i = 0; i < bins; ++i)
    cdf[i] = total += histogram.counts[i];
  constexpr double kStep = 1e-5;
  double alpha = 0;
  double beta = 1;
  // From the occupied bins (torch's histogram spans [min, max], so its ends are occupied).
  int64_t start = 0;
  int64_t end = bins - 1;
  while (start < end && histogram.counts[start] == 0)
    ++start;
  while (end > start && histogram.counts[end] == 0)
    --end;
  double best = histogram_quantization_error(histogram, start, end, levels);
  while (alpha < beta) {
    const double next_alpha = alpha + kStep;
    const double next_beta = beta - kStep;
    // The first bin from `start` whose cumulative mass reaches next_alpha (at most `end`), and
    // the last bin down from `end` whose cumulative mass stays within next_beta (at least
    // `start`): torch's two linear scans, as binary searches over the monotone CDF.
    const auto from = cdf.begin() + start;
    const auto to = cdf.begin() + end;
    const int64_t left = std::lower_bound(from, to, next_alpha * total) - cdf.begin();
    const int64_t right =
        std::max(start, (std::upper_bound(from, to + 1, next_beta * total) - cdf.begin()) - 1);
    int64_t next_start = start;
    int64_t next_end = end;
    // Cut the tail that loses more bins for the same mass (the sparser one).
    if (left - start > end - right) {
      next_start = left;
      alpha = next_alpha;
    } else {
      next_end = right;
      beta = next_beta;
    }
    if (next_start == start && next_end == end) continue;
    const double error = histogram_quantization_error(histogram, next_start, next_end, levels);
    if (error > best) break;
    best = error;
    start = next_start;
    end = next_end;
  }
  return {start, end};
}

// The bins are the `kBins` consecutive bins, from `origin_`, of the grid of width 2^exponent_
// anchored at 0. Growing the range moves to the narrowest such grid (then the lowest origin) that
// covers every value seen: a coarser grid's bins are unions of whole bins of the finer one, so
// moving the counts there is exact; at least half the bins span the data.
void ActPerTensorHistogramObserver::grow_to(double min, double max) {
  Histogram& h = histogram_;
  const bool had_data = count_ > 0;
  const double old_point = data_min_;  // the one value seen, while the range has zero width
  const double data_min = had_data ? std::min(min, data_min_) : min;
  const double data_max = had_data ? std::max(max, data_max_) : max;
  if (had_data && data_min == data_min_ && data_max == data_max_) return;
  data_min_ = data_min;
  data_max_ = data_max;
  if (data_min == data_max) {  // one value so far: it sits in bin 0 of a zero-width range
    h.counts.resize(kBins, 0.0);
    h.lo = h.hi = data_min;
    return;
  }
  const bool had_grid = had_data && h.hi > h.lo;
  int exponent =
      had_grid ? exponent_ : static_cast<int>(std::floor(std::log2((data_max - data_min) / kBins)));
  const auto fits = [&](int e) { return grid_bin(data_max, e) - grid_bin(data_min, e) < kBins; };
  while (!fits(exponent))
    ++exponent;
  const double origin = grid_bin(data_min, exponent);
  Histogram grown;
  grown.counts.assign(kBins, 0.0);
  grown.lo = std::ldexp(origin, exponent);
  grown.hi = std::ldexp(origin + kBins, exponent);
  for (int64_t i = 0; i < kBins; ++i) {
    if (h.counts.empty() || h.counts[i] == 0) continue;
    // An old bin's values all fall in one new bin: the one holding its lower edge (or, for the
    // one value of a zero-width range, that value's).
    const double edge =
        had_grid ? std::ldexp(origin_ + static_cast<double>(i), exponent_) : old_point;
    grown.counts[static_cast<int64_t>(grid_bin(edge, exponent) - origin)] += h.counts[i];
  }
  h = std::move(grown);
  exponent_ = exponent;
  origin_ = origin;
}

void ActPerTensorHistogramObserver::add(const float* values, int64_t n) {
  // Each thread counts a slice into its own bins; the slices' counts are then summed.
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), n / 65536));
  std::vector<std::vector<double>> local(parts, std::vector<double>(kBins, 0.0));
  at::parallel_for(0, parts, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      for (int64_t k = n * p / parts; k < n * (p + 1) / parts; ++k)
        local[p][bin_of(histogram_, values[k])] += 1;
    }
  });
  for (const auto& counts : local) {
    for (int64_t i = 0; i < kBins; ++i)
      histogram_.counts[i] += counts[i];
  }
}

void ActPerTensorHistogramObserver::update(const at::Tensor& x) {
  const MinMax range = minmax_per_tensor(name_, x);  // checks for NaN / Inf
  if (count_ > 0) {
    SLIM_CHECK(x.scalar_type() == dtype_, "activation ", quote(name_), ": observed ",
               c10::toString(dtype_), " before, now ", c10::toString(x.scalar_type()));
  }
  grow_to(range.min.item<double>(), range.max.item<double>());
  const at::Tensor values = x.to(at::kFloat).contiguous();
  add(values.data_ptr<float>(), values.numel());
  dtype_ = x.scalar_type();
  ++count_;
}

MinMax ActPerTensorHistogramObserver::get() const {
  SLIM_CHECK(count_ > 0, "activation observer ", quote(name_),
             " has seen no data (was the module never run during calibration?)");
  const Histogram& h = histogram_;
  const auto scalar = [&](double v) { return at::full({1}, v, at::kDouble).to(dtype_); };
  if (h.hi <= h.lo) return {scalar(h.lo), scalar(h.hi)};  // one value seen
  const auto [start, end] = histogram_search(h, kLevels);
  // The edges of the chosen bins, within the observed extremes (the outer bins extend past them).
  const double width = (h.hi - h.lo) / static_cast<double>(kBins);
  const double min = std::max(data_min_, h.lo + width * static_cast<double>(start));
  const double max = std::min(data_max_, h.lo + width * static_cast<double>(end + 1));
  return {scalar(min), scalar(max)};
}

void ActRangeScore::update(const at::Tensor& x) {
  if (samples_ >= kSamples) return;
  const at::Tensor v = x.to(at::kDouble);
  sum_ += v.sum().item<double>();
  squares_ += v.pow(2).sum().item<double>();
  absmax_ = std::max(absmax_, v.abs().max().item<double>());
  count_ += static_cast<double>(v.numel());
  ++samples_;
}

double ActRangeScore::score() const {
  if (count_ < 2) return 0;
  const double mean = sum_ / count_;
  const double variance = (squares_ - count_ * mean * mean) / (count_ - 1);
  return variance > 0 ? absmax_ / std::sqrt(variance) : 0.0;
}

}  // namespace slim::quant
