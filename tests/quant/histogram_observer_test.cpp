// Histogram observer (`method: histogram`): the L2 error against numerical integration, the
// search against torch's literal linear-scan loop, the exact merging of bins when the range
// grows, and the point of it all: on data with outliers, a clip range whose int8 fake
// quantization has lower error than min/max's.
#include "slim/quant/histogram_observer.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <random>

#include "slim/core/error.h"
#include "slim/quant/numerics.h"

namespace {

using slim::quant::ActPerTensorHistogramObserver;
using slim::quant::ActRangeScore;
using slim::quant::Histogram;
using slim::quant::histogram_quantization_error;
using slim::quant::histogram_search;

Histogram random_histogram(int64_t bins, uint32_t seed, double sparsity) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  Histogram h;
  h.lo = -1.5;
  h.hi = 2.25;
  h.counts.resize(bins);
  for (auto& c : h.counts)
    c = unit(rng) < sparsity ? 0 : std::floor(unit(rng) * 100);
  return h;
}

// Midpoint rule over each source bin, the mass uniform inside it, quantized to the nearest of
// `levels` level centres spanning bins [start, end] (clipped outside).
double integrated_error(const Histogram& h, int64_t start, int64_t end, int64_t levels) {
  const int64_t bins = static_cast<int64_t>(h.counts.size());
  const double width = (h.hi - h.lo) / bins;
  const double x0 = h.lo + start * width;
  const double step = width * (end - start + 1) / levels;
  constexpr int kPoints = 2000;
  double error = 0;
  for (int64_t i = 0; i < bins; ++i) {
    for (int k = 0; k < kPoints; ++k) {
      const double x = h.lo + (i + (k + 0.5) / kPoints) * width;
      const double level = std::clamp(std::floor((x - x0) / step), 0.0, double(levels - 1));
      const double q = x0 + (level + 0.5) * step;
      error += h.counts[i] / kPoints * (x - q) * (x - q);
    }
  }
  return error;
}

// torch.ao's HistogramObserver._non_linear_param_search, literally (linear scans), from the
// occupied bins (torch's histogram spans the observed [min, max]).
std::pair<int64_t, int64_t> literal_search(const Histogram& h, int64_t levels) {
  const int64_t bins = static_cast<int64_t>(h.counts.size());
  std::vector<double> cdf(bins);
  double total = 0;
  for (int64_t i = 0; i < bins; ++i)
    cdf[i] = total += h.counts[i];
  double alpha = 0, beta = 1;
  int64_t start = 0, end = bins - 1;
  while (h.counts[start] == 0)
    ++start;
  while (h.counts[end] == 0)
    --end;
  double best = histogram_quantization_error(h, start, end, levels);
  while (alpha < beta) {
    const double na = alpha + 1e-5, nb = beta - 1e-5;
    int64_t l = start, r = end;
    while (l < end && cdf[l] < na * total)
      ++l;
    while (r > start && cdf[r] > nb * total)
      --r;
    int64_t ns = start, ne = end;
    if (l - start > end - r) {
      ns = l;
      alpha = na;
    } else {
      ne = r;
      beta = nb;
    }
    if (ns == start && ne == end) continue;
    const double e = histogram_quantization_error(h, ns, ne, levels);
    if (e > best) break;
    best = e;
    start = ns;
    end = ne;
  }
  return {start, end};
}

TEST(HistogramObserver, ErrorEqualsNumericalIntegration) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    const Histogram h = random_histogram(64, seed, seed == 3 ? 0.8 : 0.2);
    // Whole range, inner ranges (clipping on both sides), one bin, and levels finer than bins.
    for (auto [s, e, levels] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {0, 63, 16}, {5, 40, 16}, {10, 10, 4}, {0, 7, 256}, {20, 63, 7}}) {
      const double exact = histogram_quantization_error(h, s, e, levels);
      const double numeric = integrated_error(h, s, e, levels);
      EXPECT_NEAR(exact, numeric, 1e-4 * numeric + 1e-9)
          << "seed " << seed << " bins [" << s << ", " << e << "] levels " << levels;
    }
  }
}

TEST(HistogramObserver, SearchEqualsTorchsLinearScans) {
  // Gaussian-like mass with a few far outliers, random sparse mass, and a two-point histogram.
  std::vector<Histogram> cases;
  Histogram gauss;
  gauss.lo = -40;
  gauss.hi = 60;
  gauss.counts.resize(2048);
  for (int64_t i = 0; i < 2048; ++i) {
    const double x = gauss.lo + (i + 0.5) * (gauss.hi - gauss.lo) / 2048;
    gauss.counts[i] = std::floor(1e5 * std::exp(-x * x / 2));
  }
  gauss.counts[2047] = 3;
  gauss.counts[0] = 1;
  cases.push_back(gauss);
  cases.push_back(random_histogram(2048, 7, 0.95));
  Histogram two = random_histogram(2048, 8, 1.0);
  two.counts[0] = two.counts[2047] = 10;
  cases.push_back(two);
  for (size_t c = 0; c < cases.size(); ++c) {
    EXPECT_EQ(histogram_search(cases[c], 256), literal_search(cases[c], 256)) << "case " << c;
  }
  // The Gaussian's clip range cuts the outliers.
  const auto [start, end] = histogram_search(gauss, 256);
  EXPECT_GT(start, 700);
  EXPECT_LT(end, 1300);
}

