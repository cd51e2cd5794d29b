// Min/max observers (spec msmodelslim-v1.md §5.1): the statistics calculate_qparam turns into
// scales. Statistics keep the dtype of the observed tensor; NaN or Inf in an observed tensor is an
// error naming it. Each result's shape is the one numerics.h documents for its scope.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace slim::quant {

struct MinMax {
  at::Tensor min;
  at::Tensor max;
};

// ---------------------------------------------------------------- weights [O, I]

// Over the input dim of each output row: [O, 1].
MinMax weight_minmax_per_channel(const std::string& name, const at::Tensor& weight);
// Over contiguous groups of `group_size` along the input dim: [O, I / group_size]. A group size
// that does not divide I is an error naming the tensor, I and the group size.
MinMax weight_minmax_per_group(const std::string& name, const at::Tensor& weight,
                               int64_t group_size);
// Over the whole tensor: [1].
MinMax minmax_per_tensor(const std::string& name, const at::Tensor& x);

// ---------------------------------------------------------------- activations x [..., C]

// Dynamic, one per token (row of x.reshape(-1, C)): [..., 1] (x's leading shape kept).
MinMax act_minmax_per_token(const std::string& name, const at::Tensor& x);
// One per channel (column of x.reshape(-1, C)), recomputed on every call: [C].
MinMax act_minmax_per_channel(const std::string& name, const at::Tensor& x);
// One per head of x [B, H, S, D] (attention layout): [H, 1, 1].
MinMax act_minmax_per_head(const std::string& name, const at::Tensor& x);

// Running per-tensor statistics over calibration forwards (§5.1, `aggregation_type`):
//   Max:  the global min and max of everything observed;
//   Mean: the arithmetic mean of each forward's min and max, accumulated in fp64 and returned in
//         the observed dtype.
// Results are [1]. Reading before any update is an error naming the observer.
class ActPerTensorMinMaxObserver {
 public:
  enum class Aggregation { Max, Mean };

  explicit ActPerTensorMinMaxObserver(std::string name, Aggregation aggregation = Aggregation::Max)
      : name_(std::move(name)), aggregation_(aggregation) {}

  void update(const at::Tensor& x);
  MinMax get() const;
  void reset();
  int64_t count() const { return count_; }
  Aggregation aggregation() const { return aggregation_; }

 private:
  std::string name_;
  Aggregation aggregation_;
  int64_t count_ = 0;
  at::Tensor min_;  // fp64: running extremes (Max) or sums (Mean)
  at::Tensor max_;
  at::ScalarType dtype_ = at::kFloat;
};

// Parses the YAML spelling "max" / "mean", listing the valid values otherwise.
ActPerTensorMinMaxObserver::Aggregation parse_aggregation(const std::string& text);

}  // namespace slim::quant
