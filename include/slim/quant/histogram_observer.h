// Histogram observer for static per-tensor activations (spec msmodelslim-v1.md §5.2, `method:
// histogram`): instead of the observed min/max, the clip range that minimizes the L2 error of a
// 256-level quantization of the observed distribution (the non-linear search of torch.ao's
// HistogramObserver).
//
// Differences from msModelSlim (docs/algorithms.md, "Histogram"):
//  - The histogram is exact: its bins are aligned on a power-of-two grid, and when a sample falls
//    outside the current range the bins move to the narrowest such grid that covers it, whose
//    bins are unions of the old ones, so every value stays counted in the bin that holds it
//    (torch upsamples and redistributes the old counts instead). At least half of the 2048 bins
//    span the data.
//  - The search runs once, on the histogram of all calibration data, and its range is kept
//    (msModelSlim searches after every update and shrinks the range to the extremes of the last
//    sample's values inside it: its result depends on which sample came last, and the shrink
//    raises the error of every clipped value, which the search had weighed at the wider range).
//  - The search moves the bound whose tail is sparser, as upstream torch does; the reference's
//    inverted branch (§13.16) is not reproduced.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "slim/quant/observer.h"

namespace slim::quant {

// A histogram of `counts.size()` equal bins over [lo, hi) (the last bin closed).
struct Histogram {
  double lo = 0;
  double hi = 0;
  std::vector<double> counts;
};

// The L2 error of quantizing the histogram's mass, taken as uniform within each bin, to `levels`
// equal steps spanning bins [start, end] (values outside clip to the first/last level).
double histogram_quantization_error(const Histogram& histogram, int64_t start, int64_t end,
                                    int64_t levels);

// The bins [start, end] the greedy search settles on: starting from the occupied bins, repeatedly
// cut a step of 1e-5 of the mass from the sparser tail while the error does not grow.
std::pair<int64_t, int64_t> histogram_search(const Histogram& histogram, int64_t levels);

class ActPerTensorHistogramObserver {
 public:
  static constexpr int64_t kBins = 2048;
  static constexpr int64_t kLevels = 256;  // int8

  explicit ActPerTensorHistogramObserver(std::string name) : name_(std::move(name)) {}

  // NaN or Inf in x is an error naming the observer (as for the min/max observers).
  void update(const at::Tensor& x);
  // The clip range as [1] tensors in the observed dtype. Reading before any update is an error.
  MinMax get() const;
  int64_t count() const { return count_; }
  const Histogram& histogram() const { return histogram_; }

 private:
  void grow_to(double min, double max);
  void add(const float* values, int64_t n);

  std::string name_;
  int64_t count_ = 0;
  double data_min_ = 0;  // the extremes of everything observed
  double data_max_ = 0;
  int exponent_ = 0;  // the bins: kBins of width 2^exponent_ from origin_ * 2^exponent_
  double origin_ = 0;
  at::ScalarType dtype_ = at::kFloat;
  Histogram histogram_;
};

// V0's range score of an activation: max|x| / std(x) (unbiased) over all the values of the first
// kSamples observed tensors, later ones ignored; how far its extremes stand out of the bulk. V0's
// act_method 3 takes the histogram's range where it is at most 50 and min/max's elsewhere.
class ActRangeScore {
 public:
  static constexpr int64_t kSamples = 5;

  void update(const at::Tensor& x);
  // 0 before any update or when every value was equal.
  double score() const;

 private:
  int64_t samples_ = 0;
  double count_ = 0;
  double sum_ = 0;
  double squares_ = 0;
  double absmax_ = 0;
};

}  // namespace slim::quant