TEST(HistogramObserver, GrowingRangeKeepsEveryValueInItsBin) {
  at::manual_seed(3);
  ActPerTensorHistogramObserver observer("x");
  std::vector<at::Tensor> seen;
  // Each batch widens the range, upwards, downwards, or both.
  for (double scale : {1.0, 3.0, 0.5, 10.0, 2.0}) {
    at::Tensor x = at::randn({64, 48}) * scale + scale / 4;
    observer.update(x);
    seen.push_back(x.flatten());
  }
  const Histogram& h = observer.histogram();
  const at::Tensor all = at::cat(seen);
  EXPECT_LE(h.lo, all.min().item<double>());
  EXPECT_GE(h.hi, all.max().item<double>());
  // At least half of the bins span the data.
  const double width = (h.hi - h.lo) / h.counts.size();
  EXPECT_LE(h.hi - h.lo, 2 * (all.max().item<double>() - all.min().item<double>()) + 2 * width);
  EXPECT_EQ(std::exp2(std::round(std::log2(width))), width);  // a power of two
  std::vector<double> counts(h.counts.size(), 0.0);
  const auto values = all.accessor<float, 1>();
  for (int64_t k = 0; k < all.numel(); ++k) {
    const double position = (values[k] - h.lo) / (h.hi - h.lo) * h.counts.size();
    const int64_t bin = std::clamp<int64_t>(int64_t(std::floor(position)), 0, h.counts.size() - 1);
    counts[bin] += 1;
  }
  for (size_t i = 0; i < counts.size(); ++i)
    ASSERT_EQ(h.counts[i], counts[i]) << "bin " << i;
}

// The L2 search clips a tail only where it is thin: a value D beyond the bulk costs D² clipped
// against the step² / 12 that every one of the N values pays for the range it stretches, so a
// lone outlier is clipped once N exceeds about 12·128² (196,608) values per outlier.
TEST(HistogramObserver, ClipsThinTailsWithLowerInt8ErrorThanMinMax) {
  at::manual_seed(5);
  at::Tensor x = at::randn({2048, 512});  // 1M values
  x.index_put_({3, 7}, 50.0);
  x.index_put_({1500, 300}, -45.0);
  ActPerTensorHistogramObserver observer("layers.0.mlp.down_proj");
  observer.update(x.slice(0, 0, 1024));
  observer.update(x.slice(0, 1024));
  const slim::quant::MinMax clip = observer.get();
  const float lo = clip.min.item<float>(), hi = clip.max.item<float>();
  EXPECT_LT(hi, 10.0f);
  EXPECT_GT(lo, -10.0f);
  slim::quant::QScheme scheme;
  scheme.dtype = slim::quant::QDtype::Int8;
  scheme.scope = slim::quant::QScope::PerTensor;
  scheme.symmetric = false;
  const auto error = [&](const at::Tensor& min, const at::Tensor& max) {
    const auto params = slim::quant::calculate_qparam("x", min, max, scheme);
    return (slim::quant::fake_quantize("x", x, params) - x).pow(2).mean().item<double>();
  };
  const double histogram_error = error(clip.min, clip.max);
  const double minmax_error = error(x.min().reshape({1}), x.max().reshape({1}));
  EXPECT_LT(histogram_error * 2, minmax_error) << histogram_error << " vs " << minmax_error;
}

// V0's range score against a scalar loop over the first five tensors' values (the sixth ignored).
TEST(HistogramObserver, RangeScoreEqualsScalarReference) {
  at::manual_seed(9);
  ActRangeScore score;
  EXPECT_EQ(score.score(), 0.0);
  std::vector<float> values;
  for (int i = 0; i < 6; ++i) {
    at::Tensor x = at::randn({7 + i, 16}) * (i + 1) + 0.25 * i;
    if (i == 2) x.index_put_({3, 5}, -40.0);  // an extreme, in a scored tensor
    if (i == 5) x.index_put_({0, 0}, 1e4);    // not scored
    score.update(x);
    if (i < 5) {
      const auto a = x.contiguous();
      values.insert(values.end(), a.data_ptr<float>(), a.data_ptr<float>() + a.numel());
    }
  }
  double sum = 0, absmax = 0;
  for (float v : values) {
    sum += v;
    absmax = std::max(absmax, std::fabs(double(v)));
  }
  const double mean = sum / values.size();
  double squares = 0;
  for (float v : values)
    squares += (v - mean) * (v - mean);
  const double expected = absmax / std::sqrt(squares / (values.size() - 1));
  EXPECT_NEAR(score.score(), expected, 1e-9 * expected);
  EXPECT_GT(expected, 5.0);
  ActRangeScore constant;
  constant.update(at::full({4}, 3.0f));
  EXPECT_EQ(constant.score(), 0.0);
}

TEST(HistogramObserver, OneValueAndBadInput) {
  ActPerTensorHistogramObserver observer("q_proj.input");
  EXPECT_THROW(observer.get(), slim::Error);
  observer.update(at::full({4, 4}, 2.5f));
  EXPECT_EQ(observer.get().min.item<float>(), 2.5f);
  EXPECT_EQ(observer.get().max.item<float>(), 2.5f);
  // The point mass moves into the first real range.
  observer.update(at::tensor({0.0f, 5.0f}));
  const Histogram& h = observer.histogram();
  const auto bin = int64_t((2.5 - h.lo) / (h.hi - h.lo) * h.counts.size());
  EXPECT_EQ(h.counts[bin], 16.0);
  EXPECT_EQ(observer.get().max.item<float>(), 5.0f);  // no clipping of two values
  at::Tensor bad = at::zeros({3});
  bad[1] = NAN;
  try {
    observer.update(bad);
    FAIL() << "NaN accepted";
  } catch (const slim::Error& e) {
    EXPECT_NE(std::string(e.what()).find("q_proj.input"), std::string::npos) << e.what();
  }
  EXPECT_THROW(observer.update(at::zeros({2}, at::kDouble)), slim::Error);  // dtype changed
}

}  // namespace
